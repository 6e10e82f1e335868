package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// digits12 finds runs of 12 or more digits, so what a case records in the
// table (its "got") never holds a number, whatever bansho printed.
var digits12 = regexp.MustCompile(`[0-9]{12,}`)

// brief is a command's outcome for the table: the exit code and the first
// line of stderr (or stdout), any long run of digits hidden.
func brief(r Result) string {
	if r.TimedOut {
		return "TIMED OUT"
	}
	line := strings.TrimSpace(r.Stderr)
	if line == "" {
		line = strings.TrimSpace(r.Stdout)
	}
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return fmt.Sprintf("exit %d: %s", r.Code, digits12.ReplaceAllString(line, "<digits>"))
}

// clean reports a command that neither hung nor panicked.
func clean(r Result) bool {
	return !r.TimedOut && !strings.Contains(r.Output(), "panic:") && !strings.Contains(r.Output(), "goroutine ")
}

// sharedDir is a directory nobody can read (t.TempDir is 0700), for
// commands the suite runs as nobody.
func sharedDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "bansho-faults-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// RunAsNobody runs bansho as nobody when the suite is root (as a user
// would run config check or scan), else as the suite's user.
func RunAsNobody(t *testing.T, timeout time.Duration, args ...string) Result {
	t.Helper()
	if os.Geteuid() != 0 {
		return runAs(t, timeout, bansho, nil, nil, []string{"BANSHO_CONTENT_HASH_KEY="}, args...)
	}
	return runAs(t, timeout, nobodyBinary(t), &syscall.Credential{Uid: 65534, Gid: 65534}, nil, []string{"BANSHO_CONTENT_HASH_KEY="}, args...)
}

// write writes a file, making its directory.
func write(t *testing.T, p string, data []byte, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, mode)
	return p
}

// hashKey is a key scan accepts.
const hashKey = "00112233445566778899aabbccddeeff"

const timeout = 30 * time.Second

var nobodyBin struct {
	sync.Once
	path string
	err  error
}

// nobodyBinary is a copy of the binary nobody can run (the build
// directory is 0700), removed when the suite ends.
func nobodyBinary(t *testing.T) string {
	t.Helper()
	nobodyBin.Do(func() {
		dir := filepath.Join(filepath.Dir(bansho), "shared")
		b, err := os.ReadFile(bansho)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "bansho"), b, 0o755)
		}
		// The build directory itself must be searchable by nobody.
		if err == nil {
			err = os.Chmod(filepath.Dir(bansho), 0o711)
		}
		nobodyBin.path, nobodyBin.err = filepath.Join(dir, "bansho"), err
	})
	if nobodyBin.err != nil {
		t.Fatal(nobodyBin.err)
	}
	return nobodyBin.path
}
