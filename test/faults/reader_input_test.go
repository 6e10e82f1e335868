package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const goodDoc = `{"@timestamp":"2026-11-22T00:00:00Z","event":{"kind":"event","action":"exec","category":["process"]},"process":{"entity_id":"p1","pid":10,"name":"sh","executable":"/bin/sh"}}`

// panicked reports a Go panic or runtime crash in a command's output.
func panicked(r Result) bool {
	return strings.Contains(r.Stderr, "panic:") || strings.Contains(r.Stderr, "goroutine ") || r.Code > 3 || r.Code < 0
}

// timeline --input and replay --input over hostile files: no panic, no
// hang, the bad line named by file and line number, the good documents
// still read, and exit 3 (0 with --allow-damaged).
func TestHostileInput(t *testing.T) {
	dir := t.TempDir()
	huge := `{"x":"` + strings.Repeat("a", 5<<20) + `"}`
	inputs := []struct {
		name string
		body string
		bad  int // the bad line's number
	}{
		{"truncated last line", goodDoc + "\n" + goodDoc[:50], 2},
		{"invalid UTF-8", goodDoc + "\n\xff\xfe\xfd not a document \xc3\x28\n" + goodDoc + "\n", 2},
		{"deep JSON nesting", goodDoc + "\n" + strings.Repeat(`{"a":[`, 100000) + "\n" + goodDoc + "\n", 2},
		{"huge line (5 MiB)", goodDoc + "\n" + huge + "\n" + goodDoc + "\n", 2},
		{"NUL bytes", goodDoc + "\n\x00\x00\x00\x00\n", 2},
	}
	for _, in := range inputs {
		p := filepath.Join(dir, strings.ReplaceAll(in.name, " ", "-")+".json")
		os.WriteFile(p, []byte(in.body), 0o600)
		where := fmt.Sprintf("%s:%d", p, in.bad)
		for _, cmd := range [][]string{{"timeline", "--input", p}, {"replay", "--input", p}} {
			r := Run(t, 60*time.Second, nil, nil, cmd...)
			Case(t, "input", in.name+": "+cmd[0], "exit 3, no panic, names "+filepath.Base(where),
				fmt.Sprintf("exit %d, timed out %v: %s", r.Code, r.TimedOut, firstLine(r.Stderr, filepath.Base(p))),
				!r.TimedOut && !panicked(r) && r.Code == 3 && strings.Contains(r.Stderr, where))
		}
	}
	// The good documents around a bad line are still read.
	p := filepath.Join(dir, "huge-line-(5-MiB).json")
	r := Run(t, 60*time.Second, nil, nil, "replay", "--input", p, "--allow-damaged")
	Case(t, "input", "huge line (5 MiB): replay --allow-damaged", "exit 0, both good documents evaluated, the line named",
		fmt.Sprintf("exit %d: %s", r.Code, firstLine(r.Stderr, "documents evaluated")),
		r.Code == 0 && strings.Contains(r.Stderr, "2 documents evaluated") && strings.Contains(r.Stderr, p+":2"))
	r = Run(t, 60*time.Second, nil, nil, "timeline", "--input", p, "--allow-damaged", "--format", "json")
	Case(t, "input", "huge line (5 MiB): timeline --allow-damaged", "exit 0, the documents shown, parse_errors 1",
		fmt.Sprintf("exit %d: %s", r.Code, firstLine(r.Stdout, "parse_errors")),
		r.Code == 0 && strings.Contains(r.Stdout, `"parse_errors": 1`) && strings.Contains(r.Stdout, `"documents": 2`))

	// Text output counts the lines too.
	p = filepath.Join(dir, "truncated-last-line.json")
	r = Run(t, 60*time.Second, nil, nil, "timeline", "--input", p, "--utc")
	Case(t, "input", "truncated last line: timeline text output", "the summary counts the line and gives its number",
		firstLine(r.Stdout, "not documents"), strings.Contains(r.Stdout, "1 input lines are not documents and were skipped: line 2"))

	// Empty files, directories, FIFOs.
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, nil, 0o600)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		code       int
		say        string
	}{
		{"empty file", empty, 0, ""},
		{"a directory", dir, 2, "is a directory"},
		{"a FIFO nobody writes", fifo, 0, ""},
		{"a file that does not exist", filepath.Join(dir, "nosuch.json"), 2, "nosuch.json"},
	} {
		for _, cmd := range [][]string{{"timeline", "--input", c.path}, {"replay", "--input", c.path}} {
			r := Run(t, 20*time.Second, nil, nil, cmd...)
			exp := fmt.Sprintf("exit %d, no hang", c.code)
			if c.say != "" {
				exp += ", says " + c.say
			}
			Case(t, "input", c.name+": "+cmd[0], exp,
				fmt.Sprintf("exit %d, timed out %v: %s", r.Code, r.TimedOut, lastLine(r.Stderr+"\n"+r.Stdout)),
				!r.TimedOut && !panicked(r) && r.Code == c.code && strings.Contains(r.Stderr, c.say))
		}
	}

	// --store names something that is not a store.
	file := filepath.Join(dir, "empty.json")
	for _, c := range []struct{ name, path string }{{"a regular file", file}, {"a FIFO", fifo}, {"an empty directory", t.TempDir()}} {
		for _, cmd := range [][]string{{"store", "verify"}, {"store", "stat"}, {"store", "dump"}, {"timeline"}, {"replay"}} {
			args := append(append([]string(nil), cmd...), "--store", c.path)
			r := Run(t, 20*time.Second, nil, nil, args...)
			Case(t, "input", "--store is "+c.name+": "+strings.Join(cmd, " "), "exit 2, no hang, names the path",
				fmt.Sprintf("exit %d, timed out %v: %s", r.Code, r.TimedOut, lastLine(r.Stderr)),
				!r.TimedOut && !panicked(r) && r.Code == 2 && strings.Contains(r.Stderr, c.path))
		}
	}
}
