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

const goodRule = "- rule: Good\n  desc: A rule that compiles.\n  condition: process.name == \"x\"\n  output: x ran\n  priority: WARNING\n"

// Area "input": rules check, rules test and scan on hostile input. Each
// case: no panic, no hang, an error naming what and where (or the input
// skipped and counted), never a raw number.
func TestInputFaults(t *testing.T) {
	ns := MyNumbers(11, 4)
	t.Run("rules", func(t *testing.T) { rulesInput(t, ns) })
	t.Run("scan", func(t *testing.T) { scanInput(t, ns) })
}

// rulesCase runs a rules command and records it; code -1 accepts 0 or 1.
func rulesCase(t *testing.T, ns []string, name, expect string, want []string, code int, args ...string) {
	t.Helper()
	start := time.Now()
	r := Run(t, timeout, nil, nil, args...)
	ok := clean(r) && (r.Code == code || code < 0 && r.Code <= 1) && len(RawNumbers(r.Output(), ns...)) == 0
	for _, w := range want {
		ok = ok && strings.Contains(r.Output(), w)
	}
	Case(t, "input", name, expect, brief(r)+" ("+time.Since(start).Round(time.Millisecond).String()+")", ok)
}

func rulesInput(t *testing.T, ns []string) {
	d := t.TempDir()
	dir := func(name string, files map[string]string) string {
		p := filepath.Join(d, name)
		os.MkdirAll(p, 0o755)
		for f, body := range files {
			write(t, filepath.Join(p, f), []byte(body), 0o644)
		}
		return p
	}
	bad := dir("malformed", map[string]string{"a.yaml": goodRule, "b.yaml": "- rule: Bad\n  desc: d\n  condition: a: b\n"})
	rulesCase(t, ns, "rules check: malformed rule YAML", "exit 1, file:line:col of the problem",
		[]string{bad + "/b.yaml:3:"}, 1, "rules", "check", bad)
	cond := dir("condition", map[string]string{"a.yaml": "- rule: Bad\n  desc: d\n  condition: process.name ==== \"x\"\n  output: y\n  priority: WARNING\n"})
	rulesCase(t, ns, "rules check: a condition that does not compile", "exit 1, file:line:col: condition",
		[]string{cond + "/a.yaml:3:"}, 1, "rules", "check", cond)
	utf := dir("utf8", map[string]string{"a.yaml": "- rule: Bad\n  desc: \xff\xfe\n"})
	rulesCase(t, ns, "rules check: invalid UTF-8 in a rule file", "exit 1, naming the file and line",
		[]string{utf + "/a.yaml:2:9: yaml: not UTF-8"}, 1, "rules", "check", utf)

	big := filepath.Join(d, "big")
	os.Mkdir(big, 0o755)
	f, _ := os.Create(filepath.Join(big, "big.yaml"))
	f.WriteString(goodRule)
	f.Truncate(8 << 20)
	f.Close()
	rulesCase(t, ns, "rules check: huge rule file (8 MiB)", "exit 1 at once, naming the file, its size and the 1 MiB limit",
		[]string{"big.yaml: 8388608 bytes, more than the 1 MiB allowed for a rule file"}, 1, "rules", "check", big)
	deep := dir("deep", map[string]string{"a.yaml": "- rule: Deep\n  desc: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n"})
	rulesCase(t, ns, "rules check: deep nesting (100000 levels)", "exit 1, file:line: exceeded max depth",
		[]string{deep + "/a.yaml:", "exceeded max depth"}, 1, "rules", "check", deep)
	deepCond := dir("deepcond", map[string]string{"a.yaml": "- rule: Deep\n  desc: d\n  condition: " + strings.Repeat("(", 20000) + "process.name == \"x\"" + strings.Repeat(")", 20000) + "\n  output: y\n  priority: WARNING\n"})
	rulesCase(t, ns, "rules check: deeply nested condition (20000 parentheses)", "exit 0 or 1 with file:line, no crash",
		[]string{deepCond}, -1, "rules", "check", deepCond)

	loopDir := filepath.Join(d, "loopdir")
	os.Symlink(loopDir, loopDir)
	rulesCase(t, ns, "rules check: the directory is a symlink loop", "exit 1: too many levels of symbolic links",
		[]string{"too many levels of symbolic links"}, 1, "rules", "check", loopDir)
	loopFile := dir("loopfile", map[string]string{"a.yaml": goodRule})
	os.Symlink(filepath.Join(loopFile, "z.yaml"), filepath.Join(loopFile, "z.yaml"))
	rulesCase(t, ns, "rules check: a rule file that is a symlink loop", "exit 1 naming the file: too many levels of symbolic links",
		[]string{"z.yaml: too many levels of symbolic links"}, 1, "rules", "check", loopFile)
	fifo := dir("fifo", map[string]string{"a.yaml": goodRule})
	syscall.Mkfifo(filepath.Join(fifo, "f.yaml"), 0o644)
	rulesCase(t, ns, "rules check: a rule file that is a FIFO", "exit 1 at once naming it: not a regular file (a FIFO)",
		[]string{"f.yaml: not a regular file (a FIFO)"}, 1, "rules", "check", fifo)
	rulesCase(t, ns, "rules check /dev/zero", "exit 1 at once: not a regular file (a device)",
		[]string{"/dev/zero: not a regular file (a device)"}, 1, "rules", "check", "/dev/zero")
	rulesCase(t, ns, "rules check /dev/null", "exit 1 at once: not a regular file (a device)",
		[]string{"/dev/null: not a regular file (a device)"}, 1, "rules", "check", "/dev/null")
	named := dir("named", map[string]string{ns[0] + ".yaml": "- rule: Bad\n  desc: [\n"})
	rulesCase(t, ns, "rules check: a rule file named after a My Number", "exit 1, the name masked",
		[]string{"/****-****-****.yaml:"}, 1, "rules", "check", named)
	rulesCase(t, ns, "rules check: a missing directory named after a My Number (argument)", "exit 1 naming it masked",
		[]string{"missing-****-****-****"}, 1, "rules", "check", filepath.Join(d, "missing-"+ns[1]))

	// rules test: the fixtures.
	tdir := func(name, test string) string {
		p := dir(name, map[string]string{"rules.yaml": goodRule})
		if test != "" {
			write(t, filepath.Join(p, "tests", "t.yaml"), []byte(test), 0o644)
		}
		return p
	}
	tbad := tdir("t-malformed", "- test: x\n  events: [unclosed\n")
	// yaml.v3 puts this one at line 1, where the item starts.
	rulesCase(t, ns, "rules test: malformed test YAML", "exit 1, file:line",
		[]string{tbad + "/tests/t.yaml:1"}, 1, "rules", "test", tbad)
	tfifo := tdir("t-fifo", "")
	os.MkdirAll(filepath.Join(tfifo, "tests"), 0o755)
	syscall.Mkfifo(filepath.Join(tfifo, "tests", "t.yaml"), 0o644)
	rulesCase(t, ns, "rules test: a test file that is a FIFO", "exit 1 at once: not a regular file (a FIFO)",
		[]string{"t.yaml: not a regular file (a FIFO)"}, 1, "rules", "test", tfifo)
	tinput := tdir("t-input", "- test: x\n  input: zero.jsonl\n  expect: []\n")
	os.Symlink("/dev/zero", filepath.Join(tinput, "tests", "zero.jsonl"))
	rulesCase(t, ns, "rules test: a test whose input is /dev/zero", "exit 1 at once naming the test: not a regular file",
		[]string{"not a regular file (a device)"}, 1, "rules", "test", tinput)
	tnum := tdir("t-number", "- test: x\n  events: |\n    {\"process\":{\"name\":\"cat\",\"command_line\":\"cat "+ns[2]+"\"}}\n  expect:\n    - rule: Good\n")
	rulesCase(t, ns, "rules test: a failing test whose event holds a My Number", "exit 1, FAIL line, the number never shown",
		[]string{"FAIL"}, 1, "rules", "test", "--coverage=false", tnum)
	rulesCase(t, ns, "rules test: no tests directory", "exit 1 naming the directory",
		[]string{"no *.yaml test files"}, 1, "rules", "test", tdir("t-none", ""))
}

func scanInput(t *testing.T, ns []string) {
	d := t.TempDir()
	scan := func(name, expect string, check func(Result) bool, args ...string) {
		t.Helper()
		start := time.Now()
		r := Run(t, timeout, nil, nil, append([]string{"scan", "--hash-key", hashKey}, args...)...)
		Case(t, "input", name, expect, brief(r)+" ("+time.Since(start).Round(time.Millisecond).String()+")",
			clean(r) && len(RawNumbers(r.Output(), ns...)) == 0 && check(r))
	}
	summary := func(files, unreadable, skipped int) func(Result) bool {
		want := fmt.Sprintf("%d files scanned", files)
		tail := fmt.Sprintf("%d unreadable, %d skipped", unreadable, skipped)
		return func(r Result) bool {
			return r.Code == 0 && strings.Contains(r.Stdout, want) && strings.Contains(r.Stdout, tail)
		}
	}

	loops := filepath.Join(d, "loops")
	os.MkdirAll(filepath.Join(loops, "sub"), 0o755)
	os.Symlink(loops, filepath.Join(loops, "sub", "up"))
	os.Symlink(filepath.Join(loops, "self"), filepath.Join(loops, "self"))
	write(t, filepath.Join(loops, "a.txt"), []byte("x"), 0o644)
	scan("scan: symlink loops in the tree", "exit 0, links skipped and counted, no hang", summary(1, 0, 2), loops)
	self := filepath.Join(d, "selfloop")
	os.Symlink(self, self)
	// Not a usage error: reported and counted like any unreadable file
	// (docs/faults.md, exit codes).
	scan("scan: a symlink loop as the argument", "exit 0, named: too many levels of symbolic links, counted",
		func(r Result) bool {
			return r.Code == 0 && strings.Contains(r.Stderr, "selfloop: too many levels of symbolic links")
		}, self)

	fifos := filepath.Join(d, "fifos")
	os.Mkdir(fifos, 0o755)
	syscall.Mkfifo(filepath.Join(fifos, "pipe"), 0o644)
	write(t, filepath.Join(fifos, "a.txt"), []byte("x"), 0o644)
	scan("scan: a FIFO in the tree", "exit 0, skipped and counted, not waited on", summary(1, 0, 1), fifos)
	scan("scan: a FIFO as the argument", "exit 0, skipped, not waited on", summary(0, 0, 1), filepath.Join(fifos, "pipe"))
	scan("scan /dev/zero", "exit 0, skipped (a device), not read forever", summary(0, 0, 1), "/dev/zero")
	scan("scan /dev/null", "exit 0, skipped (a device)", summary(0, 0, 1), "/dev/null")

	huge := filepath.Join(d, "huge.bin")
	f, _ := os.Create(huge)
	f.WriteString("id " + ns[3] + "\n")
	f.Truncate(256 << 20) // sparse: zeros after the number
	f.Close()
	scan("scan: a 256 MiB file", "exit 0, streamed, the number counted, never shown", func(r Result) bool {
		return r.Code == 0 && strings.Contains(r.Stdout, "1 files scanned, 1 with findings")
	}, huge)

	deep := filepath.Join(d, "deep")
	p := deep
	for i := 0; i < 1500; i++ { // past PATH_MAX (4096) for the deepest names
		p = filepath.Join(p, "dd")
	}
	if err := mkdirDeep(p); err != nil {
		t.Fatal(err)
	}
	scan("scan: 1500 nested directories (paths past PATH_MAX)", "exit 0, each too-long path reported, no crash", func(r Result) bool {
		return r.Code == 0 && strings.Contains(r.Stdout, "files scanned")
	}, deep)

	names := filepath.Join(d, "names")
	os.Mkdir(names, 0o755)
	write(t, filepath.Join(names, "bad-\xff\xfe.txt"), []byte("x"), 0o644)
	write(t, filepath.Join(names, "two\nlines.txt"), []byte("x"), 0o644)
	write(t, filepath.Join(names, "esc-\x1b[31m.txt"), []byte("x"), 0o644)
	scan("scan --format text: invalid UTF-8, a newline and an escape in file names", "exit 0, one quoted row per file, no raw control bytes",
		func(r Result) bool {
			return r.Code == 0 && strings.Count(r.Stdout, "\n") == 1+3+2 && !strings.ContainsAny(r.Stdout, "\x1b\xff") &&
				strings.Contains(r.Stdout, `two\nlines.txt"`)
		}, names)
	scan("scan --format json: invalid UTF-8, a newline and an escape in file names", "exit 0, one valid JSON line per file",
		func(r Result) bool {
			return r.Code == 0 && strings.Count(r.Stdout, "\n") == 3 && !strings.ContainsAny(r.Stdout, "\x1b\xff")
		}, "--format", "json", names)
	scan("scan: a My Number as a missing argument", "exit 2 naming it masked",
		func(r Result) bool { return r.Code == 2 && strings.Contains(r.Stderr, "****-****-****") }, ns[0])
	scan("scan: a My Number as --format", "exit 2, the value masked",
		func(r Result) bool { return r.Code == 2 }, "--format", ns[1], d)
}

// mkdirDeep makes a directory chain longer than PATH_MAX, one level at a
// time from the parent's descriptor.
func mkdirDeep(p string) error {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	fd, err := syscall.Open("/", syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	for _, part := range parts {
		if err := syscall.Mkdirat(fd, part, 0o755); err != nil && err != syscall.EEXIST {
			syscall.Close(fd)
			return err
		}
		nfd, err := syscall.Openat(fd, part, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
		syscall.Close(fd)
		if err != nil {
			return err
		}
		fd = nfd
	}
	return syscall.Close(fd)
}
