//go:build linux

package sensor

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bansho-sec/bansho/internal/event"
)

// build32 compiles testdata/compat32.c as a static 32-bit program. It
// fails, never skips, without gcc -m32: test/setup.sh installs
// gcc-multilib, and a sensor blind to 32-bit programs must not pass CI.
func build32(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "compat32")
	out, err := exec.Command("gcc", "-m32", "-static", "-O1", "-Wall", "-o", bin, "testdata/compat32.c").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc -m32 -static (test/setup.sh installs gcc-multilib): %v\n%s", err, out)
	}
	return bin
}

// The header byte and fold key word that carry EFX_COMPAT.
func TestCompatRecordLayout(t *testing.T) {
	spec, err := loadBansho()
	if err != nil {
		t.Fatal(err)
	}
	offset := func(name, member string) int {
		var s *btf.Struct
		if err := spec.Types.TypeByName(name, &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, m := range s.Members {
			if m.Name == member {
				return int(m.Offset.Bytes())
			}
		}
		t.Fatalf("%s has no member %s", name, member)
		return -1
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"event_hdr.cpu", offset("event_hdr", "cpu"), 4},
		{"event_hdr.xflags", offset("event_hdr", "xflags"), 6},
		{"event_hdr.ktime", offset("event_hdr", "ktime"), 8},
		{"fold_key.xflags", offset("fold_key", "xflags"), 20},
	} {
		if c.got != c.want {
			t.Errorf("%s: C says %d, Go decoder assumes %d", c.name, c.got, c.want)
		}
	}
}

// A 32-bit program's file and network work on protected data is reported
// exactly like a 64-bit one's, marked compat, with the native syscall
// numbers.
func TestCompatSyscallsReported(t *testing.T) {
	bin := build32(t)
	dir, roster := protectedDir(t)
	outside := t.TempDir()
	h := startSensor(t, dir)

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 64)
				c.Read(buf) // the socketcall send
				c.Close()
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	closed, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cport := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	pid := run(t, "/", bin, "protected", dir, roster, outside, strconv.Itoa(port), strconv.Itoa(cport))
	h.Settle()
	evs := h.All(func(ev *event.Event) bool { return int(ev.Proc.PID) == pid })
	find := func(what string, pred func(*event.Event) bool) *event.Event {
		t.Helper()
		for _, ev := range evs {
			if pred(ev) {
				if !ev.Compat {
					t.Errorf("%s: not marked compat", what)
				}
				return ev
			}
		}
		t.Fatalf("no event: %s\nseen:\n%s", what, h.Dump())
		return nil
	}

	find("exec of the 32-bit program", func(ev *event.Event) bool { return ev.Op == event.OpExec })

	open := find("open(5) of the roster", func(ev *event.Event) bool {
		return ev.Op == event.OpFileOpen && ev.File.Path == roster
	})
	if open.File.Syscall != 2 || open.File.Name != roster || open.File.Flags&syscall.O_ACCMODE != syscall.O_RDONLY ||
		open.File.Ret < 3 || open.File.FD != int32(open.File.Ret) {
		t.Errorf("open: syscall=%d name=%q flags=%#x ret=%d fd=%d", open.File.Syscall, open.File.Name, open.File.Flags, open.File.Ret, open.File.FD)
	}
	if !open.Has(event.FlagProtected) || !open.Has(event.FlagTainted) {
		t.Errorf("open flags %#x: want protected and tainted", open.Flags)
	}

	created := filepath.Join(dir, "new.csv")
	oc := find("openat(295) creating new.csv", func(ev *event.Event) bool {
		return ev.Op == event.OpFileOpen && ev.File.Path == created
	})
	if want := syscall.O_WRONLY | syscall.O_CREAT | syscall.O_TRUNC; oc.File.Syscall != 257 ||
		int(oc.File.Flags)&want != want || oc.File.Mode != 0o640 || oc.File.Name != created {
		t.Errorf("openat: syscall=%d flags=%#x mode=%o name=%q", oc.File.Syscall, oc.File.Flags, oc.File.Mode, oc.File.Name)
	}
	w := find("write(4) of 8 bytes", func(ev *event.Event) bool {
		return ev.Op == event.OpFileWrite && ev.File.Path == created && ev.File.Syscall == 1
	})
	if w.File.Count != 8 || w.File.Ret != 8 || w.File.Pos != 0 || w.File.Ino != oc.File.Ino || !w.Has(event.FlagProtected) {
		t.Errorf("write: count=%d ret=%d pos=%d ino=%d/%d flags=%#x", w.File.Count, w.File.Ret, w.File.Pos, w.File.Ino, oc.File.Ino, w.Flags)
	}
	pw := find("pwrite64(181)", func(ev *event.Event) bool {
		return ev.Op == event.OpFileWrite && ev.File.Path == created && ev.File.Syscall == 18
	})
	if pw.File.Pos != 1<<32+4096 || pw.File.Count != 2 || pw.File.Ret != 2 {
		t.Errorf("pwrite64: pos=%d count=%d ret=%d, want the two halves joined: %d", pw.File.Pos, pw.File.Count, pw.File.Ret, int64(1<<32+4096))
	}
	ch := find("fchown(95) with 16-bit ids", func(ev *event.Event) bool {
		return ev.Op == event.OpFileNS && ev.File.Kind == event.NSChown && ev.File.Path == created
	})
	if ch.File.Syscall != 93 || ch.File.UID != -1 || ch.File.GID != 0 {
		t.Errorf("fchown16: syscall=%d uid=%d gid=%d, want 93, -1 (0xffff widened), 0", ch.File.Syscall, ch.File.UID, ch.File.GID)
	}

	renamed := filepath.Join(dir, "renamed.csv")
	r := find("rename(38) inside", func(ev *event.Event) bool {
		return ev.Op == event.OpFileNS && ev.File.Kind == event.NSRename && ev.File.Syscall == 82
	})
	if r.File.Name != created || r.File.Name2 != renamed || r.File.Ret != 0 || r.File.Ino != oc.File.Ino {
		t.Errorf("rename: %q -> %q ret=%d ino=%d", r.File.Name, r.File.Name2, r.File.Ret, r.File.Ino)
	}
	moved := filepath.Join(outside, "out.csv")
	r2 := find("renameat2(353) out of the directory", func(ev *event.Event) bool {
		return ev.Op == event.OpFileNS && ev.File.Kind == event.NSRename && ev.File.Syscall == 316
	})
	if r2.File.Name != renamed || r2.File.Name2 != moved || r2.File.TargetPath != moved || r2.File.Ret != 0 {
		t.Errorf("renameat2: %q -> %q (target %q) ret=%d", r2.File.Name, r2.File.Name2, r2.File.TargetPath, r2.File.Ret)
	}
	u := find("unlink(10) of the moved file", func(ev *event.Event) bool {
		return ev.Op == event.OpFileNS && ev.File.Kind == event.NSUnlink
	})
	if u.File.Syscall != 87 || u.File.Name != moved || u.File.Ret != 0 || u.File.Ino != oc.File.Ino {
		t.Errorf("unlink: syscall=%d name=%q ret=%d ino=%d", u.File.Syscall, u.File.Name, u.File.Ret, u.File.Ino)
	}
	tr := find("truncate64(193) of the roster", func(ev *event.Event) bool {
		return ev.Op == event.OpFileNS && ev.File.Kind == event.NSTruncate
	})
	if tr.File.Syscall != 76 || tr.File.Name != roster || tr.File.Count != 3 || tr.File.Ret != 0 {
		t.Errorf("truncate64: syscall=%d name=%q len=%d ret=%d", tr.File.Syscall, tr.File.Name, tr.File.Count, tr.File.Ret)
	}

	copyPath := filepath.Join(outside, "copy.txt")
	wv := find("writev(146) by the tainted process, sampled", func(ev *event.Event) bool {
		return ev.Op == event.OpFileWrite && ev.File.Path == copyPath
	})
	if wv.File.Syscall != 20 || wv.File.Count != 2 || wv.File.Ret != 14 || !wv.Has(event.FlagTainted) ||
		!bytes.Equal(wv.Sample, []byte("sample-one")) {
		t.Errorf("writev: syscall=%d count=%d ret=%d flags=%#x sample=%q (the first compat_iovec)", wv.File.Syscall, wv.File.Count, wv.File.Ret, wv.Flags, wv.Sample)
	}

	dst := "127.0.0.1:" + strconv.Itoa(port)
	var connects []*event.Event
	for _, ev := range evs {
		if ev.Op == event.OpNetConnect {
			connects = append(connects, ev)
		}
	}
	if len(connects) != 3 {
		t.Fatalf("%d connect events, want 3 (connect(362), socketcall SYS_CONNECT, a refused connect(362))\n%s", len(connects), h.Dump())
	}
	refused := connects[2]
	if !refused.Compat || refused.Net.Syscall != 42 || refused.Net.Ret != -int64(syscall.ECONNREFUSED) ||
		refused.Net.Dst.String() != "127.0.0.1:"+strconv.Itoa(cport) {
		t.Errorf("refused connect: compat=%v syscall=%d dst=%s ret=%d, want the negative errno", refused.Compat, refused.Net.Syscall, refused.Net.Dst, refused.Net.Ret)
	}
	for _, c := range connects[:2] {
		if !c.Compat || c.Net.Syscall != 42 || c.Net.Dst.String() != dst || c.Net.Ret != 0 ||
			c.Net.Protocol != syscall.IPPROTO_TCP || c.Net.Src.Port() == 0 || !c.Has(event.FlagTainted) {
			t.Errorf("connect: compat=%v syscall=%d %s -> %s ret=%d proto=%d flags=%#x", c.Compat, c.Net.Syscall, c.Net.Src, c.Net.Dst, c.Net.Ret, c.Net.Protocol, c.Flags)
		}
	}
	send := find("socketcall SYS_SEND by the tainted process", func(ev *event.Event) bool {
		return ev.Op == event.OpNetSend && ev.Net.Protocol == syscall.IPPROTO_TCP
	})
	if send.Net.Syscall != 44 || send.Net.Dst.String() != dst || send.Net.Bytes != 18 || send.Net.Ret != 18 ||
		!bytes.Equal(send.Sample, []byte("sent-by-socketcall")) {
		t.Errorf("send: syscall=%d dst=%s bytes=%d ret=%d sample=%q", send.Net.Syscall, send.Net.Dst, send.Net.Bytes, send.Net.Ret, send.Sample)
	}
	dg := find("sendmsg(370) datagram", func(ev *event.Event) bool {
		return ev.Op == event.OpNetSend && ev.Net.Protocol == syscall.IPPROTO_UDP
	})
	if dg.Net.Syscall != 46 || dg.Net.Dst.String() != "127.0.0.1:9" || dg.Net.Ret != 8 || !bytes.Equal(dg.Sample, []byte("datagram")) {
		t.Errorf("sendmsg: syscall=%d dst=%s ret=%d sample=%q (compat msghdr name and iov)", dg.Net.Syscall, dg.Net.Dst, dg.Net.Ret, dg.Sample)
	}

	// A 64-bit program's records are not marked.
	pid = run(t, "/", "/bin/cat", roster)
	if ev := h.WaitFor("cat opens roster", fileEv(event.OpFileOpen, pid, roster)); ev.Compat {
		t.Error("a 64-bit open is marked compat")
	}
	st, err := h.s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Counters["compat_syscalls"]; n < 15 {
		t.Errorf("compat_syscalls = %d, want at least the 15 reported calls", n)
	}
}

// A 64-bit program using int $0x80 enters as ia32: reported, marked compat.
func TestCompatInt80From64Bit(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "int80")
	if out, err := exec.Command("gcc", "-static", "-no-pie", "-O1", "-Wall", "-o", bin, "testdata/int80.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc -static -no-pie: %v\n%s", err, out)
	}
	dir, roster := protectedDir(t)
	h := startSensor(t, dir)
	pid := run(t, "/", bin, roster)
	open := h.WaitFor("int $0x80 open(5) of the roster", fileEv(event.OpFileOpen, pid, roster))
	if !open.Compat || open.File.Syscall != 2 || open.File.Name != roster || !open.Has(event.FlagTainted) || !open.Has(event.FlagProtected) {
		t.Errorf("open: compat=%v syscall=%d name=%q flags=%#x", open.Compat, open.File.Syscall, open.File.Name, open.Flags)
	}
	ex := h.WaitFor("exec of int80", func(ev *event.Event) bool { return ev.Op == event.OpExec && int(ev.Proc.PID) == pid })
	if ex.Compat {
		t.Error("exec of a 64-bit program marked compat")
	}
}

// A 32-bit tracer of the sensor is reported like a 64-bit one.
func TestCompatSelfPtraced(t *testing.T) {
	bin := build32(t)
	h := startSensor(t, t.TempDir())
	pid := uint32(run(t, "/", bin, "ptrace", strconv.Itoa(os.Getpid())))
	seize := h.WaitFor("ptrace(26) seize", func(e *event.Event) bool {
		return e.Op == event.OpSelfPtrace && e.Proc.PID == pid && e.Self.Syscall == 101
	})
	if !seize.Compat || seize.Self.Request != 0x4206 || seize.Self.TargetPID != uint32(os.Getpid()) || !seize.Has(event.FlagSelf) {
		t.Errorf("seize: compat=%v %+v", seize.Compat, seize.Self)
	}
	vm := h.WaitFor("process_vm_readv(347)", func(e *event.Event) bool {
		return e.Op == event.OpSelfPtrace && e.Proc.PID == pid && e.Self.Syscall == 310
	})
	if !vm.Compat || vm.Self.TargetPID != uint32(os.Getpid()) {
		t.Errorf("process_vm_readv: compat=%v %+v", vm.Compat, vm.Self)
	}
}

// 32-bit work outside the protected directories gives no file events.
func TestCompatNothingOutsideProtected(t *testing.T) {
	bin := build32(t)
	dir, _ := protectedDir(t)
	outside := t.TempDir()
	h := startSensor(t, dir)
	pid := run(t, "/", bin, "outside", outside)
	h.Settle()
	var execs int
	for _, ev := range h.All(func(ev *event.Event) bool { return int(ev.Proc.PID) == pid }) {
		switch {
		case ev.Op == event.OpExec:
			execs++
			if !ev.Compat {
				t.Error("exec of a 32-bit program not marked compat")
			}
		case ev.File != nil:
			t.Errorf("file event outside the protected directories: %s %q", ev.Op, ev.File.Path)
		}
	}
	if execs != 1 {
		t.Errorf("%d exec events for the 32-bit program, want 1", execs)
	}
	if _, err := os.Stat(filepath.Join(outside, "moved.txt")); !os.IsNotExist(err) {
		t.Errorf("the program did not do its work: moved.txt %v", err)
	}
}
