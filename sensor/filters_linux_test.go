package sensor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// The kernel puts a protected file it sees opened for the first time in
// protected_inodes and sets that key's bit in its filter; the bit is where
// userspace's inoFilterPos says (the two hashes agree), and a hard link
// made outside the protected directory afterwards is still caught.
func TestInodeFilterMatchesKernel(t *testing.T) {
	dir := t.TempDir()
	h := startSensor(t, dir)
	if !h.featureOn("bitmap_filters") {
		t.Skipf("the %s object has no bitmap filters", h.s.Object())
	}
	file := filepath.Join(dir, "new.csv")
	run(t, dir, "sh", "-c", `echo x > "$0"`, file)
	h.WaitFor("open of the new protected file", func(ev *event.Event) bool {
		return ev.Op == event.OpFileOpen && ev.File != nil && ev.File.Path == file
	})
	dev, ino, err := h.s.KernelIdentity(file)
	if err != nil {
		t.Fatal(err)
	}
	k := banshoInodeKey{Dev: dev, Ino: ino}
	var v banshoProtInode
	if err := h.s.maps.protectedInodes.Lookup(k, &v); err != nil {
		t.Fatalf("protected_inodes has no entry for %s: %v", file, err)
	}
	if v.V != 1|piGen || v.Gen == 0 {
		t.Errorf("protected_inodes entry of %s: %+v, want protected data with its generation", file, v)
	}
	pos := inoFilterPos(k)
	var word uint64
	if err := h.s.coll.Maps["prot_ino_kbits"].Lookup(pos>>6, &word); err != nil {
		t.Fatal(err)
	}
	if word&(1<<(pos&63)) == 0 {
		t.Fatalf("kernel filter word %d is %#x: bit %d of %s not set where userspace computes it", pos>>6, word, pos&63, file)
	}
	link := filepath.Join(t.TempDir(), "innocent.txt")
	if err := os.Link(file, link); err != nil {
		t.Skipf("hard link across temp dirs: %v", err) // different file systems
	}
	run(t, "/", "/bin/cat", link)
	ev := h.WaitFor("open through the hard link", func(ev *event.Event) bool {
		return ev.Op == event.OpFileOpen && ev.File != nil && ev.File.Path == link
	})
	if !ev.Has(event.FlagProtected) {
		t.Errorf("open of %s (a link to a protected file) not flagged protected", link)
	}
}

// A process that read protected data has its proc_present bit set while
// it lives (the write path would skip it otherwise) and cleared at exit
// with its proc_states entry.
func TestProcPresentFollowsProcState(t *testing.T) {
	dir, file := protectedDir(t)
	h := startSensor(t, dir)
	if !h.featureOn("bitmap_filters") {
		t.Skipf("the %s object has no bitmap filters", h.s.Object())
	}
	out := filepath.Join(t.TempDir(), "copy.txt")
	cmd := exec.Command("sh", "-c", `read x < "$0"; read y; echo copied > "$1"`, file, out)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := uint32(cmd.Process.Pid)
	h.WaitFor("the shell's read of the protected file", func(ev *event.Event) bool {
		return ev.Op == event.OpFileOpen && ev.File != nil && ev.File.Path == file && ev.Proc.PID == pid
	})
	bit := func() bool {
		var word uint64
		if err := h.s.maps.procPresent.Lookup(pid>>6, &word); err != nil {
			t.Fatal(err)
		}
		return word&(1<<(pid&63)) != 0
	}
	if !bit() {
		t.Errorf("proc_present bit of tainted pid %d not set", pid)
	}
	// A write to a file outside after the taint is still seen: the bit
	// lets the write path reach the process's state.
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	h.WaitFor("the tainted shell's write outside", func(ev *event.Event) bool {
		return ev.Op == event.OpFileWrite && ev.File != nil && ev.File.Path == out && ev.Has(event.FlagTainted)
	})
	deadline := time.Now().Add(2 * time.Second)
	for bit() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if bit() {
		t.Errorf("proc_present bit of pid %d still set after its exit", pid)
	}
	var ps banshoProcState
	if err := h.s.maps.procStates.Lookup(pid, &ps); err == nil {
		t.Errorf("proc_states entry of pid %d left after its exit", pid)
	}
}

func TestPidWords(t *testing.T) {
	root := t.TempDir()
	write := func(s string) {
		if err := os.MkdirAll(filepath.Join(root, "sys/kernel"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "sys/kernel/pid_max"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		in   string
		want uint32
	}{{"32768\n", 512}, {"4194304\n", 65536}, {"1000\n", 512}} {
		write(c.in)
		if got, err := pidWords(root); err != nil || got != c.want {
			t.Errorf("pid_max %q: %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	write("4194305\n") // past PID_MAX_LIMIT
	if got, err := pidWords(root); err == nil || !strings.Contains(err.Error(), "pid_max") {
		t.Errorf("pid_max past the limit: want an error naming pid_max, got %d, %v", got, err)
	}
	write("lots")
	if _, err := pidWords(root); err == nil || !strings.Contains(err.Error(), filepath.Join(root, "sys/kernel/pid_max")) {
		t.Errorf("garbage pid_max: %v", err)
	}
}
