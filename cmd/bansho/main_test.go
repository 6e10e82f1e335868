package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/testutil"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bansho-bin")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755) // TestNotRootIsRefused runs it as nobody
	binary = filepath.Join(dir, "bansho")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeConfig writes a configuration file for the test.
var writeConfig = testutil.WriteConfig

// docs reads every complete document of a JSON-lines file; each must be
// valid. A last line without its newline is still being written (the
// output flushes whole buffers, which may end mid-line): it is left for the
// next read.
func docs(t *testing.T, p string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("invalid JSON line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s after %d documents: %v", p, len(out), err) // a line past 1 MiB: a document that big is a bug
	}
	return out
}

// field is the value at a dotted path of a document.
var field = testutil.Field

// waitDoc polls the JSON-lines file p until a document matches pred, and
// returns it, or nil after within.
func waitDoc(t *testing.T, p string, within time.Duration, pred func(map[string]any) bool) map[string]any {
	t.Helper()
	return waitIn(func() []map[string]any { return docs(t, p) }, within, pred)
}

// waitIn polls read every 25ms until a document matches pred.
func waitIn(read func() []map[string]any, within time.Duration, pred func(map[string]any) bool) map[string]any {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		for _, d := range read() {
			if pred(d) {
				return d
			}
		}
	}
	return nil
}

// The promise: run with a config, touch a protected file, see the
// ECS event in the output file within a second.
func TestRunTouchSeeEventWithinASecond(t *testing.T) {
	testutil.RequireBPF(t)
	prot := t.TempDir()
	out := filepath.Join(t.TempDir(), "out", "events.json")
	storeDir := filepath.Join(t.TempDir(), "store")
	p := runSensor(t, writeConfig(t, fileConfig(prot, out, "health:\n  interval: 1s\nstore:\n  dir: "+storeDir+"\n")), out)

	roster := filepath.Join(prot, "roster.csv")
	touched := time.Now()
	touch := exec.Command("/usr/bin/touch", roster)
	if err := touch.Run(); err != nil {
		t.Fatal(err)
	}
	ev := waitDoc(t, out, time.Second, func(d map[string]any) bool {
		return field(d, "event.action") == "open" && field(d, "file.path") == roster
	})
	if ev == nil {
		t.Fatalf("no open event for %s within a second of touching it", roster)
	}
	t.Logf("event in the file %v after the touch", time.Since(touched).Round(time.Millisecond))
	if got := field(ev, "process.pid"); got != float64(touch.Process.Pid) {
		t.Errorf("process.pid %v, want touch's %d", got, touch.Process.Pid)
	}
	if field(ev, "process.name") != "touch" || field(ev, "bansho.file.protected") != true ||
		field(ev, "event.category").([]any)[0] != "file" || field(ev, "host.id") == nil {
		t.Errorf("document: %v", ev)
	}

	// SIGTERM: drained, a final health and a stopped document, exit 0.
	p.stop()
	all := docs(t, out)
	last := all[len(all)-1]
	if field(last, "event.action") != "sensor-stopped" {
		t.Errorf("last document %v, want sensor-stopped", field(last, "event.action"))
	}
	health := all[len(all)-2]
	if field(health, "event.action") != "sensor-health" || field(health, "bansho.health.drops.total") != float64(0) {
		t.Errorf("final health document: %v", health)
	}
	st, _ := os.Stat(out)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("output mode %o, want 600", st.Mode().Perm())
	}
	// Alerts go to the store's alert stream, everything else to its event stream.
	routine, alerts := 0, 0
	for _, d := range all {
		if field(d, "event.kind") == "alert" {
			alerts++
		} else {
			routine++
		}
	}
	checkRecordedStore(t, storeDir, roster, touch.Process.Pid, routine, alerts) // store_test.go
}

func TestBadConfigurationStopsWithOneMessage(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"unknown key":  {"protect:\n  paths: [/tmp]\nsensor:\n  pol_interval: 1s\n", ":4: sensor.pol_interval: unknown key (did you mean sensor.poll_interval?)"},
		"missing path": {"protect:\n  paths: [/nonexistent/mynumber]\n", ":2: protect.paths[0]: /nonexistent/mynumber: no such file or directory"},
		"bad value":    {"protect:\n  paths: [/tmp]\nsensor:\n  ring_buffer_bytes: 1000\n", ":4: sensor.ring_buffer_bytes: 1000 is not a power of two"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := writeConfig(t, c.body)
			out, err := exec.Command(binary, "run", "--config", cfg).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1; output:\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "bansho: "+cfg) || !strings.Contains(lines[0], c.want) {
				t.Errorf("output %q\nwant one line naming %s and containing %q", out, cfg, c.want)
			}
		})
	}
	out, _ := exec.Command(binary, "run", "--config", "/nonexistent.yaml").CombinedOutput()
	if !strings.Contains(string(out), "/nonexistent.yaml: cannot read configuration") {
		t.Errorf("missing config file: %s", out)
	}
}

func TestNotRootIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to another user")
	}
	dir, err := os.MkdirTemp("", "bansho-cfg")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	cfg := filepath.Join(dir, "bansho.yaml")
	if err := os.WriteFile(cfg, []byte("protect:\n  paths: [/tmp]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "run", "--config", cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "must run as root") {
		t.Errorf("as nobody: %v\n%s", err, out)
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "bansho ") {
		t.Errorf("version: %q %v", out, err)
	}
}

// probe loads the programs on the kernel that runs the test and reports
// the object and the features; the JSON and the table agree.
func TestProbe(t *testing.T) {
	testutil.RequireBPF(t)
	out, err := exec.Command(binary, "probe", "--json").Output()
	if err != nil {
		t.Fatalf("probe --json: %v", err)
	}
	var rep struct {
		Kernel   string `json:"kernel"`
		Object   string `json:"object"`
		Programs int    `json:"programs"`
		Features []struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
			Reason  string `json:"reason"`
		} `json:"features"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("probe --json: %v\n%s", err, out)
	}
	if rep.Object != "default" && rep.Object != "portable" || rep.Programs < 10 || len(rep.Features) == 0 {
		t.Fatalf("probe report: %+v", rep)
	}
	for _, f := range rep.Features {
		if !f.Enabled && f.Reason == "" {
			t.Errorf("feature %s off without a reason", f.Name)
		}
	}
	table, err := exec.Command(binary, "probe").Output()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if !strings.Contains(string(table), "object  "+rep.Object) || !strings.Contains(string(table), rep.Features[0].Name) {
		t.Errorf("probe table does not match its JSON:\n%s", table)
	}
}
