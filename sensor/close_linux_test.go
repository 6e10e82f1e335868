//go:build linux

package sensor

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

// close leaves a protected file's fd_table entry behind (handle_close). A
// later file on the same fd number, made by a call the sensor does not
// hook (memfd_create), must not have its writes taken for the protected
// file's: the entry is checked against the fd's inode and dropped.
func TestClosedFdReusedUnseen(t *testing.T) {
	dir, _ := protectedDir(t)
	h := startSensor(t, dir)
	target := filepath.Join(dir, "reuse.dat")
	script := fmt.Sprintf(`
import os
fd = os.open(%q, os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"protected\n")
os.close(fd)
m = os.memfd_create("scratch")
assert m == fd, (m, fd)
os.write(m, b"not protected\n")
fd = os.open(%q, os.O_WRONLY)
assert fd == m + 1
os.write(fd, b"protected again\n")
`, target, target)
	before, err := h.s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	pid := run(t, "/", "python3", "-c", script)
	h.Settle()
	writes := h.All(func(ev *event.Event) bool { return ev.Op == event.OpFileWrite && int(ev.Proc.PID) == pid })
	if len(writes) != 2 || writes[0].File.Ret != 10 || writes[1].File.Ret != 16 {
		t.Fatalf("want the two writes to the protected file only, got %d\n%s", len(writes), h.Dump())
	}
	for _, w := range writes {
		if w.File.Path != target {
			t.Errorf("write attributed to %q", w.File.Path)
		}
	}
	after, err := h.s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.Counters["stale_fd_entry"] <= before.Counters["stale_fd_entry"] {
		t.Errorf("stale_fd_entry did not move: %d -> %d", before.Counters["stale_fd_entry"], after.Counters["stale_fd_entry"])
	}
}
