package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/bansho-sec/bansho/pipeline/content"
)

var testKey = []byte("scan test key")

// TestMain runs the scan itself when started as TestPermissionDenied's
// child.
func TestMain(m *testing.M) {
	if root := os.Getenv(childEnv); root != "" {
		os.Exit(Run(context.Background(), Options{HashKey: testKey, Paths: []string{root}}, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Test numbers, made up with valid check digits: the ordinances' examples
// and numbers derived from them. None is a real person's.
const (
	my1   = "123456789018"
	my2   = "111111111118"
	corp1 = "4011001098993"
	corp2 = "7000012050002"
)

func init() {
	for _, n := range []string{my1, my2} {
		if !content.MyNumberValid([12]byte([]byte(n))) {
			panic("test individual number fails its check digit")
		}
	}
	for _, n := range []string{corp1, corp2} {
		if !content.CorporateNumberValid([13]byte([]byte(n))) {
			panic("test corporate number fails its check digit")
		}
	}
}

func utf16le(s string, bom bool) []byte {
	var b []byte
	if bom {
		b = append(b, 0xFF, 0xFE)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func utf16be(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

// CP932 of "個人番号,１２３４５６７８９０１８\r\n" (full-width digits),
// written out so the test needs no encoder.
var cp932File = append(append([]byte{0x8c, 0xc2, 0x90, 0x6c, 0x94, 0xd4, 0x8d, 0x86, ','},
	fullWidthSJIS(my1)...), '\r', '\n')

func fullWidthSJIS(digits string) []byte {
	var b []byte
	for _, d := range digits {
		b = append(b, 0x82, byte(0x4F+d-'0'))
	}
	return b
}

func writeTree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func run(t *testing.T, opts Options) (code int, stdout, stderr string) {
	t.Helper()
	if opts.HashKey == nil {
		opts.HashKey = testKey
	}
	var out, errOut bytes.Buffer
	code = Run(context.Background(), opts, &out, &errOut)
	return code, out.String(), errOut.String()
}

// jsonLine is one line of the JSON report.
type jsonLine struct {
	Path            string  `json:"path"`
	Encoding        string  `json:"encoding"`
	MyNumber        finding `json:"my_number"`
	CorporateNumber finding `json:"corporate_number"`
}

type finding struct {
	Distinct    int      `json:"distinct"`
	Occurrences int      `json:"occurrences"`
	Confidence  string   `json:"confidence"`
	Hashes      []string `json:"hashes"`
}

// lineShape is the exact layout of a line: keys, order and spacing.
var lineShape = regexp.MustCompile(`^\{"path": "[^"]*", "encoding": "[a-z0-9,-]+", ` +
	`"my_number": \{"distinct": \d+, "occurrences": \d+, "confidence": "(high|medium|low|none)", "hashes": \[("[0-9a-f]{64}"(, "[0-9a-f]{64}")*)?\]\}, ` +
	`"corporate_number": \{"distinct": \d+, "occurrences": \d+, "confidence": "(high|medium|low|none)", "hashes": \[("[0-9a-f]{64}"(, "[0-9a-f]{64}")*)?\]\}\}$`)

func parseLines(t *testing.T, stdout string) map[string]jsonLine {
	t.Helper()
	lines := map[string]jsonLine{}
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if l == "" {
			continue
		}
		if !lineShape.MatchString(l) {
			t.Fatalf("line not in the report's format: %s", l)
		}
		var j jsonLine
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatal(err)
		}
		if _, dup := lines[j.Path]; dup {
			t.Fatalf("%s reported twice", j.Path)
		}
		lines[j.Path] = j
	}
	return lines
}

func TestJSONReport(t *testing.T) {
	files := map[string][]byte{
		"plain.txt":            []byte("マイナンバー " + my1 + "\n法人番号 " + corp1 + "\n"),
		"empty":                nil,
		"nothing.txt":          []byte("no numbers, only 03-1234-5678 and 2024-01-15\n"),
		"sub/deeper/list.csv":  []byte("id,number\n1," + my1 + "\n2," + my2 + "\n3," + my1 + "\n"),
		"sub/unicode.txt":      utf16le("個人番号\t"+my2+"\r\n", true),
		"sub/unicode-none.txt": utf16le("nothing here\r\n", true),
		"sub/be.txt":           utf16be("法人番号 " + corp2),
		"sub/sjis.csv":         cp932File,
		"sub/sjis-none.txt":    []byte{0x82, 0xa0, 0x82, 0xa2, '\n'}, // あい in CP932
		"binary":               {0, 1, 2, 3, 0, 0, 255, 0, 7},
	}
	root := writeTree(t, files)
	code, stdout, stderr := run(t, Options{Format: "json", Paths: []string{root}})
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := parseLines(t, stdout)
	if len(lines) != len(files) {
		t.Fatalf("%d lines for %d files", len(lines), len(files))
	}
	det, err := content.NewDetector(content.Config{HashKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		l, ok := lines[filepath.Join(root, name)]
		if !ok {
			t.Errorf("%s not reported", name)
			continue
		}
		// The same counts, confidence and hashes as the detector gives for
		// the same bytes.
		r := det.Scan(data)
		for _, c := range []struct {
			got  finding
			want content.Finding
		}{{l.MyNumber, r.MyNumber}, {l.CorporateNumber, r.CorporateNumber}} {
			if c.got.Distinct != c.want.Distinct || c.got.Occurrences != c.want.Occurrences ||
				c.got.Confidence != c.want.Confidence.String() || !slices.Equal(c.got.Hashes, c.want.Hashes) {
				t.Errorf("%s: reported %+v, detector %+v", name, c.got, c.want)
			}
			if c.got.Hashes == nil {
				t.Errorf("%s: hashes is null, not a list", name)
			}
		}
	}
	wantEnc := map[string]string{
		"plain.txt": "utf-8", "empty": "unknown", "nothing.txt": "ascii", "sub/deeper/list.csv": "ascii",
		"sub/unicode.txt": "utf-16le", "sub/unicode-none.txt": "utf-16le", "sub/be.txt": "utf-16be",
		"sub/sjis.csv": "cp932", "sub/sjis-none.txt": "cp932", "binary": "unknown",
	}
	for name, enc := range wantEnc {
		if got := lines[filepath.Join(root, name)].Encoding; got != enc {
			t.Errorf("%s: encoding %q, want %q", name, got, enc)
		}
	}
	list := lines[filepath.Join(root, "sub/deeper/list.csv")].MyNumber
	if list.Distinct != 2 || list.Occurrences != 3 || list.Confidence != "high" {
		t.Errorf("list.csv: %+v", list)
	}
	if !strings.Contains(stdout, `"hashes": []`) {
		t.Error("no empty hash list in the report")
	}
	for _, n := range []string{my1, my2, corp1, corp2} {
		if strings.Contains(stdout, n) {
			t.Fatal("a number appears in the report")
		}
	}
}

func TestTextReport(t *testing.T) {
	root := writeTree(t, map[string][]byte{
		"a.txt": []byte("個人番号 " + my1 + " " + corp1),
		"b.txt": []byte(my1 + "\n" + my2 + "\n"),
		"c.txt": []byte("nothing"),
	})
	code, stdout, _ := run(t, Options{Format: "text", Paths: []string{root}})
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 6 { // header, 3 rows, blank, summary
		t.Fatalf("%d lines:\n%s", len(lines), stdout)
	}
	pathCol := strings.Index(lines[0], "PATH")
	for _, l := range lines[1:4] {
		if !strings.HasPrefix(l[pathCol:], root) {
			t.Errorf("row not aligned under PATH: %q", l)
		}
	}
	if !regexp.MustCompile(`^utf-8\s+1/1\s+high\s+1/1\s+low\s+`).MatchString(lines[1]) {
		t.Errorf("row for a.txt: %q", lines[1])
	}
	want := "3 files scanned, 2 with findings, 2 distinct my numbers, 1 distinct corporate numbers, 0 unreadable, 0 skipped (links, special files)"
	if lines[5] != want {
		t.Errorf("summary %q, want %q", lines[5], want)
	}
	if strings.Contains(stdout, my1) || strings.Contains(stdout, corp1) {
		t.Fatal("a number appears in the report")
	}
}

func TestSymlinksNotFollowed(t *testing.T) {
	outside := writeTree(t, map[string][]byte{"secret.txt": []byte(my2 + "\n" + corp2)})
	root := writeTree(t, map[string][]byte{"a/real.txt": []byte(my1)})
	for link, target := range map[string]string{
		"a/loop":      "..",                                     // a loop
		"a/self":      ".",                                      // another
		"a/out-dir":   outside,                                  // a directory outside the tree
		"a/out-file":  filepath.Join(outside, "secret.txt"),     // a file outside
		"a/in-file":   "real.txt",                               // a file inside: scanned once, as itself
		"a/dangling":  filepath.Join(outside, "does-not-exist"), // nothing
		"top-to-root": root,
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := Run(ctx, Options{Format: "json", HashKey: testKey, Paths: []string{root}}, &out, &errOut)
	if code != ExitOK || errOut.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	lines := parseLines(t, out.String())
	if len(lines) != 1 {
		t.Fatalf("want only a/real.txt, got %d lines:\n%s", len(lines), out.String())
	}
	if l, ok := lines[filepath.Join(root, "a/real.txt")]; !ok || l.MyNumber.Occurrences != 1 || l.CorporateNumber.Occurrences != 0 {
		t.Errorf("a/real.txt: %+v", l)
	}
	// The text summary counts the links as skipped.
	_, stdout, _ := run(t, Options{Paths: []string{root}})
	if !strings.Contains(stdout, "1 files scanned") || !strings.Contains(stdout, "7 skipped") {
		t.Errorf("summary: %s", stdout)
	}
	// A link named on the command line is followed, as find -H does.
	link := filepath.Join(t.TempDir(), "link-to-outside")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	_, stdout, _ = run(t, Options{Format: "json", Paths: []string{link}})
	if l := parseLines(t, stdout)[filepath.Join(link, "secret.txt")]; l.MyNumber.Occurrences != 1 {
		t.Errorf("a command-line link is not followed: %s", stdout)
	}
}

func TestSpecialFilesSkipped(t *testing.T) {
	root := writeTree(t, map[string][]byte{"f.txt": []byte(my1)})
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	if code := Run(ctx, Options{Format: "json", HashKey: testKey, Paths: []string{root}}, &out, &errOut); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if lines := parseLines(t, out.String()); len(lines) != 1 {
		t.Errorf("the FIFO is reported: %s", out.String())
	}
	// Swapped for a FIFO between listing and opening: not waited on.
	p := filepath.Join(root, "f.txt")
	out.Reset()
	code := Run(ctx, Options{Format: "json", HashKey: testKey, Paths: []string{root}, beforeOpen: func(string) {
		os.Remove(p)
		syscall.Mkfifo(p, 0o644)
	}}, &out, &errOut)
	if code != ExitOK || ctx.Err() != nil || out.Len() != 0 {
		t.Errorf("exit %d, ctx %v, stdout %q", code, ctx.Err(), out.String())
	}
}

// Files and directories that disappear between the listing and the read
// are unreadable for real (ENOENT): reported, counted, and the scan goes on.
func TestRemovedDuringScan(t *testing.T) {
	root := writeTree(t, map[string][]byte{
		"a.txt":        []byte(my1),
		"b.txt":        []byte(my2),
		"c/inside.txt": []byte(corp1),
		"d.txt":        []byte(corp2),
	})
	removed := false
	opts := Options{Paths: []string{root}, beforeOpen: func(p string) {
		if filepath.Base(p) == "a.txt" && !removed {
			removed = true
			os.Remove(filepath.Join(root, "b.txt"))
			os.RemoveAll(filepath.Join(root, "c")) // listed as a directory, then gone
		}
	}}
	code, stdout, stderr := run(t, opts)
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	errLines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(errLines) != 2 || !strings.Contains(stderr, filepath.Join(root, "b.txt")+": no such file") ||
		!strings.Contains(stderr, filepath.Join(root, "c")+": no such file") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if !strings.Contains(stdout, "2 files scanned") || !strings.Contains(stdout, "2 unreadable") {
		t.Errorf("summary:\n%s", stdout)
	}
}

// Unreadable by permission. Tests run as root, which reads anything, so
// the scan runs in a child process as nobody (uid 65534).
func TestPermissionDenied(t *testing.T) {
	root := writeTree(t, map[string][]byte{
		"ok.txt":         []byte(my1),
		"locked.txt":     []byte(my2),
		"closed/sub.txt": []byte(corp1),
	})
	if err := os.Chmod(filepath.Join(root, "locked.txt"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "closed"), 0); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	var code int
	if os.Geteuid() != 0 {
		code = Run(context.Background(), Options{HashKey: testKey, Paths: []string{root}}, &out, &errOut)
	} else {
		code = runAsNobody(t, root, &out, &errOut)
	}
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	for _, p := range []string{"locked.txt", "closed"} {
		if !strings.Contains(errOut.String(), filepath.Join(root, p)+": permission denied") {
			t.Errorf("no permission error for %s in %q", p, errOut.String())
		}
	}
	if !strings.Contains(out.String(), "1 files scanned") || !strings.Contains(out.String(), "2 unreadable") {
		t.Errorf("summary:\n%s", out.String())
	}
}

const childEnv = "BANSHO_SCAN_TEST_CHILD_ROOT"

// runAsNobody runs the scan of root in a copy of the test binary as uid and
// gid 65534. The tree and the binary are made reachable for that user.
func runAsNobody(t *testing.T, root string, stdout, stderr *bytes.Buffer) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "scan.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, filepath.Dir(root), filepath.Dir(bin), filepath.Dir(filepath.Dir(bin))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), childEnv+"="+root)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	case errors.Is(err, syscall.EPERM):
		t.Skipf("cannot start a process as uid 65534 here (%v), and root reads any file: no way to make one unreadable by permission", err)
	}
	t.Fatalf("running the scan as nobody: %v", err)
	return -1
}

func TestUsageErrors(t *testing.T) {
	root := writeTree(t, map[string][]byte{"f": []byte(my1)})
	missing := filepath.Join(root, "no-such-dir")
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Format: "xml", Paths: []string{root}}, `unknown format "xml"`},
		{Options{}, "no paths"},
		{Options{Paths: []string{root}, HashKey: []byte{}}, "no hash key"},
		{Options{Paths: []string{root, missing}}, missing + ": no such file or directory"},
	} {
		if c.opts.HashKey == nil {
			c.opts.HashKey = testKey
		}
		var out, errOut bytes.Buffer
		code := Run(context.Background(), c.opts, &out, &errOut)
		if code != ExitUsage || out.Len() != 0 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%+v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.opts, code, out.String(), errOut.String(), c.want)
		}
	}
}

func TestInterrupted(t *testing.T) {
	root := writeTree(t, map[string][]byte{"a": []byte(my1), "b": []byte(my2)})
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	code := Run(ctx, Options{Format: "json", HashKey: testKey, Paths: []string{root},
		beforeOpen: func(string) { cancel() }}, &out, &errOut)
	if code != ExitInterrupted || !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

// A large file is streamed: numbers across read boundaries are found, and
// the counts are the detector's.
func TestLargeFile(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("個人番号\n")
	for b.Len() < 3*readSize+100 {
		fmt.Fprintf(&b, "%s,%s,%s\n", my1, strings.Repeat("x", 97), corp1)
	}
	data := b.Bytes()
	for _, at := range []int{readSize - 5, 2*readSize - 11} { // numbers across two reads
		copy(data[at:], my2)
	}
	root := writeTree(t, map[string][]byte{"big.csv": data})
	_, stdout, _ := run(t, Options{Format: "json", Paths: []string{root}})
	got := parseLines(t, stdout)[filepath.Join(root, "big.csv")]
	det, _ := content.NewDetector(content.Config{HashKey: testKey})
	want := det.Scan(data)
	if got.MyNumber.Occurrences != want.MyNumber.Occurrences || got.MyNumber.Distinct != want.MyNumber.Distinct ||
		got.CorporateNumber.Occurrences != want.CorporateNumber.Occurrences || !reflect.DeepEqual(got.MyNumber.Hashes, want.MyNumber.Hashes) {
		t.Errorf("big.csv: %+v, detector %+v", got, want)
	}
	if want.MyNumber.Distinct < 2 {
		t.Errorf("the numbers across read boundaries are not found: %d distinct", want.MyNumber.Distinct)
	}
}

func TestSniff(t *testing.T) {
	var h headSniffer
	for _, c := range []struct {
		data []byte
		want string
	}{
		{nil, "unknown"},
		{[]byte("plain ascii\n"), "ascii"},
		{[]byte("\xEF\xBB\xBFascii after a BOM"), "utf-8"},
		{[]byte("日本語のテキスト"), "utf-8"},
		{utf16le("text without BOM", false), "utf-16le"},
		{utf16le("テキスト", true), "utf-16le"},
		{utf16be("text without BOM"), "utf-16be"},
		{[]byte{0xFE, 0xFF, 0x30, 0x42}, "utf-16be"},
		{[]byte{0x93, 0xfa, 0x96, 0x7b, 0x8c, 0xea, '\n'}, "cp932"}, // 日本語
		{[]byte{0x80, 0x00, 0x01, 0xFF, 0xFE, 0x00, 0x00}, "unknown"},
		{[]byte{0xFF, 0x41, 0xFD}, "unknown"},
	} {
		h.reset()
		h.write(c.data)
		if got := h.encoding(); got != c.want {
			t.Errorf("% x: %q, want %q", c.data, got, c.want)
		}
	}
}

// A file or directory named after a person's My Number is shown masked,
// as the sensor's documents show it: in the text and JSON reports, in the
// line about an unreadable file and in the error about a missing path.
// The assertions say how many raw numbers they saw, never which.
func TestNumbersInNamesMasked(t *testing.T) {
	root := writeTree(t, map[string][]byte{
		my1 + ".csv":      []byte("no numbers here"),
		my2 + "/list.txt": []byte("nor here"),
	})
	raw := func(s string) int { return strings.Count(s, my1) + strings.Count(s, my2) }
	for _, format := range []string{"text", "json"} {
		if err := os.WriteFile(filepath.Join(root, "gone-"+my1), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{Format: format, Paths: []string{root}, beforeOpen: func(p string) {
			if strings.HasPrefix(filepath.Base(p), "gone-") {
				os.Remove(p)
			}
		}}
		code, stdout, stderr := run(t, opts)
		if code != ExitOK {
			t.Fatalf("%s: exit %d", format, code)
		}
		if n := raw(stdout + stderr); n != 0 {
			t.Errorf("%s: %d raw My Numbers in the output", format, n)
		}
		if !strings.Contains(stdout, "****-****-****.csv") || !strings.Contains(stderr, "gone-****-****-****") {
			t.Errorf("%s: the masked names are missing (%d bytes of report)", format, len(stdout))
		}
		// A JSON report still parses, with the masked path.
		if format == "json" {
			if _, ok := parseLines(t, stdout)[filepath.Join(root, "****-****-****.csv")]; !ok {
				t.Errorf("json: no line for the masked path")
			}
		}
	}
	code, stdout, stderr := run(t, Options{Paths: []string{filepath.Join(root, "missing-"+my2)}})
	if code != ExitUsage || raw(stdout+stderr) != 0 || !strings.Contains(stderr, "missing-****-****-****") {
		t.Errorf("a missing path: exit %d, %d raw My Numbers", code, raw(stdout+stderr))
	}
}

// A format argument that is a My Number is not echoed.
func TestFormatNotEchoed(t *testing.T) {
	code, stdout, stderr := run(t, Options{Format: my1, Paths: []string{t.TempDir()}})
	if code != ExitUsage || strings.Contains(stdout+stderr, my1) || !strings.Contains(stderr, "unknown format") {
		t.Errorf("exit %d, raw number shown %v", code, strings.Contains(stdout+stderr, my1))
	}
}
