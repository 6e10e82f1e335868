package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/store"
)

// exitCase is one cell of the exit code table of docs/faults.md.
type exitCase struct {
	name string
	args []string
	code int
	// stderr must contain this (empty: anything).
	stderr string
}

// exitStore writes a small sound store for the exit code cases.
func exitStore(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	s, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write([][]byte{[]byte(`{"@timestamp":"2026-11-22T00:00:00Z","event":{"kind":"event","action":"exec","category":["process"]},"process":{"entity_id":"p1","pid":10,"name":"sh"}}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Every command's exit codes, as docs/faults.md lists them: 0 done, 1
// failed or found a problem, 2 usage (and a named store or input that does
// not exist), 3 incomplete (records or lines skipped). The cells that need
// the kernel (run 0, probe 0/1) are TestProbe and the run tests.
func TestExitCodes(t *testing.T) {
	dir := exitStore(t)
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.json")
	os.WriteFile(good, []byte(`{"@timestamp":"2026-11-22T00:00:00Z","event":{"kind":"event","action":"exec","category":["process"]},"process":{"entity_id":"p1","pid":10,"name":"sh"}}`+"\n"), 0o600)
	bad := filepath.Join(tmp, "bad.json")
	os.WriteFile(bad, []byte("{\"@timestamp\":\"2026-11-22T00:00:00Z\"}\nnot json\n"), 0o600)
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
	cfg := writeConfig(t, "protect:\n  paths: [/tmp]\n")
	badCfg := writeConfig(t, "protect:\n  paths: [/tmp]\nsensor:\n  pol_interval: 1s\n")
	key := "--hash-key=" + strings.Repeat("ab", 16)

	cases := []exitCase{
		{"bansho unknown command", []string{"nosuch"}, 2, "unknown command"},
		{"bansho unknown flag", []string{"--nosuch"}, 2, "unknown flag"},
		{"run unknown flag", []string{"run", "--nosuch"}, 2, "unknown flag"},
		{"run argument", []string{"run", "extra"}, 2, ""},
		{"run bad configuration", []string{"run", "--config", badCfg}, 1, "pol_interval"},
		{"probe argument", []string{"probe", "extra"}, 2, ""},
		{"version", []string{"version"}, 0, ""},
		{"version argument", []string{"version", "extra"}, 2, ""},
		{"scan", []string{"scan", key, good}, 0, ""},
		{"scan no paths", []string{"scan", key}, 2, ""},
		{"scan missing path", []string{"scan", key, filepath.Join(tmp, "nosuch")}, 2, "nosuch"},
		{"scan symlink loop", []string{"scan", key, loop}, 0, "too many levels of symbolic links"},
		{"scan unknown flag", []string{"scan", "--nosuch", good}, 2, "unknown flag"},
		{"store unknown subcommand", []string{"store", "nosuch"}, 2, "nosuch"},
		{"store verify", []string{"store", "verify", "--store", dir}, 0, ""},
		{"store verify unknown flag", []string{"store", "verify", "--nosuch"}, 2, "unknown flag"},
		{"store verify missing dir", []string{"store", "verify", "--store", filepath.Join(tmp, "nostore")}, 2, "nostore"},
		{"store verify not a store", []string{"store", "verify", "--store", tmp}, 2, "holds no store"},
		{"store verify argument", []string{"store", "verify", "extra"}, 2, ""},
		{"store stat", []string{"store", "stat", "--store", dir}, 0, ""},
		{"store stat missing dir", []string{"store", "stat", "--store", filepath.Join(tmp, "nostore")}, 2, "nostore"},
		{"store stat bad format", []string{"store", "stat", "--store", dir, "--format", "xml"}, 2, "--format"},
		{"store dump", []string{"store", "dump", "--store", dir}, 0, ""},
		{"store dump missing dir", []string{"store", "dump", "--store", filepath.Join(tmp, "nostore")}, 2, "nostore"},
		{"store dump bad stream", []string{"store", "dump", "--store", dir, "--stream", "nosuch"}, 2, "nosuch"},
		{"timeline", []string{"timeline", "--store", dir, "--pid", "10"}, 0, ""},
		{"timeline input", []string{"timeline", "--input", good, "--pid", "10"}, 0, ""},
		{"timeline bad line", []string{"timeline", "--input", bad}, 3, "bad.json:2"},
		{"timeline bad line allowed", []string{"timeline", "--input", bad, "--allow-damaged"}, 0, "bad.json:2"},
		{"timeline input directory", []string{"timeline", "--input", tmp}, 2, "is a directory"},
		{"timeline missing input", []string{"timeline", "--input", filepath.Join(tmp, "nosuch.json")}, 2, "nosuch.json"},
		{"timeline missing store", []string{"timeline", "--store", filepath.Join(tmp, "nostore")}, 2, "nostore"},
		{"timeline bad --pid", []string{"timeline", "--pid", "x"}, 2, "--pid"},
		{"rules check", []string{"rules", "check"}, 0, ""},
		{"rules check problems", []string{"rules", "check", badRules}, 1, "process.exe"},
		{"rules check unknown flag", []string{"rules", "check", "--nosuch"}, 2, "unknown flag"},
		{"rules test missing argument", []string{"rules", "test"}, 2, ""},
		{"rules fields argument", []string{"rules", "fields", "extra"}, 2, ""},
		{"rules unknown subcommand", []string{"rules", "nosuch"}, 2, "nosuch"},
		{"replay", []string{"replay", "--input", good}, 0, ""},
		{"replay store", []string{"replay", "--store", dir}, 0, ""},
		{"replay bad line", []string{"replay", "--input", bad}, 3, "bad.json:2"},
		{"replay bad line allowed", []string{"replay", "--input", bad, "--allow-damaged"}, 0, "bad.json:2"},
		{"replay rule fails to evaluate", []string{"replay", "--rules", evalRules, "--input", regexIn}, 1, "Name As Pattern"},
		{"replay no source", []string{"replay"}, 2, ""},
		{"replay missing input", []string{"replay", "--input", filepath.Join(tmp, "nosuch.json")}, 2, "nosuch.json"},
		{"replay missing store", []string{"replay", "--store", filepath.Join(tmp, "nostore")}, 2, "nostore"},
		{"config check", []string{"config", "check", cfg}, 0, ""},
		{"config check invalid", []string{"config", "check", badCfg}, 1, "pol_interval"},
		{"config check no file", []string{"config", "check"}, 2, ""},
		{"config unknown subcommand", []string{"config", "nosuch"}, 2, "nosuch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, c.args...)
			var errb strings.Builder
			cmd.Stderr = &errb
			cmd.Run()
			if got := cmd.ProcessState.ExitCode(); got != c.code {
				t.Errorf("bansho %s: exit %d, want %d; stderr:\n%s", strings.Join(c.args, " "), got, c.code, errb.String())
			}
			if !strings.Contains(errb.String(), c.stderr) {
				t.Errorf("bansho %s: stderr does not say %q:\n%s", strings.Join(c.args, " "), c.stderr, errb.String())
			}
		})
	}
}
