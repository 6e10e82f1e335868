package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The `bansho run` tests share one way to start the built binary and to
// see that it started; each test adds what it does with the running
// sensor.

// sensorProc is a running `bansho run` with its stderr, its output file
// and (once known) its metrics address.
type sensorProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    string // output file
	mu     sync.Mutex
	stderr bytes.Buffer
	addr   string
}

// Write keeps the child's stderr; the test reads it while the child
// writes.
func (p *sensorProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *sensorProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// fileConfig is the configuration the run tests start from: the protected
// directory, the JSON-lines file output and stdout off; extra adds
// top-level sections. Unless extra has its own, the store is beside the
// output (out is <tempdir>/out/events.json), so a test never writes into
// the host's /var/lib/bansho/store and leaves nothing behind.
func fileConfig(prot, out, extra string) string {
	if !strings.Contains(extra, "store:") {
		extra += "store:\n  dir: " + filepath.Join(filepath.Dir(filepath.Dir(out)), "store") + "\n"
	}
	return "protect:\n  paths: [" + prot + "]\noutputs:\n  stdout: {enabled: false}\n  file: {path: " + out + "}\n" + extra
}

// launch starts `bansho run --config cfg` with env added to the test's
// environment; out is its output file. The test's cleanup kills it if it
// is still running.
func launch(t *testing.T, cfg, out string, env ...string) *sensorProc {
	t.Helper()
	p := &sensorProc{t: t, out: out}
	p.cmd = exec.Command(binary, "run", "--config", cfg)
	p.cmd.Stderr = p
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// startWait is how long a test waits for sensor-started: 20 s, or
// BANSHO_TEST_START_WAIT (the kernel matrix's emulated machines load the
// programs several times slower).
func startWait() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("BANSHO_TEST_START_WAIT")); err == nil && d > 0 {
		return d
	}
	return 20 * time.Second
}

// runSensor launches the sensor on cfg and waits up to startWait for the
// sensor-started document in out.
func runSensor(t *testing.T, cfg, out string) *sensorProc {
	t.Helper()
	p := launch(t, cfg, out)
	if waitDoc(t, out, startWait(), func(d map[string]any) bool { return field(d, "event.action") == "sensor-started" }) == nil {
		t.Fatalf("no sensor-started document; stderr:\n%s", p.log())
	}
	return p
}

// waitLog waits until stderr contains s, and reports whether it did
// within the time.
func (p *sensorProc) waitLog(s string, within time.Duration) bool {
	for deadline := time.Now().Add(within); !strings.Contains(p.log(), s); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// term sends SIGTERM and returns how the sensor exited.
func (p *sensorProc) term() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	return p.cmd.Wait()
}

// stop sends SIGTERM and fails the test unless the sensor exits 0.
func (p *sensorProc) stop() {
	p.t.Helper()
	if err := p.term(); err != nil {
		p.t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log())
	}
}

// mustRun runs a real program under the sensor and fails the test unless
// it exits 0.
func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if o, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, o)
	}
}
