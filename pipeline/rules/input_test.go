package rules

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadWithin runs f and fails the test when it does not return within d.
func loadWithin(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("still running after %s", d)
		return nil
	}
}

// Rule files and test files that are not small regular files are
// refused at once, naming the file: a FIFO is not waited on, /dev/zero is
// not read forever, a file above MaxFileBytes is not parsed.
func TestHostileRuleFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxFileBytes)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{dir, fifo + ": not a regular file (a FIFO)"},
		{"/dev/zero", "/dev/zero: not a regular file (a device)"},
		{big, big + ": 1048579 bytes, more than the 1 MiB allowed for a rule file"},
	} {
		err := loadWithin(t, 5*time.Second, func() error { _, err := Load(c.path, Options{}); return err })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("rules %s: %v", c.path, err)
		}
		err = loadWithin(t, 5*time.Second, func() error { _, err := LoadTests(filepath.Dir(c.path)); return err })
		if err == nil {
			t.Errorf("tests %s: no error", c.path)
		}
	}
	tests := filepath.Join(t.TempDir(), "tests")
	os.Mkdir(tests, 0o700)
	if err := syscall.Mkfifo(filepath.Join(tests, "t.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := loadWithin(t, 5*time.Second, func() error { _, err := LoadTests(tests); return err })
	if err == nil || !strings.Contains(err.Error(), "not a regular file (a FIFO)") {
		t.Errorf("a FIFO test file: %v", err)
	}
}

// Invalid UTF-8 is reported at its line and column (the YAML parser
// says line 1 whatever the line).
func TestNotUTF8RuleFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.yaml")
	os.WriteFile(p, []byte("- rule: Bad\n  desc: ab\xff\n"), 0o600)
	_, err := Load(p, Options{})
	if err == nil || !strings.Contains(err.Error(), p+":2:11: yaml: not UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}
