//go:build linux

package sensor

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// kill -USR1 from another process: a signal event naming the sender.
func TestSelfSignalled(t *testing.T) {
	h := startSensor(t, t.TempDir())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1) // the sensor is this test process
	defer signal.Stop(ch)
	kill := exec.Command("/usr/bin/kill", "-USR1", strconv.Itoa(os.Getpid()))
	if out, err := kill.CombinedOutput(); err != nil {
		t.Fatalf("kill: %v %s", err, out)
	}
	ev := h.WaitFor("signal event", func(e *event.Event) bool {
		return e.Op == event.OpSelfSignal && e.Self != nil && e.Self.Signal == int32(syscall.SIGUSR1)
	})
	if ev.Proc.PID != uint32(kill.Process.Pid) || ev.Proc.Comm != "kill" {
		t.Errorf("sender %d %q, want kill %d", ev.Proc.PID, ev.Proc.Comm, kill.Process.Pid)
	}
	if ev.Self.TargetPID != uint32(os.Getpid()) || !ev.Has(event.FlagSelf) || ev.Self.SigCode != 0 {
		t.Errorf("self event %+v flags %#x", ev.Self, ev.Flags)
	}
	select {
	case <-ch:
	case <-time.After(2 * time.Second):
		t.Error("SIGUSR1 not delivered")
	}
}

// The sensor's own signals (the Go runtime's preemption, SIGURG) and
// kernel-made ones are not reported.
func TestSelfSignalOwnIgnored(t *testing.T) {
	h := startSensor(t, t.TempDir())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR2)
	defer signal.Stop(ch)
	syscall.Kill(os.Getpid(), syscall.SIGUSR2)
	<-ch
	// A marker from another process, then look at everything before it.
	exec.Command("/usr/bin/kill", "-USR2", strconv.Itoa(os.Getpid())).Run()
	<-ch
	h.WaitFor("marker", func(e *event.Event) bool { return e.Op == event.OpSelfSignal && e.Proc.Comm == "kill" })
	for _, e := range h.All(func(*event.Event) bool { return true }) {
		if e.Op == event.OpSelfSignal && e.Proc.PID == uint32(os.Getpid()) {
			t.Errorf("own signal reported: %+v", e.Self)
		}
	}
}

const ptracePy = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = int(sys.argv[1])
r = libc.ptrace(0x4206, pid, None, None)  # PTRACE_SEIZE: does not stop the tracee
print("seize", r, ctypes.get_errno())
if r == 0:
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
libc.syscall.restype = ctypes.c_long
print("vm_readv", libc.syscall(310, pid, None, 0, None, 0, 0))
pidfd = os.pidfd_open(pid)
print("pidfd_getfd", libc.syscall(438, pidfd, 0, 0))  # a copy of the sensor's stdin
`

// ptrace(PTRACE_SEIZE) and process_vm_readv on the sensor: ptrace events.
func TestSelfPtraced(t *testing.T) {
	h := startSensor(t, t.TempDir())
	py := exec.Command("python3", "-c", ptracePy, strconv.Itoa(os.Getpid()))
	out, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v %s", err, out)
	}
	t.Logf("tracer: %s", strings.TrimSpace(string(out)))
	pid := uint32(py.Process.Pid)
	seize := h.WaitFor("ptrace seize", func(e *event.Event) bool {
		return e.Op == event.OpSelfPtrace && e.Proc.PID == pid && e.Self.Syscall == 101
	})
	if seize.Self.Request != 0x4206 || seize.Self.TargetPID != uint32(os.Getpid()) || !seize.Has(event.FlagSelf) {
		t.Errorf("seize event %+v", seize.Self)
	}
	h.WaitFor("process_vm_readv", func(e *event.Event) bool {
		return e.Op == event.OpSelfPtrace && e.Proc.PID == pid && e.Self.Syscall == 310
	})
	getfd := h.WaitFor("pidfd_getfd", func(e *event.Event) bool {
		return e.Op == event.OpSelfPtrace && e.Proc.PID == pid && e.Self.Syscall == 438
	})
	if getfd.Self.Request != 0 || getfd.Self.Ret < 0 || getfd.Self.TargetPID != uint32(os.Getpid()) {
		t.Errorf("pidfd_getfd event %+v", getfd.Self)
	}
}

// Integrity paths: modifications are reported, reads are not, and
// nobody is tainted by reading there.
func TestIntegrityPaths(t *testing.T) {
	prot, guard, own := t.TempDir(), t.TempDir(), t.TempDir()
	h := startSensor(t, prot)
	inside := filepath.Join(prot, "bin")
	if err := os.Mkdir(inside, 0o755); err != nil {
		t.Fatal(err)
	}
	reg, skipped, err := h.s.RegisterIntegrity([]string{guard, "/nonexistent/bansho", inside}, []string{own})
	if err != nil {
		t.Fatal(err)
	}
	if len(reg) != 2 || len(skipped) != 2 || !strings.Contains(skipped[0], "/nonexistent/bansho") ||
		!strings.Contains(skipped[1], "inside protected directory") {
		t.Fatalf("registered %v skipped %v", reg, skipped)
	}
	// Still protected data below: a read there is reported and taints.
	rd := exec.Command("/bin/sh", "-c", "echo x > "+inside+"/f; cat "+inside+"/f")
	if out, err := rd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	h.WaitFor("protected read below a refused integrity path", func(e *event.Event) bool {
		return e.Op == event.OpFileOpen && e.File.Path == inside+"/f" && e.Proc.Comm == "cat" && e.Has(event.FlagProtected)
	})
	f := filepath.Join(guard, "tool")
	if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(name, args...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", name, err, out)
		}
		return c
	}
	cat := run("/bin/cat", f)
	wr := run("/bin/sh", "-c", "echo changed >> "+f)
	ev := h.WaitFor("integrity write open", func(e *event.Event) bool {
		return e.Op == event.OpFileOpen && e.Proc.PID == uint32(wr.Process.Pid) && e.File.Path == f
	})
	if !ev.Has(event.FlagIntegrity) || ev.Has(event.FlagProtected) || ev.Has(event.FlagTainted) || ev.Has(event.FlagSelf) {
		t.Errorf("flags %#x, want integrity only", ev.Flags)
	}
	ch := run("/bin/chmod", "700", f)
	h.WaitFor("integrity chmod", func(e *event.Event) bool {
		return e.Op == event.OpFileNS && e.Proc.PID == uint32(ch.Process.Pid) && e.Has(event.FlagIntegrity)
	})
	mv := run("/bin/mv", f, f+".old")
	h.WaitFor("integrity rename", func(e *event.Event) bool {
		return e.Op == event.OpFileNS && e.Proc.PID == uint32(mv.Process.Pid) && e.File.Kind == event.NSRename && e.Has(event.FlagIntegrity)
	})
	rm := run("/bin/rm", f+".old")
	h.WaitFor("integrity unlink", func(e *event.Event) bool {
		return e.Op == event.OpFileNS && e.Proc.PID == uint32(rm.Process.Pid) && e.File.Kind == event.NSUnlink
	})
	// Protected data copied into an integrity path: the copy is still
	// followed as a tainted process's write, and flagged integrity.
	roster := filepath.Join(prot, "roster.csv")
	if err := os.WriteFile(roster, []byte("氏名,個人番号\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cp := run("/bin/cp", roster, filepath.Join(guard, "copied"))
	ev = h.WaitFor("tainted open in integrity path", func(e *event.Event) bool {
		return e.Op == event.OpFileOpen && e.Proc.PID == uint32(cp.Process.Pid) && e.File.Path == filepath.Join(guard, "copied")
	})
	if !ev.Has(event.FlagIntegrity) || !ev.Has(event.FlagTainted) || ev.Has(event.FlagProtected) {
		t.Errorf("copy into integrity path: flags %#x, want integrity and tainted", ev.Flags)
	}
	h.WaitFor("tainted write in integrity path", func(e *event.Event) bool {
		return e.Op == event.OpFileWrite && e.Proc.PID == uint32(cp.Process.Pid) && e.File.Path == filepath.Join(guard, "copied")
	})
	// The sensor's own files: self_target.
	ownf := filepath.Join(own, "bansho.yaml")
	tc := run("/usr/bin/touch", ownf)
	ev = h.WaitFor("own file", func(e *event.Event) bool {
		return e.Op == event.OpFileOpen && e.Proc.PID == uint32(tc.Process.Pid) && e.File.Path == ownf
	})
	if !ev.Has(event.FlagSelf) || !ev.Has(event.FlagIntegrity) {
		t.Errorf("own file flags %#x, want integrity and self", ev.Flags)
	}
	h.Settle()
	for _, e := range h.All(func(*event.Event) bool { return true }) {
		if e.Proc.PID == uint32(cat.Process.Pid) && e.File != nil {
			t.Errorf("a read under an integrity path was reported: %s %s", e.Op, e.File.Path)
		}
	}
}

// A program detached behind the sensor's back is found by CheckAttached.
func TestDetachDetected(t *testing.T) {
	h := startSensor(t, t.TempDir())
	libs, err := h.s.AttachTLS([]string{"/usr/lib/x86_64-linux-gnu/libssl.so.*", "/lib/x86_64-linux-gnu/libssl.so.*"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TLS probes on %v", libs)
	if bad := h.s.CheckAttached(); len(bad) != 0 {
		t.Fatalf("fresh sensor: %v", bad)
	}
	// bpftool link detach first (what an intruder with CAP_BPF runs).
	info, err := h.s.links[0].Info()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bpftool", "link", "detach", "id", strconv.Itoa(int(info.ID))).CombinedOutput()
	t.Logf("bpftool link detach id %d: %v %s", info.ID, err, out)
	bad := h.s.CheckAttached()
	t.Logf("after bpftool: %v", bad)
	if err != nil {
		// Tracing links may not support BPF_LINK_DETACH; close it instead.
		if err := h.s.detachForTest("on_exec"); err != nil {
			t.Fatal(err)
		}
		bad = h.s.CheckAttached()
	}
	if len(bad) != 1 || !strings.Contains(bad[0], "on_exec") {
		t.Errorf("after detach: %v, want on_exec named", bad)
	}
}

// What integrity paths cost a reader: open+close of a file under one,
// before and after it is registered, with the sensor attached. Reads are
// never reported, so the difference is the kind check on a cached verdict.
func BenchmarkOpenUnderIntegrityPath(b *testing.B) {
	dir := b.TempDir()
	f := filepath.Join(dir, "tool")
	if err := os.WriteFile(f, []byte("x"), 0o755); err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.ProtectPaths = []string{b.TempDir()}
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	open := func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			fd, err := syscall.Open(f, syscall.O_RDONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			syscall.Close(fd)
		}
	}
	b.Run("unguarded", open)
	if _, _, err := s.RegisterIntegrity([]string{dir}, nil); err != nil {
		b.Fatal(err)
	}
	b.Run("integrity", open)
}

// A sender that repeats itself makes one event; the repeats are counted.
func TestSelfSignalRepeatsFolded(t *testing.T) {
	h := startSensor(t, t.TempDir())
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGUSR1)
	defer signal.Stop(ch)
	before, err := h.s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	py := exec.Command("python3", "-c", "import os, sys, time\nfor _ in range(5):\n    os.kill(int(sys.argv[1]), 10); time.sleep(0.01)", strconv.Itoa(os.Getpid()))
	if out, err := py.CombinedOutput(); err != nil {
		t.Fatalf("python: %v %s", err, out)
	}
	h.WaitFor("first signal", func(e *event.Event) bool { return e.Op == event.OpSelfSignal && e.Proc.PID == uint32(py.Process.Pid) })
	h.Settle()
	if n := len(h.All(func(e *event.Event) bool { return e.Op == event.OpSelfSignal && e.Proc.PID == uint32(py.Process.Pid) })); n != 1 {
		t.Errorf("%d signal events from one sender in 50ms, want 1", n)
	}
	after, _ := h.s.Stats()
	if d := after.Counters["self_deduplicated"] - before.Counters["self_deduplicated"]; d != 4 {
		t.Errorf("self_deduplicated grew by %d, want 4", d)
	}
}
