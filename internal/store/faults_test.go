package store

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mountTmpfs mounts a tmpfs of size on a temporary directory for a real
// full file system; it needs root, which CI has.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" || os.Getenv("BANSHO_REQUIRE_BPF") == "1" {
			t.Fatal("mounting a tmpfs needs root")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "bansho-store-test", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}

// fillDisk writes a file until the file system refuses more.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, n := range []int{64 << 10, 4 << 10, 256, 1} {
		buf := make([]byte, n)
		for {
			if _, err := f.Write(buf); err != nil {
				break
			}
		}
	}
}

// A file system filled by another process while the sensor was down: the
// store opens anyway (the index of the last segment, which every start
// rebuilds, stays in memory), leaves no temporary file behind, keeps every
// record readable, and writes the index once there is room again.
func TestOpenOnFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, "2m")
	dir := filepath.Join(mnt, "store")
	s := openT(t, Options{Dir: dir, SegmentBytes: 256 << 10, NoCompress: true})
	if err := s.Write(docs(0, 2000, "event")); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(docs(0, 20, "alert")); err != nil {
		t.Fatal(err)
	}
	s.crash() // the last segment is not sealed: the next open rebuilds its index
	// ... and a record torn by the crash at its end, which open cuts off.
	segs, _ := filepath.Glob(filepath.Join(dir, StreamEvents, "*.seg"))
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("\x01torn record"))
	f.Close()
	fillDisk(t, filepath.Join(mnt, "filler"))

	s, err = Open(Options{Dir: dir, SegmentBytes: 256 << 10, NoCompress: true})
	if err != nil {
		t.Fatalf("open on a full disk: %v", err)
	}
	defer s.Close()
	tmps, _ := filepath.Glob(filepath.Join(dir, "*", "*.tmp"))
	if len(tmps) > 0 {
		t.Errorf("temporary files left behind: %v", tmps)
	}
	if got := len(readAll(t, s, StreamEvents, 0)); got != 2000 {
		t.Errorf("events readable after open on a full disk: %d of 2000", got)
	}
	if got := len(readAll(t, s, StreamAlerts, 0)); got != 20 {
		t.Errorf("alerts readable: %d of 20", got)
	}
	if n := s.Stats().IndexesPending; n == 0 {
		t.Errorf("no index counted as pending on a full disk")
	}
	// Room again: the next maintenance writes the indexes.
	os.Remove(filepath.Join(mnt, "filler"))
	s.wmu.Lock()
	s.maintain(s.opt.now(), true)
	s.wmu.Unlock()
	if n := s.Stats().IndexesPending; n != 0 {
		t.Errorf("%d indexes still pending with room on the disk", n)
	}
	if err := s.Write(docs(2000, 10, "event")); err != nil {
		t.Fatalf("write after room returned: %v", err)
	}
	s.Close()
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
}

// A damaged cursor file does not stop the store from opening or a
// consumer from starting: it is moved aside into cursors/damaged/, counted
// and reported, and the consumer resumes from the last good copy of its
// cursor, or from the oldest record when there is none (at-least-once).
func TestDamagedCursor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openT(t, Options{Dir: dir})
	if err := s.Write(docs(0, 100, "event")); err != nil {
		t.Fatal(err)
	}
	// Two commits: the second leaves the first as the previous copy.
	if err := s.SaveCursors("kafka", Cursors{StreamEvents: 41}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCursors("kafka", Cursors{StreamEvents: 61}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCursors("es", Cursors{StreamEvents: 51}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	kafka := filepath.Join(dir, "cursors", "kafka.json")
	if err := os.WriteFile(kafka, []byte(`{"next":{"events":10`), 0o600); err != nil {
		t.Fatal(err)
	}
	es := filepath.Join(dir, "cursors", "es.json")
	os.Remove(es + ".prev")
	if err := os.WriteFile(es, []byte("\x00\x00\x00"), 0o600); err != nil {
		t.Fatal(err)
	}

	// verify and stat see the damage without changing anything.
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, p := range rep.Problems {
		if strings.Contains(p.File, "cursors") {
			named = append(named, p.File)
		}
	}
	if len(named) != 2 {
		t.Errorf("verify names %d damaged cursors, want 2: %v", len(named), rep.Problems)
	}
	ro, err := OpenReadOnly(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := ro.DamagedCursors(); len(d) != 2 {
		t.Errorf("read-only open reports %d damaged cursors, want 2", len(d))
	}
	ro.Close()
	if _, err := os.Stat(kafka); err != nil {
		t.Errorf("a read-only open moved the damaged cursor: %v", err)
	}

	s = openT(t, Options{Dir: dir})
	defer s.Close()
	c, err := s.LoadCursors("kafka")
	if err != nil {
		t.Fatalf("consumer with a damaged cursor cannot start: %v", err)
	}
	if c[StreamEvents] != 41 {
		t.Errorf("kafka resumes at %d, want 41 (its previous good cursor)", c[StreamEvents])
	}
	c, err = s.LoadCursors("es")
	if err != nil {
		t.Fatalf("consumer with a damaged cursor cannot start: %v", err)
	}
	if c[StreamEvents] != 1 {
		t.Errorf("es resumes at %d, want 1 (the oldest record: no good copy)", c[StreamEvents])
	}
	d := s.DamagedCursors()
	if len(d) != 2 {
		t.Fatalf("%d damaged cursors reported, want 2", len(d))
	}
	for _, dc := range d {
		if _, err := os.Stat(dc.MovedTo); err != nil {
			t.Errorf("damaged cursor of %s not kept aside: %v", dc.Consumer, err)
		}
	}
	if _, err := os.Stat(kafka); err == nil {
		t.Errorf("the damaged cursor is still in place")
	}
	if n := s.Stats().DamagedCursors; n != 2 {
		t.Errorf("Stats().DamagedCursors = %d, want 2", n)
	}
	// A notice tells the pipeline (a store-damaged state document).
	if _, ok := drainNotices(s)["cursor-damaged"]; !ok {
		t.Errorf("no cursor-damaged notice")
	}
	// Saving works again and verify is clean (the moved file is history).
	if err := s.SaveCursors("kafka", c); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rep, err = Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("verify after recovery: %v", rep.Problems)
	}
}
