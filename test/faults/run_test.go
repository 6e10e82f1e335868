package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/testutil"
)

// sensor is a running `bansho run` whose documents go to stdout.
type sensor struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	docs []map[string]any
	errb bytes.Buffer
	done chan struct{}
}

// startRun starts `bansho run` on cfg (YAML) with stdout on and waits for
// sensor-started; a run that exits first is returned with done closed.
func startRun(t *testing.T, cfg string) *sensor {
	t.Helper()
	testutil.RequireBPF(t)
	p := testutil.WriteConfig(t, cfg)
	s := &sensor{t: t, done: make(chan struct{})}
	s.cmd = exec.Command(bansho, "run", "--config", p)
	s.cmd.Env = childEnv()
	s.cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.errb}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var d map[string]any
			if json.Unmarshal(sc.Bytes(), &d) == nil {
				s.mu.Lock()
				s.docs = append(s.docs, d)
				s.mu.Unlock()
			}
		}
		s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	s.wait("sensor-started", 60*time.Second, func(d map[string]any) bool {
		return testutil.Field(d, "event.action") == "sensor-started"
	})
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (s *sensor) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errb.String()
}

// wait returns the first document pred accepts, or nil when none came
// within d or the run ended.
func (s *sensor) wait(what string, d time.Duration, pred func(map[string]any) bool) map[string]any {
	deadline := time.Now().Add(d)
	for {
		s.mu.Lock()
		for _, doc := range s.docs {
			if pred(doc) {
				s.mu.Unlock()
				return doc
			}
		}
		s.mu.Unlock()
		select {
		case <-s.done:
			return nil
		default:
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the exit status.
func (s *sensor) stop() int {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	return s.cmd.ProcessState.ExitCode()
}

func health(d map[string]any) bool { return testutil.Field(d, "event.action") == "sensor-health" }

func degradedOf(d map[string]any) []string {
	var out []string
	if l, ok := testutil.Field(d, "bansho.health.degraded").([]any); ok {
		for _, v := range l {
			out = append(out, fmt.Sprint(v))
		}
	}
	return out
}

// runConfig is a sensor configuration: a protected directory, documents to
// stdout only, the store in storeDir, health every second, no metrics
// endpoint; outputs is added under outputs:, extra at the top level.
func runConfig(t *testing.T, storeDir, outputs, extra string) string {
	prot := t.TempDir()
	return fmt.Sprintf("protect:\n  paths: [%s]\noutputs:\n  stdout: {enabled: true}\n  file: {path: \"\"}\n%s"+
		"store:\n  dir: %s\nhealth:\n  interval: 1s\nmetrics:\n  listen: \"\"\ncontent:\n  hash_key: %s\n%s",
		prot, outputs, storeDir, strings.Repeat("ab", 16), extra)
}

// A damaged exporter cursor: the sensor starts, sets the cursor aside,
// counts and reports it, and the exporter starts over (from the oldest
// record).
func TestRunDamagedCursor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	cfg := runConfig(t, dir, "  kafka:\n    enabled: true\n    brokers: [\"127.0.0.1:1\"]\n", "")
	s := startRun(t, cfg)
	s.stop()
	cur := filepath.Join(dir, "cursors", "kafka.json")
	os.MkdirAll(filepath.Dir(cur), 0o700)
	if err := os.WriteFile(cur, []byte(`{"next":{"events":10`), 0o600); err != nil {
		t.Fatal(err)
	}
	v := Run(t, 30*time.Second, nil, nil, "store", "verify", "--store", dir)
	Case(t, "store", "verify: damaged exporter cursor", "exit 1, names the cursor file",
		fmt.Sprintf("exit %d: %s", v.Code, v.Output()), v.Code == 1 && strings.Contains(v.Output(), "kafka.json"))

	st := Run(t, 30*time.Second, nil, nil, "store", "stat", "--store", dir)
	Case(t, "store", "stat: damaged exporter cursor", "exit 0, lists it under DAMAGED CURSORS",
		fmt.Sprintf("exit %d: %s", st.Code, lastLines(st.Stdout, "kafka.json", 1)),
		st.Code == 0 && strings.Contains(st.Stdout, "DAMAGED CURSORS") && strings.Contains(st.Stdout, "kafka.json"))

	s = startRun(t, cfg)
	h := s.wait("health", 20*time.Second, func(d map[string]any) bool {
		return health(d) && testutil.Field(d, "bansho.health.counters.store_cursors_damaged") == 1.0
	})
	moved, _ := filepath.Glob(filepath.Join(dir, "cursors", "damaged", "kafka.json.*"))
	code := s.stop()
	Case(t, "store", "run: damaged exporter cursor at start",
		"starts, cursor kept in cursors/damaged/, store_cursors_damaged 1, exporter runs",
		fmt.Sprintf("health counted: %v, set aside: %d, exit %d; %s", h != nil, len(moved), code, lastLines(s.stderr(), "cursor", 1)),
		h != nil && len(moved) == 1 && code == 0 && strings.Contains(s.stderr(), `msg="exporter started" exporter=kafka`))
	st = Run(t, 30*time.Second, nil, nil, "store", "stat", "--store", dir)
	Case(t, "store", "stat: cursor set aside by a start", "exit 0, lists the file kept in cursors/damaged/",
		fmt.Sprintf("exit %d: %s", st.Code, lastLines(st.Stdout, "set aside", 1)),
		st.Code == 0 && strings.Contains(st.Stdout, "set aside: "+filepath.Join(dir, "cursors", "damaged")))
}

// A file system filled by another process while the sensor was down: it
// starts anyway and leaves no temporary index file.
func TestRunFullDiskAtStart(t *testing.T) {
	testutil.RequireBPF(t)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "bansho-faults", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	dir := filepath.Join(mnt, "store")
	cfg := runConfig(t, dir, "", "")
	s := startRun(t, cfg)
	s.wait("health", 10*time.Second, health)
	s.cmd.Process.Kill() // a crash: the next start rebuilds the newest index
	<-s.done
	f, _ := os.Create(filepath.Join(mnt, "filler"))
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()

	s = startRun(t, cfg)
	h := s.wait("health", 20*time.Second, health)
	tmps, _ := filepath.Glob(filepath.Join(dir, "*", "*.tmp"))
	code := s.stop()
	Case(t, "store", "run: file system full at start", "starts, health documents flow, no .tmp left",
		fmt.Sprintf("health: %v, tmp files: %d, exit %d", h != nil, len(tmps), code), h != nil && len(tmps) == 0 && code == 0)
}

// The store's file system fills up while the sensor runs: the sensor
// goes on, the refusals are counted in the health documents, and the
// store takes documents again once there is room.
func TestRunDiskFullWhileRunning(t *testing.T) {
	testutil.RequireBPF(t)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "bansho-faults", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	dir := filepath.Join(mnt, "store")
	// A 4 MiB file system is below any sensible store.min_free_bytes, which
	// would refuse routine documents for good: only the disk's own limit
	// counts here.
	cfg := strings.Replace(runConfig(t, dir, "", ""), "  dir: "+dir+"\n", "  dir: "+dir+"\n  min_free_bytes: 0\n", 1)
	s := startRun(t, cfg)
	s.wait("health", 10*time.Second, health)
	filler := filepath.Join(mnt, "filler")
	f, _ := os.Create(filler)
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	// Routine documents keep coming (a health document a second and the
	// events of this test); some must be refused, and counted.
	refused := s.wait("refusals counted", 30*time.Second, func(d map[string]any) bool {
		v, _ := testutil.Field(d, "bansho.health.counters.store_refused_full").(float64)
		return health(d) && v > 0
	})
	os.Remove(filler)
	exec.Command("sync").Run()
	var before float64
	if refused != nil {
		before, _ = testutil.Field(refused, "bansho.health.counters.store_written").(float64)
	}
	resumed := s.wait("writes resume", 30*time.Second, func(d map[string]any) bool {
		v, _ := testutil.Field(d, "bansho.health.counters.store_written").(float64)
		return health(d) && refused != nil && v > before
	})
	code := s.stop()
	Case(t, "store", "run: file system fills while running", "keeps running, refusals counted, writes resume with room, exit 0",
		fmt.Sprintf("refusals counted: %v, resumed: %v, exit %d", refused != nil, resumed != nil, code),
		refused != nil && resumed != nil && code == 0)
}

// Parts that fail at start degrade the sensor instead of stopping it: it
// runs, and says what it runs without.
func TestRunDegradedParts(t *testing.T) {
	testutil.RequireBPF(t)
	blocker := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(blocker, nil, 0o600)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		name, part, extra string
		store             string
	}{
		{"output file cannot be opened", "output_file", "", ""},
		{"store directory cannot be created", "store", "", filepath.Join(blocker, "store")},
		{"metrics address in use", "metrics", "", ""},
	} {
		t.Run(c.part, func(t *testing.T) {
			storeDir := c.store
			if storeDir == "" {
				storeDir = filepath.Join(t.TempDir(), "store")
			}
			cfg := runConfig(t, storeDir, "", "")
			switch c.part {
			case "output_file":
				// A directory where the file should be: the
				// configuration is sound, the file cannot be opened.
				out := filepath.Join(t.TempDir(), "events.json")
				os.Mkdir(out, 0o700)
				cfg = strings.Replace(cfg, `file: {path: ""}`, "file: {path: "+out+"}", 1)
			case "metrics":
				cfg = strings.Replace(cfg, "listen: \"\"", "listen: "+busy.Addr().String(), 1)
			}
			s := startRun(t, cfg)
			h := s.wait("health", 20*time.Second, health)
			var started map[string]any
			if d := s.wait("started", time.Second, func(d map[string]any) bool {
				return testutil.Field(d, "event.action") == "sensor-started"
			}); d != nil {
				started = d
			}
			why, _ := testutil.Field(started, "bansho.state.details.degraded_"+c.part).(string)
			code := s.stop()
			deg := degradedOf(h)
			Case(t, "run", "degrades: "+c.name, "runs, health lists "+c.part+", sensor-started says why, exit 0",
				fmt.Sprintf("degraded %v, why %q, exit %d", deg, why, code),
				h != nil && len(deg) == 1 && deg[0] == c.part && why != "" && code == 0)
		})
	}
}

// What must stop start-up does, with one line naming the key: here an
// exporter setting only the exporter would meet (its CA file).
func TestRunStopsOnBadConfig(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-ca.pem")
	cfg := runConfig(t, filepath.Join(t.TempDir(), "store"),
		"  kafka:\n    enabled: true\n    brokers: [\"127.0.0.1:1\"]\n    tls: {enabled: true, ca_file: "+missing+"}\n", "")
	r := Run(t, 60*time.Second, nil, nil, "run", "--config", testutil.WriteConfig(t, cfg))
	Case(t, "run", "stops: unreadable outputs.kafka.tls.ca_file", "exit 1 before loading, one line naming the key",
		fmt.Sprintf("exit %d: %s", r.Code, r.Stderr), r.Code == 1 && strings.Contains(r.Stderr, "outputs.kafka.tls.ca_file") &&
			!strings.Contains(r.Stderr, "kernel object loaded"))
}

func lastLines(s, containing string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, containing) {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, " / ")
}
