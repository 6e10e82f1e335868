package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The exit code table of docs/faults.md, one case per cell that needs no
// kernel (run 0 and probe 0/1 load the programs: the cmd tests).
func TestExitCodeTable(t *testing.T) {
	dir, segs := faultStore(t, 2000)
	damaged := filepath.Join(t.TempDir(), "damaged")
	os.MkdirAll(filepath.Join(damaged, "events"), 0o700)
	for _, p := range segs {
		if p == segs[1] {
			continue // a segment removed: records missing
		}
		for _, ext := range []string{".seg", ".idx", ".bloom"} {
			if b, err := os.ReadFile(strings.TrimSuffix(p, ".seg") + ext); err == nil {
				os.WriteFile(filepath.Join(damaged, "events", filepath.Base(strings.TrimSuffix(p, ".seg")+ext)), b, 0o600)
			}
		}
	}
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.json")
	os.WriteFile(good, []byte(goodDoc+"\n"), 0o600)
	bad := filepath.Join(tmp, "bad.json")
	os.WriteFile(bad, []byte(goodDoc+"\nnot json\n"), 0o600)
	loop := filepath.Join(tmp, "loop")
	os.Symlink(loop, loop)
	badRules := filepath.Join(tmp, "badrules")
	os.Mkdir(badRules, 0o700)
	os.WriteFile(filepath.Join(badRules, "a.yaml"), []byte("- rule: X\n  desc: d.\n  condition: process.exe == \"a\"\n  output: o\n  priority: notice\n"), 0o600)
	evalRules := filepath.Join(tmp, "evalrules")
	os.Mkdir(evalRules, 0o700)
	os.WriteFile(filepath.Join(evalRules, "a.yaml"), []byte("- rule: Name As Pattern\n  desc: d.\n  condition: process.executable matches process.name\n  output: o\n  priority: notice\n"), 0o600)
	regexIn := filepath.Join(tmp, "regex.json")
	os.WriteFile(regexIn, []byte(`{"@timestamp":"2026-11-22T00:00:00Z","event":{"kind":"event","action":"exec","category":["process"]},"process":{"executable":"/bin/sh","pid":3,"name":"(["}}`+"\n"), 0o600)
	cfg := filepath.Join(tmp, "ok.yaml")
	os.WriteFile(cfg, []byte("protect:\n  paths: [/tmp]\n"), 0o600)
	badCfg := filepath.Join(tmp, "bad.yaml")
	os.WriteFile(badCfg, []byte("protect:\n  paths: [/tmp]\nsensor:\n  pol_interval: 1s\n"), 0o600)
	key := "--hash-key=" + strings.Repeat("cd", 16)
	nostore := filepath.Join(tmp, "nostore")

	// stderr must contain the last field (empty: anything): what is wrong
	// is named.
	cells := []struct {
		cmd    string
		args   []string
		code   int
		stderr string
	}{
		{"bansho", []string{"nosuch"}, 2, "unknown command"},
		{"bansho", []string{"--nosuch"}, 2, "unknown flag"},
		{"run", []string{"run", "--nosuch"}, 2, "unknown flag"},
		{"run", []string{"run", "extra"}, 2, ""},
		{"run", []string{"run", "--config", badCfg}, 1, "pol_interval"},
		{"probe", []string{"probe", "extra"}, 2, ""},
		{"version", []string{"version"}, 0, ""},
		{"version", []string{"version", "extra"}, 2, ""},
		{"scan", []string{"scan", key, good}, 0, ""},
		{"scan", []string{"scan", key}, 2, ""},
		{"scan", []string{"scan", key, filepath.Join(tmp, "nosuch")}, 2, "nosuch"},
		{"scan", []string{"scan", key, loop}, 0, "too many levels of symbolic links"},
		{"scan", []string{"scan", "--nosuch", good}, 2, "unknown flag"},
		{"store", []string{"store", "nosuch"}, 2, "nosuch"},
		{"store verify", []string{"store", "verify", "--store", dir}, 0, ""},
		{"store verify", []string{"store", "verify", "--nosuch"}, 2, "unknown flag"},
		{"store verify", []string{"store", "verify", "--store", nostore}, 2, "nostore"},
		{"store verify", []string{"store", "verify", "--store", tmp}, 2, "holds no store"},
		{"store verify", []string{"store", "verify", "extra"}, 2, ""},
		{"store stat", []string{"store", "stat", "--store", dir}, 0, ""},
		{"store stat", []string{"store", "stat", "--store", nostore}, 2, "nostore"},
		{"store stat", []string{"store", "stat", "--store", dir, "--format", "xml"}, 2, "--format"},
		{"store dump", []string{"store", "dump", "--store", dir}, 0, ""},
		{"store dump", []string{"store", "dump", "--store", nostore}, 2, "nostore"},
		{"store dump", []string{"store", "dump", "--store", dir, "--stream", "nosuch"}, 2, "nosuch"},
		{"timeline", []string{"timeline", "--store", dir, "--pid", "10"}, 0, ""},
		{"timeline", []string{"timeline", "--input", good, "--pid", "10"}, 0, ""},
		{"timeline", []string{"timeline", "--input", bad}, 3, "bad.json:2"},
		{"timeline", []string{"timeline", "--input", bad, "--allow-damaged"}, 0, "bad.json:2"},
		{"timeline", []string{"timeline", "--input", tmp}, 2, "is a directory"},
		{"timeline", []string{"timeline", "--input", filepath.Join(tmp, "nosuch.json")}, 2, "nosuch.json"},
		{"timeline", []string{"timeline", "--store", nostore}, 2, "nostore"},
		{"timeline", []string{"timeline", "--pid", "x"}, 2, "--pid"},
		{"rules check", []string{"rules", "check"}, 0, ""},
		{"rules check", []string{"rules", "check", badRules}, 1, "process.exe"},
		{"rules check", []string{"rules", "check", "--nosuch"}, 2, "unknown flag"},
		{"rules test", []string{"rules", "test"}, 2, ""},
		{"rules fields", []string{"rules", "fields", "extra"}, 2, ""},
		{"rules", []string{"rules", "nosuch"}, 2, "nosuch"},
		{"replay", []string{"replay", "--input", good}, 0, ""},
		{"replay", []string{"replay", "--store", dir}, 0, ""},
		{"replay", []string{"replay", "--input", bad}, 3, "bad.json:2"},
		{"replay", []string{"replay", "--input", bad, "--allow-damaged"}, 0, "bad.json:2"},
		{"replay", []string{"replay", "--rules", evalRules, "--input", regexIn}, 1, "Name As Pattern"},
		{"replay", []string{"replay"}, 2, ""},
		{"replay", []string{"replay", "--input", filepath.Join(tmp, "nosuch.json")}, 2, "nosuch.json"},
		{"replay", []string{"replay", "--store", nostore}, 2, "nostore"},
		{"config check", []string{"config", "check", cfg}, 0, ""},
		{"config check", []string{"config", "check", badCfg}, 1, "pol_interval"},
		{"config check", []string{"config", "check"}, 2, ""},
		{"config", []string{"config", "nosuch"}, 2, "nosuch"},
		{"incident", []string{"incident", "--input", good, "--format", "json", "--out", filepath.Join(tmp, "incident.json")}, 0, ""},
		{"incident", []string{"incident", "--input", good, "--format", "pdf"}, 2, "--format"},
		{"incident", []string{"incident", "--store", dir, "--input", good}, 2, "not both"},
		{"incident", []string{"incident", "--input", filepath.Join(tmp, "nosuch.json")}, 2, "nosuch.json"},
		{"incident", []string{"incident", "--store", nostore}, 2, "nostore"},
		{"incident affected", []string{"incident", "affected"}, 2, "--roster"},
		{"store verify", []string{"store", "verify", "--store", damaged}, 1, "problems found"},
		{"store stat", []string{"store", "stat", "--store", damaged}, 0, ""},
		{"store dump", []string{"store", "dump", "--store", damaged}, 3, "missing"},
		{"store dump", []string{"store", "dump", "--store", damaged, "--allow-damaged"}, 0, "missing"},
		{"timeline", []string{"timeline", "--store", damaged}, 3, ""},
		{"timeline", []string{"timeline", "--since", "yesterday"}, 2, "--since"},
		{"rules fields", []string{"rules", "fields"}, 0, ""},
		{"replay", []string{"replay", "--store", damaged}, 3, ""},
	}
	for _, c := range cells {
		r := Run(t, 60*time.Second, nil, nil, c.args...)
		args := strings.Join(c.args, " ")
		for _, p := range []string{tmp, dir, damaged} {
			args = strings.ReplaceAll(args, p, filepath.Base(p))
		}
		expect := fmt.Sprintf("exit %d", c.code)
		if c.stderr != "" {
			expect += fmt.Sprintf(", stderr names %q", filepath.Base(c.stderr))
		}
		Case(t, "exit codes", fmt.Sprintf("%s: bansho %s", c.cmd, args), expect,
			fmt.Sprintf("exit %d: %s", r.Code, lastLine(r.Stderr)), !r.TimedOut && r.Code == c.code && strings.Contains(r.Stderr, c.stderr))
	}
}
