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

	cells := []struct {
		cmd  string
		args []string
		code int
	}{
		{"bansho", []string{"nosuch"}, 2},
		{"bansho", []string{"--nosuch"}, 2},
		{"run", []string{"run", "--config", badCfg}, 1},
		{"run", []string{"run", "--nosuch"}, 2},
		{"probe", []string{"probe", "extra"}, 2},
		{"version", []string{"version"}, 0},
		{"version", []string{"version", "extra"}, 2},
		{"scan", []string{"scan", key, good}, 0},
		{"scan", []string{"scan", key, loop}, 0},
		{"scan", []string{"scan", key, filepath.Join(tmp, "nosuch")}, 2},
		{"scan", []string{"scan", "--nosuch", good}, 2},
		{"store verify", []string{"store", "verify", "--store", dir}, 0},
		{"store verify", []string{"store", "verify", "--store", damaged}, 1},
		{"store verify", []string{"store", "verify", "--nosuch"}, 2},
		{"store verify", []string{"store", "verify", "--store", nostore}, 2},
		{"store stat", []string{"store", "stat", "--store", dir}, 0},
		{"store stat", []string{"store", "stat", "--store", damaged}, 0},
		{"store stat", []string{"store", "stat", "--store", dir, "--format", "xml"}, 2},
		{"store dump", []string{"store", "dump", "--store", dir}, 0},
		{"store dump", []string{"store", "dump", "--store", damaged}, 3},
		{"store dump", []string{"store", "dump", "--store", damaged, "--allow-damaged"}, 0},
		{"store dump", []string{"store", "dump", "--store", dir, "--stream", "nosuch"}, 2},
		{"store", []string{"store", "nosuch"}, 2},
		{"timeline", []string{"timeline", "--store", dir}, 0},
		{"timeline", []string{"timeline", "--store", damaged}, 3},
		{"timeline", []string{"timeline", "--input", bad}, 3},
		{"timeline", []string{"timeline", "--input", bad, "--allow-damaged"}, 0},
		{"timeline", []string{"timeline", "--input", filepath.Join(tmp, "nosuch.json")}, 2},
		{"timeline", []string{"timeline", "--since", "yesterday"}, 2},
		{"rules check", []string{"rules", "check"}, 0},
		{"rules check", []string{"rules", "check", badRules}, 1},
		{"rules check", []string{"rules", "check", "--nosuch"}, 2},
		{"rules test", []string{"rules", "test"}, 2},
		{"rules fields", []string{"rules", "fields"}, 0},
		{"rules fields", []string{"rules", "fields", "extra"}, 2},
		{"replay", []string{"replay", "--input", good}, 0},
		{"replay", []string{"replay", "--store", damaged}, 3},
		{"replay", []string{"replay", "--input", bad}, 3},
		{"replay", []string{"replay", "--rules", evalRules, "--input", regexIn}, 1},
		{"replay", []string{"replay"}, 2},
		{"config check", []string{"config", "check", cfg}, 0},
		{"config check", []string{"config", "check", badCfg}, 1},
		{"config check", []string{"config", "check"}, 2},
	}
	for _, c := range cells {
		r := Run(t, 60*time.Second, nil, nil, c.args...)
		args := strings.Join(c.args, " ")
		for _, p := range []string{tmp, dir, damaged} {
			args = strings.ReplaceAll(args, p, filepath.Base(p))
		}
		Case(t, "exit codes", fmt.Sprintf("%s: bansho %s", c.cmd, args), fmt.Sprintf("exit %d", c.code),
			fmt.Sprintf("exit %d: %s", r.Code, lastLine(r.Stderr)), !r.TimedOut && r.Code == c.code)
	}
}
