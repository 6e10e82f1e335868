// Package faults is the standing fault and bad-input suite (make
// test-faults, part of make test). It drives the bansho binary, the store
// and the exporters against damage, outages and hostile input, and records
// one verdict per case. When the suite ends it prints the table of cases
// (Markdown), and writes it to $BANSHO_FAULTS_TABLE when that is set, so
// docs/faults.md can carry the figures of a real run.
//
// A case is a named expectation about what a user sees (exit code, stderr,
// what is kept), checked against what happened. Record every case with
// Case, even a passing one: the table is the suite's report.
package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/pipeline/content"
)

// bansho is the binary under test, built once by TestMain.
var bansho string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bansho-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	bansho = filepath.Join(dir, "bansho")
	build := exec.Command("go", "build", "-o", bansho, "./cmd/bansho")
	build.Dir = repoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: building bansho:", err)
		os.Exit(1)
	}
	code := m.Run()
	report(os.Stdout)
	if p := os.Getenv("BANSHO_FAULTS_TABLE"); p != "" {
		var b bytes.Buffer
		report(&b)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "faults:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..", "..")
}

// row is one case of the table.
type row struct {
	area, name, expect, got string
	pass                    bool
}

var table struct {
	sync.Mutex
	rows []row
}

// Case records one case: area groups the table (store, exporters, input,
// config, ...), expect says what a user must see, got what happened. A case
// that does not pass fails t.
func Case(t *testing.T, area, name, expect, got string, pass bool) {
	t.Helper()
	got = strings.TrimSpace(got)
	table.Lock()
	table.rows = append(table.rows, row{area, name, expect, oneLine(got, 160), pass})
	table.Unlock()
	if !pass {
		t.Errorf("%s / %s: want %s; got %s", area, name, expect, got)
	}
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return s
}

// report prints the table, sorted by area then case name.
func report(w interface{ Write([]byte) (int, error) }) {
	table.Lock()
	rows := append([]row(nil), table.rows...)
	table.Unlock()
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].area != rows[j].area {
			return rows[i].area < rows[j].area
		}
		return rows[i].name < rows[j].name
	})
	failed := 0
	for _, r := range rows {
		if !r.pass {
			failed++
		}
	}
	fmt.Fprintf(w, "\n### Fault suite: %d cases, %d failed\n\n", len(rows), failed)
	fmt.Fprintln(w, "| area | case | expected | observed | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rows {
		v := "pass"
		if !r.pass {
			v = "**FAIL**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.area, r.name, r.expect, r.got, v)
	}
}

// Result is what one command did.
type Result struct {
	Code           int
	Stdout, Stderr string
	TimedOut       bool
}

// Output is stdout and stderr together, for searching.
func (r Result) Output() string { return r.Stdout + r.Stderr }

// Run runs bansho with args (and stdin, when not nil) for at most timeout,
// with env added to the environment.
func Run(t *testing.T, timeout time.Duration, stdin []byte, env []string, args ...string) Result {
	t.Helper()
	return runAs(t, timeout, bansho, nil, stdin, env, args...)
}

// runAs runs bin with args as the credential cred (nil: the suite's own).
func runAs(t *testing.T, timeout time.Duration, bin string, cred *syscall.Credential, stdin []byte, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(childEnv(), env...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String(), TimedOut: ctx.Err() != nil}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("bansho %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// childEnv is the environment of the commands under test: the suite's own
// settings are left out (bansho warns about BANSHO_* variables that name
// no key, which would change what the cases see).
func childEnv() []string {
	var out []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "BANSHO_FAULTS_") {
			out = append(out, e)
		}
	}
	return out
}

// MyNumbers returns n distinct valid individual numbers (check digit
// correct), deterministic for a seed, for planting in names and content.
func MyNumbers(seed, n int) []string {
	var out []string
	seen := map[string]bool{}
	x := uint64(seed)*0x9E3779B97F4A7C15 + 1
	for len(out) < n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		var d [12]byte
		v := x
		for i := 0; i < 11; i++ {
			d[i] = byte('0' + v%10)
			v /= 10
		}
		for c := byte('0'); c <= '9'; c++ {
			d[11] = c
			if content.MyNumberValid(d) {
				break
			}
		}
		s := string(d[:])
		if content.MyNumberValid(d) && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// RawNumbers lists the numbers of want that appear unmasked in s. Tests of
// what bansho prints assert it is empty; the numbers are never printed by
// the assertion either (only their count).
func RawNumbers(s string, want ...string) []string {
	var found []string
	for _, n := range want {
		if regexp.MustCompile(`(^|[^0-9])` + n + `($|[^0-9])`).MatchString(s) {
			found = append(found, n)
		}
	}
	return found
}
