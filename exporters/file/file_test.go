package file

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bansho-sec/bansho/exporters"
)

func docs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, from+i, strings.Repeat("x", 40)))
	}
	return out
}

func lines(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func TestRotationKeepsWholeLinesInOrder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	p := filepath.Join(dir, "events.json")
	e, err := New(Options{Path: p, MaxBytes: 1000, MaxBackups: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := e.Write(docs(i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Oldest first: .2, .1, current. Nothing older than .2 is kept.
	var all []string
	for _, f := range []string{p + ".2", p + ".1", p} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 1000 {
			t.Errorf("%s is %d bytes, over MaxBytes", f, st.Size())
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o, want 600", f, st.Mode().Perm())
		}
		all = append(all, lines(t, f)...)
	}
	if _, err := os.Stat(p + ".3"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a third backup exists")
	}
	// What rotation removed and what is kept add up to what was written.
	var kept, written int64
	for _, f := range []string{p + ".2", p + ".1", p} {
		st, _ := os.Stat(f)
		kept += st.Size()
	}
	for i := 0; i < 10; i++ {
		for _, d := range docs(i*10, 10) {
			written += int64(len(d)) + 1
		}
	}
	rm := e.Removed()
	if rm.Files == 0 || int64(rm.Bytes) != written-kept {
		t.Errorf("removed %d files, %d bytes; written %d, kept %d", rm.Files, rm.Bytes, written, kept)
	}
	last := 100 - len(all)
	for i, l := range all {
		if want := fmt.Sprintf(`{"n":%d,`, last+i); !strings.HasPrefix(l, want) || !strings.HasSuffix(l, `"}`) {
			t.Fatalf("line %d = %q, want the whole document %d", i, l, last+i)
		}
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %o, want 700", st.Mode().Perm())
	}
}

func TestAppendsToExistingAndTightensMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(p, []byte("{\"old\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	e.Write(docs(0, 1))
	e.Close()
	if got := lines(t, p); len(got) != 2 || got[0] != `{"old":1}` {
		t.Errorf("lines %q", got)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", st.Mode().Perm())
	}
}

// A full disk for real: a 64 KiB tmpfs. Every document is either in the
// file or counted as lost; the error names the path.
func TestFullDiskIsCountedNotSilent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	p := filepath.Join(dir, "events.json")
	e, err := New(Options{Path: p, MaxBytes: 1 << 30, BufferSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	written, lost := 0, 0
	var firstErr error
	for i := 0; i < 200; i++ {
		batch := docs(i*20, 20)
		err := e.Write(batch)
		if err == nil {
			err = e.Flush()
		}
		var le *exporters.LostError
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("error without a count of lost documents: %v", err)
		}
		if le != nil {
			lost += le.Lost
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if err := e.Close(); err != nil {
		var le *exporters.LostError
		if errors.As(err, &le) {
			lost += le.Lost
		}
	}
	written = 200*20 - lost
	if firstErr == nil {
		t.Fatal("no error on a full disk")
	}
	if !strings.Contains(firstErr.Error(), p) || !errors.Is(firstErr, syscall.ENOSPC) {
		t.Errorf("error %q does not name the path or ENOSPC", firstErr)
	}
	if lost == 0 {
		t.Errorf("no documents counted as lost (%v)", firstErr)
	}
	got := lines(t, p)
	if len(got) != written {
		t.Errorf("%d documents on disk, %d reported written (%d lost)", len(got), written, lost)
	}
	for i, l := range got {
		if !strings.HasPrefix(l, `{"n":`) || !strings.HasSuffix(l, `"}`) {
			t.Fatalf("line %d is not a whole document: %q", i, l)
		}
	}
	t.Logf("written %d, lost %d of %d", written, lost, 200*20)
}

// With no backups, rotation removes the file itself: counted the same way.
func TestRotationWithoutBackupsIsCounted(t *testing.T) {
	p := filepath.Join(t.TempDir(), "events.json")
	e, err := New(Options{Path: p, MaxBytes: 1000, MaxBackups: 0})
	if err != nil {
		t.Fatal(err)
	}
	var written int64
	for i := 0; i < 5; i++ {
		d := docs(i*10, 10)
		for _, b := range d {
			written += int64(len(b)) + 1
		}
		if err := e.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if rm := e.Removed(); rm.Files < 2 || int64(rm.Bytes)+st.Size() != written {
		t.Errorf("removed %d files, %d bytes; kept %d of %d written", rm.Files, rm.Bytes, st.Size(), written)
	}
}

// The directory of the output is tightened as the file is: an existing
// 0755 one of its own becomes 0700 (a listing shows who was read and when, through
// the rotated file names and sizes). A directory others may write to (a
// shared one like /tmp, 1777) is refused: tightening it would break
// others, and anyone could replace the files in it.
func TestTightensOrRefusesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	e, err := New(Options{Path: filepath.Join(dir, "events.json")})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %o, want 700", st.Mode().Perm())
	}
	// A directory with other files in it (/var/log, /dev) is the
	// system's: left as it is, and said so. (A test that wrote to
	// /dev/full once made /dev 0700.)
	sys := filepath.Join(t.TempDir(), "log")
	os.Mkdir(sys, 0o755)
	os.Chmod(sys, 0o755)
	os.WriteFile(filepath.Join(sys, "syslog"), nil, 0o644)
	if e, err = New(Options{Path: filepath.Join(sys, "events.json")}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if st, _ := os.Stat(sys); st.Mode().Perm() != 0o755 || e.SharedDir() != 0o755 {
		t.Errorf("a shared directory: mode %o, SharedDir %o; want it left 755 and reported", st.Mode().Perm(), e.SharedDir())
	}
	// Created: 0700 (also with a umask that would allow more or less).
	deep := filepath.Join(t.TempDir(), "a", "b")
	if e, err = New(Options{Path: filepath.Join(deep, "events.json")}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if st, _ := os.Stat(deep); st.Mode().Perm() != 0o700 {
		t.Errorf("created directory mode %o, want 700", st.Mode().Perm())
	}
	for _, mode := range []os.FileMode{0o777 | os.ModeSticky, 0o777, 0o775} {
		shared := filepath.Join(t.TempDir(), "shared")
		os.Mkdir(shared, 0o700)
		if err := os.Chmod(shared, mode); err != nil {
			t.Fatal(err)
		}
		_, err := New(Options{Path: filepath.Join(shared, "events.json")})
		if err == nil || !strings.Contains(err.Error(), shared) || !strings.Contains(err.Error(), "others can write to it") {
			t.Errorf("a %v directory: %v", mode, err)
		}
		if st, _ := os.Stat(shared); st.Mode()&(os.ModePerm|os.ModeSticky) != mode {
			t.Errorf("the refused directory was changed to %v", st.Mode())
		}
		if _, err := os.Stat(filepath.Join(shared, "events.json")); err == nil {
			t.Errorf("a file was created in a %v directory", mode)
		}
	}
}
