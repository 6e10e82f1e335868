package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/testutil"
)

// The raw test vector: valid check digit, never to appear in any output.
const testMyNumber = "123456789018"

// Real programs trigger the default rules in the real sensor: a copy out,
// an upload with My Numbers, a forbidden tool, a shell from a "web
// server", and a read outside business hours (the clock is moved to a
// Tuesday night in Tokyo).
func TestDefaultRulesFireOnRealPrograms(t *testing.T) {
	testutil.RequireBPF(t)
	prot, outside, bin := t.TempDir(), t.TempDir(), t.TempDir()
	os.Chmod(bin, 0o755)
	roster := filepath.Join(prot, "roster.csv")
	var csv strings.Builder
	csv.WriteString("氏名,個人番号\n社員0," + testMyNumber + "\n")
	for i, n := range myNumbers(20) {
		fmt.Fprintf(&csv, "社員%d,%s\n", i+1, n)
	}
	if err := os.WriteFile(roster, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	// Programs under the names the rules know: a tunnelling tool, a web
	// server (python under the name nginx).
	for name, target := range map[string]string{"ngrok": "/usr/bin/true", "nginx": "/usr/bin/python3"} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}

	// The "web server" runs before the sensor starts (as servers do) and
	// starts a shell when told to.
	server := exec.Command(filepath.Join(bin, "nginx"), "-c",
		`import subprocess, sys; sys.stdin.readline(); subprocess.run(["/bin/sh", "-c", "true"], check=True)`)
	serverIn, err := server.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer server.Process.Kill()

	out := filepath.Join(t.TempDir(), "events.json")
	storeDir := filepath.Join(t.TempDir(), "store")
	cfg := writeConfig(t, fileConfig(prot, out, fmt.Sprintf(`store:
  dir: %s
content:
  hash_key: 0123456789abcdef0123456789abcdef
rules:
  clock: "2026-12-01T23:30:00+09:00"
  lists:
    - name: allowed_destination_networks
      items: []
`, storeDir)))
	p := runSensor(t, cfg, out)

	mustRun(t, "/bin/cp", roster, filepath.Join(outside, "copy.csv"))
	mustRun(t, "/usr/bin/curl", "-s", "--data-binary", "@"+roster, srv.URL+"/upload")
	mustRun(t, filepath.Join(bin, "ngrok"))
	serverIn.Write([]byte("go\n"))
	if err := server.Wait(); err != nil {
		t.Fatalf("server: %v", err)
	}
	mustRun(t, "/bin/cat", roster)

	want := map[string]func(d map[string]any) bool{
		"Protected Data Copied Outside Protected Directories": func(d map[string]any) bool {
			return field(d, "process.name") == "cp" && field(d, "file.path") == filepath.Join(outside, "copy.csv")
		},
		"My Numbers Sent to Unapproved Destination": func(d map[string]any) bool {
			return field(d, "process.name") == "curl" && field(d, "bansho.content.my_number.distinct") == float64(21)
		},
		"Protected Data Read Then Outbound Connection": func(d map[string]any) bool {
			return field(d, "process.name") == "curl" && field(d, "event.action") == "connect"
		},
		"Forbidden Software Started": func(d map[string]any) bool { return field(d, "process.name") == "ngrok" },
		"Shell or Interpreter Started by a Server": func(d map[string]any) bool {
			return field(d, "process.name") == "sh" && field(d, "process.parent.pid") == float64(server.Process.Pid)
		},
		"Protected Data Accessed Outside Business Hours": func(d map[string]any) bool {
			return field(d, "process.name") == "cat" && field(d, "file.path") == roster
		},
		"Protected Data Read by Unexpected Program": func(d map[string]any) bool { return field(d, "process.name") == "cat" },
	}
	for rule, match := range want {
		a := waitDoc(t, out, 5*time.Second, func(d map[string]any) bool {
			return field(d, "event.kind") == "alert" && field(d, "rule.name") == rule && match(d)
		})
		if a == nil {
			t.Errorf("no alert %q", rule)
			// For reading a failure: the sensor's log and the documents of
			// the server's part of the tree (the rule that needs the most).
			t.Logf("server pid %d; sensor log:\n%s", server.Process.Pid, p.log())
			for _, d := range docs(t, out) {
				if field(d, "process.name") == "sh" || field(d, "process.pid") == float64(server.Process.Pid) ||
					field(d, "process.parent.pid") == float64(server.Process.Pid) {
					j, _ := json.Marshal(map[string]any{"event": d["event"], "process": d["process"], "bansho": d["bansho"]})
					t.Logf("%s", j)
				}
			}
			continue
		}
		evs, _ := field(a, "bansho.alert.events").([]any)
		if len(evs) == 0 || field(a, "rule.category") == nil || field(a, "event.severity") == nil || field(a, "message") == nil {
			t.Errorf("alert %q: %v", rule, a)
		}
	}
	p.stop()
	b, _ := os.ReadFile(out)
	if bytes.Contains(b, []byte(testMyNumber)) || strings.Contains(p.log(), testMyNumber) {
		t.Errorf("the raw test number is in the output")
	}

	// The same events replayed from the store make the same alerts, except
	// those that need the moved clock or what only the live sensor knew:
	// the server started before the sensor, so no document names the
	// shell's parent (with the enrichment stage, process.parent.name is in
	// every document and replay sees it too).
	rp := exec.Command(binary, "replay", "--store", storeDir, "--config", cfg)
	var rpOut, rpErr bytes.Buffer
	rp.Stdout, rp.Stderr = &rpOut, &rpErr
	if err := rp.Run(); err != nil {
		t.Fatalf("replay --store: %v\n%s", err, rpErr.String())
	}
	replayed := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(rpOut.String()), "\n") {
		var d map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("replay output %q: %v", l, err)
		}
		replayed[fmt.Sprint(field(d, "rule.name"))]++
	}
	for _, r := range []string{"Protected Data Copied Outside Protected Directories", "My Numbers Sent to Unapproved Destination",
		"Protected Data Read Then Outbound Connection", "Forbidden Software Started"} {
		if replayed[r] == 0 {
			t.Errorf("replay --store: no %q (got %v)\n%s", r, replayed, rpErr.String())
		}
	}
	if bytes.Contains(rpOut.Bytes(), []byte(testMyNumber)) {
		t.Error("the raw test number is in the replay output")
	}
	for _, d := range docs(t, out) {
		if field(d, "event.kind") == "alert" {
			t.Logf("alert: %v / %v", field(d, "rule.name"), field(d, "message"))
		}
	}
}

// A bad rule file on reload keeps the running rules and writes a
// rules-reload-failed document naming the file and line; a fixed one is
// taken. Reload by SIGHUP and by the file change.
func TestRulesReloadInTheSensor(t *testing.T) {
	testutil.RequireBPF(t)
	prot, rulesDir := t.TempDir(), t.TempDir()
	local := filepath.Join(rulesDir, "local.yaml")
	// The files define a list the configuration sets (rules.lists).
	const list = "- list: report_readers\n  items: []\n"
	rule := func(name string) string {
		return list + fmt.Sprintf("- rule: %s\n  desc: d.\n  condition: event.action == \"open\" and bansho.file.protected\n  output: read %%file.path\n  priority: notice\n", name)
	}
	if err := os.WriteFile(local, []byte(rule("First")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "events.json")
	cfg := writeConfig(t, fileConfig(prot, out, fmt.Sprintf("store:\n  dir: %s\ncontent:\n  sample_bytes: 0\nrules:\n  dir: %s\n  lists:\n  - {name: report_readers, items: [/opt/report]}\n", filepath.Join(t.TempDir(), "store"), rulesDir)))
	p := runSensor(t, cfg, out)
	f := filepath.Join(prot, "a.csv")
	touch := func() { exec.Command("/usr/bin/touch", f).Run() }
	alertBy := func(name string) bool {
		return waitDoc(t, out, 5*time.Second, func(d map[string]any) bool { return field(d, "rule.name") == name }) != nil
	}
	touch()
	if !alertBy("First") {
		t.Fatal("no alert from the first rule set")
	}

	bad := strings.Replace(rule("Second"), "bansho.file.protected", "bansho.file.protectd", 1)
	if err := os.WriteFile(local, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	failed := waitDoc(t, out, 5*time.Second, func(d map[string]any) bool { return field(d, "event.action") == "rules-reload-failed" })
	if failed == nil {
		t.Fatalf("no rules-reload-failed document:\n%s", p.log())
	}
	if msg, _ := field(failed, "message").(string); !strings.Contains(msg, "local.yaml:5:") {
		t.Errorf("reload failure message %q does not name local.yaml:5", msg)
	}
	// The running rules stay.
	os.Remove(f)
	touch()
	time.Sleep(500 * time.Millisecond)
	n := 0
	for _, d := range docs(t, out) {
		if field(d, "rule.name") == "First" {
			n++
		}
	}
	if n < 2 {
		t.Errorf("after the bad reload, %d alerts from the running rule, want 2", n)
	}

	// Fixed, without a file event: SIGHUP.
	w, _ := os.OpenFile(local, os.O_WRONLY|os.O_TRUNC, 0)
	w.WriteString(rule("Second"))
	w.Close()
	p.cmd.Process.Signal(syscall.SIGHUP)
	if waitDoc(t, out, 5*time.Second, func(d map[string]any) bool { return field(d, "event.action") == "rules-reloaded" }) == nil {
		t.Fatalf("no rules-reloaded document:\n%s", p.log())
	}
	touch()
	if !alertBy("Second") {
		t.Error("no alert from the reloaded rules")
	}

	// Files that compile but no longer define the configured list: a
	// misspelt or dropped allowlist would allow nothing, so the reload is
	// refused as start-up would refuse it.
	if err := os.WriteFile(local, []byte(strings.TrimPrefix(rule("Third"), list)), 0o644); err != nil {
		t.Fatal(err)
	}
	refused := waitDoc(t, out, 5*time.Second, func(d map[string]any) bool {
		msg, _ := field(d, "message").(string)
		return field(d, "event.action") == "rules-reload-failed" && strings.Contains(msg, "rules.lists[0].name")
	})
	if refused == nil {
		t.Fatalf("no rules-reload-failed document naming rules.lists[0].name:\n%s", p.log())
	}
	os.Remove(f)
	touch()
	time.Sleep(500 * time.Millisecond)
	for _, d := range docs(t, out) {
		if field(d, "rule.name") == "Third" {
			t.Fatal("the refused rules were swapped in")
		}
	}
	p.stop()
}

func TestRulesCheckTestAndReplay(t *testing.T) {
	// check: the built-in pack and the repository's are good.
	for _, args := range [][]string{{"rules", "check"}, {"rules", "check", "../../rules"}, {"rules", "test", "../../rules"}} {
		if o, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
			t.Errorf("%v: %v\n%s", args, err, o)
		}
	}
	// check: every error, with its position, and exit 1.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("- rule: X\n  desc: d.\n  condition: event.action == \"open\" and process.exe == \"a\"\n  output: o %file.pth\n  priority: notice\n"), 0o644)
	o, err := exec.Command(binary, "rules", "check", dir).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("rules check of a bad file: %v", err)
	}
	for _, w := range []string{"bad.yaml:3:41: unknown field \"process.exe\"", "bad.yaml:4:13: output: unknown field \"file.pth\""} {
		if !strings.Contains(string(o), w) {
			t.Errorf("rules check output lacks %q:\n%s", w, o)
		}
	}

	// replay: recorded documents in, the alerts out, bad lines named.
	in := filepath.Join(dir, "recorded.json")
	lines := []string{
		`{"@timestamp":"2026-12-01T01:00:00Z","event":{"id":"e1","kind":"event","category":["process"],"action":"exec"},"process":{"entity_id":"n1","name":"ngrok","executable":"/tmp/ngrok"},"host":{"name":"h"}}`,
		`not json`,
		`{"@timestamp":"2026-12-01T01:00:01Z","event":{"id":"e2","kind":"event","category":["file"],"action":"rename","outcome":"success"},"process":{"entity_id":"m1","name":"mv"},"file":{"path":"/srv/mynumber/a.csv","target_path":"/tmp/` + testMyNumber + `.csv"},"bansho":{"file":{"protected":true}},"host":{"name":"h"}}`,
		`{"@timestamp":"2026-12-02T01:00:00Z","event":{"id":"e3","kind":"event","category":["process"],"action":"exec"},"process":{"entity_id":"n2","name":"ngrok"},"host":{"name":"h"}}`,
	}
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	c := exec.Command(binary, "replay", "--input", in, "--until", "2026-12-02T00:00:00Z")
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err = c.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("replay with a bad line: %v, want exit 3 (incomplete)", err)
	}
	if !strings.Contains(stderr.String(), "recorded.json:2: not a JSON document") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	var rules []string
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var d map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("replay output %q: %v", l, err)
		}
		rules = append(rules, fmt.Sprint(field(d, "rule.name")))
		if field(d, "event.kind") != "alert" {
			t.Errorf("not an alert: %s", l)
		}
	}
	if strings.Join(rules, "|") != "Forbidden Software Started|Protected Data Copied Outside Protected Directories" {
		t.Errorf("replay alerts %q", rules)
	}
	if strings.Contains(stdout.String(), testMyNumber) {
		t.Errorf("raw My Number in the replay output")
	}
	if o, err := exec.Command(binary, "replay", "--input", in, "--store", dir).CombinedOutput(); err == nil || !strings.Contains(string(o), "one of --store DIR and --input FILE") {
		t.Errorf("--store and --input: %v %s", err, o)
	}
	if o, err := exec.Command(binary, "replay", "--store", filepath.Join(dir, "none")).CombinedOutput(); err == nil || !strings.Contains(string(o), "none") {
		t.Errorf("--store of a missing directory: %v %s", err, o)
	}
}

// A quiet server's routine work makes no alert, at night too: a backup
// by the configured backup program (tar) of the protected directory to
// another disk, and a log rotation inside it (a shell under the name
// logrotate, running the real mv and gzip, as logrotate's scripts do).
// A person's cat afterwards does alert: the rules are running.
func TestRoutineWorkMakesNoAlert(t *testing.T) {
	testutil.RequireBPF(t)
	prot, backup, bin := t.TempDir(), t.TempDir(), t.TempDir()
	os.Chmod(bin, 0o755)
	for i := 0; i < 20; i++ {
		os.WriteFile(filepath.Join(prot, fmt.Sprintf("person-%d.csv", i)), []byte("氏名,個人番号\n"+testMyNumber+"\n"), 0o600)
	}
	os.WriteFile(filepath.Join(prot, "app.log"), []byte("started\n"), 0o600)
	if err := os.Symlink("/bin/sh", filepath.Join(bin, "logrotate")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "events.json")
	cfg := writeConfig(t, fileConfig(prot, out, fmt.Sprintf(`store:
  dir: %s
content:
  hash_key: 0123456789abcdef0123456789abcdef
rules:
  clock: "2026-12-02T03:00:00+09:00"
  lists:
    - name: backup_programs
      items: [/usr/bin/tar]
`, filepath.Join(t.TempDir(), "store"))))
	p := runSensor(t, cfg, out)
	mustRun(t, "/usr/bin/tar", "-cf", filepath.Join(backup, "mynumber.tar"), "-C", prot, ".")
	mustRun(t, filepath.Join(bin, "logrotate"), "-c", fmt.Sprintf("mv %[1]s/app.log %[1]s/app.log.1 && gzip %[1]s/app.log.1 && rm -f %[1]s/app.log.1.gz", prot))
	// The routine work is recorded...
	if waitDoc(t, out, 5*time.Second, func(d map[string]any) bool {
		return field(d, "process.name") == "gzip" && field(d, "event.action") == "unlink"
	}) == nil {
		t.Fatal("the log rotation was not recorded")
	}
	if waitDoc(t, out, 5*time.Second, func(d map[string]any) bool {
		return field(d, "process.name") == "tar" && field(d, "event.action") == "write"
	}) == nil {
		t.Fatal("the backup's write was not recorded")
	}
	// ... and made no alert; a person's read does.
	mustRun(t, "/bin/cat", filepath.Join(prot, "person-1.csv"))
	if waitDoc(t, out, 5*time.Second, func(d map[string]any) bool {
		return field(d, "event.kind") == "alert" && field(d, "process.name") == "cat"
	}) == nil {
		t.Fatal("no alert for cat: are the rules running?")
	}
	// Only this test's files and programs: other tests on the machine run
	// programs too.
	mine := func(d map[string]any) bool {
		p, _ := field(d, "file.path").(string)
		q, _ := field(d, "file.target_path").(string)
		c, _ := field(d, "process.command_line").(string)
		for _, s := range []string{p, q, c} {
			if strings.Contains(s, prot) || strings.Contains(s, backup) {
				return true
			}
		}
		return false
	}
	for _, d := range docs(t, out) {
		if field(d, "event.kind") == "alert" && field(d, "process.name") != "cat" && mine(d) {
			t.Errorf("routine work alerted: %v: %v", field(d, "rule.name"), field(d, "message"))
		}
	}
	p.term()
}
