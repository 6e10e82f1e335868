package sensor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

// generation reads the verdict generation the kernel side compares cached
// directory verdicts against.
func (h *harness) generation(t *testing.T) uint64 {
	t.Helper()
	var g uint64
	if err := h.s.maps.generation.Lookup(uint32(0), &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// Renaming a file cannot change any directory's verdict, so it leaves the
// cached verdicts alone; moving a directory invalidates them, and a file
// two levels below a directory moved into the protected one is protected
// at once, although the verdict of its own directory was cached as
// outside.
func TestFileRenameKeepsVerdicts(t *testing.T) {
	dir, _ := protectedDir(t)
	outside := t.TempDir()
	deep := filepath.Join(outside, "batch", "2026")
	if err := os.MkdirAll(deep, 0o700); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(deep, "list.csv")
	if err := os.WriteFile(list, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startSensor(t, dir)

	// Other work on the machine (rmdir, mounts) moves the generation too:
	// one quiet attempt out of several shows a file rename does not.
	a, b := filepath.Join(outside, "a.tmp"), filepath.Join(outside, "a.txt")
	if err := os.WriteFile(a, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	kept := false
	for i := 0; i < 10 && !kept; i++ {
		g := h.generation(t)
		run(t, "/", "/bin/mv", a, b)
		kept = h.generation(t) == g
		a, b = b, a
	}
	if !kept {
		t.Errorf("every file rename invalidated the cached directory verdicts")
	}

	pid := run(t, "/", "/bin/cat", list)
	h.Settle()
	if got := h.All(fileEv(event.OpFileOpen, pid, list)); len(got) != 0 {
		t.Fatalf("open outside reported")
	}
	g := h.generation(t)
	moved := filepath.Join(dir, "batch")
	run(t, "/", "/bin/mv", filepath.Join(outside, "batch"), moved)
	if h.generation(t) == g {
		t.Errorf("moving a directory left the cached verdicts valid")
	}
	inside := filepath.Join(moved, "2026", "list.csv")
	pid = run(t, "/", "/bin/cat", inside)
	h.WaitFor("open two levels below a directory moved into the protected one", fileEv(event.OpFileOpen, pid, inside))

	// A file renamed into the protected directory is protected data there
	// (its directory's verdict, no invalidation needed).
	f := filepath.Join(outside, "note.txt")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	into := filepath.Join(dir, "note.txt")
	run(t, "/", "/bin/mv", f, into)
	pid = run(t, "/", "/bin/cat", into)
	h.WaitFor("open of a file renamed into the protected directory", fileEv(event.OpFileOpen, pid, into))
}
