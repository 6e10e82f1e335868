// Package backends starts the exporter test back ends (kfake, VictoriaLogs)
// for Go tests through the project's own scripts, up.sh and down.sh, each
// test binary with its own state directory and free loopback ports, so
// packages tested in parallel never share a broker and `go test` needs no
// manual step. The binaries are built once into the shared cache
// ($BANSHO_CACHE, default ~/.cache/bansho).
package backends

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Env is a running set of back ends.
type Env struct {
	Dir     string // state directory (pid files, logs, data)
	Kafka   string // seed broker, host:port ("" when not started)
	ES      string // Elasticsearch client base URL
	ESQuery string // LogsQL query URL
	env     []string
}

func scriptDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// FreePort is a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs up.sh for the named back ends ("kafka", "es") in a new state
// directory on free ports and waits until they serve.
func Start(names ...string) (*Env, error) { return StartWith(nil, names...) }

// StartWith is Start with extra environment for the scripts, for example
// BANSHO_ES_MAX_LINE=262144 (lib.sh lists the settings).
func StartWith(extraEnv []string, names ...string) (*Env, error) {
	dir, err := os.MkdirTemp("", "bansho-backends-")
	if err != nil {
		return nil, err
	}
	kp, err := FreePort()
	if err != nil {
		return nil, err
	}
	ep, err := FreePort()
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: dir, env: append(os.Environ(),
		"BANSHO_BACKENDS_DIR="+dir,
		"BANSHO_KAFKA_PORT="+strconv.Itoa(kp),
		"BANSHO_ES_PORT="+strconv.Itoa(ep),
		"BANSHO_READY_TIMEOUT=120")}
	e.env = append(e.env, extraEnv...)
	if err := e.Up(names...); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Env) script(name string, args ...string) error {
	cmd := exec.Command("bash", append([]string{filepath.Join(scriptDir(), name)}, args...)...)
	cmd.Env = e.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("backends: %s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// Up starts back ends (again): a broker stopped with Down comes back with
// its data.
func (e *Env) Up(names ...string) error {
	// Test binaries of several packages start at once under go test ./...;
	// the first builds kfake and VictoriaLogs into the shared cache, the
	// others wait instead of building the same files at the same time.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "bansho-backends-build.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	start := time.Now()
	if err := e.script("up.sh", names...); err != nil {
		return err
	}
	if d := time.Since(start); d > 10*time.Second {
		fmt.Fprintf(os.Stderr, "backends: up.sh %s took %s (first build)\n", strings.Join(names, " "), d.Round(time.Second))
	}
	return e.readEnv()
}

// Down runs down.sh with these arguments ("kafka", "--kill", ...).
func (e *Env) Down(args ...string) error { return e.script("down.sh", args...) }

func (e *Env) readEnv() error {
	f, err := os.Open(filepath.Join(e.Dir, "env"))
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if !ok {
			continue
		}
		switch k {
		case "BANSHO_TEST_KAFKA":
			e.Kafka = v
		case "BANSHO_TEST_ES":
			e.ES = v
		case "BANSHO_TEST_ES_QUERY":
			e.ESQuery = v
		}
	}
	return sc.Err()
}

// Close stops everything and removes the state directory.
func (e *Env) Close() {
	_ = e.Down()
	os.RemoveAll(e.Dir)
}

// Kfake starts one more kfake broker from the binary up.sh built, with
// extra flags (for example -sasl PLAIN:user:pass), on a random loopback
// port, and returns its address and a function that stops it. Start (or
// up.sh) must have run first, so the binary exists.
func Kfake(args ...string) (string, func(), error) {
	cache := os.Getenv("BANSHO_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", nil, err
		}
		cache = filepath.Join(home, ".cache", "bansho")
	}
	cmd := exec.Command(filepath.Join(cache, "kfake", "kfake"), append([]string{"-port", "0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "kfake ready brokers=") {
		stop()
		return "", nil, fmt.Errorf("backends: kfake %s did not start: %q %v %s", strings.Join(args, " "), line, err, stderr.String())
	}
	addr, _, _ := strings.Cut(strings.TrimPrefix(line, "kfake ready brokers="), " ")
	addr, _, _ = strings.Cut(addr, ",")
	return addr, stop, nil
}

// Main is a TestMain for the packages whose tests need back ends: it starts
// names (unless -short), sets *env for the tests, runs them, stops the back
// ends and exits with the tests' status. A back end that does not start
// fails the whole binary.
func Main(m *testing.M, env **Env, names ...string) {
	flag.Parse()
	if !testing.Short() {
		e, err := Start(names...)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		*env = e
	}
	code := m.Run()
	if *env != nil {
		(*env).Close()
	}
	os.Exit(code)
}
