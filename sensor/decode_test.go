package sensor

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/bansho-sec/bansho/internal/event"
)

// fixedClock maps boot time 0 to 2026-01-01T00:00:00Z.
type fixedClock struct{}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (fixedClock) Wall(ns uint64) time.Time { return epoch.Add(time.Duration(ns)) }

// rec builds a record byte by byte, the way the kernel lays it out.
type rec struct{ b []byte }

func (r *rec) u8(v uint8)   { r.b = append(r.b, v) }
func (r *rec) u16(v uint16) { r.b = binary.LittleEndian.AppendUint16(r.b, v) }
func (r *rec) u32(v uint32) { r.b = binary.LittleEndian.AppendUint32(r.b, v) }
func (r *rec) u64(v uint64) { r.b = binary.LittleEndian.AppendUint64(r.b, v) }
func (r *rec) str(s string) { r.b = append(r.b, s...) }
func (r *rec) pad(n int)    { r.b = append(r.b, make([]byte, n)...) }

func (r *rec) hdr(op event.Op, flags uint8) {
	r.u8(uint8(op))
	r.u8(flags)
	r.u16(0) // size, patched by done
	r.u32(1) // cpu
	r.u64(5_000_000_000)
}

func (r *rec) proc() {
	for _, v := range []uint32{4242, 4243, 1, 1000, 1000, 0, 0, 1000, 7, 4000, 4242, 136<<20 | 2} {
		r.u32(v)
	}
	r.u64(99)        // cgroup id
	r.u64(1_000_000) // start
	r.u64(500)       // parent start
	r.u32(4026531840)
	r.u32(4026531836)
	comm := make([]byte, 16)
	copy(comm, "cat")
	r.b = append(r.b, comm...)
}

func (r *rec) done() []byte {
	binary.LittleEndian.PutUint16(r.b[2:], uint16(len(r.b)))
	return r.b
}

func decode(t *testing.T, b []byte) *event.Event {
	t.Helper()
	var ev event.Event
	d := Decoder{Clock: fixedClock{}}
	if err := d.Decode(b, &ev); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &ev
}

func TestDecodeExec(t *testing.T) {
	var r rec
	r.hdr(event.OpExec, event.FlagTruncated)
	r.proc()
	r.u32(4242) // old pid
	r.u16(8)    // filename
	r.u16(12)   // exe
	r.u16(4)    // cwd
	r.u16(18)   // args
	r.u32(3)
	r.str("/bin/cat/usr/bin/cat/srv")
	r.str("cat\x00-n\x00roster.csv\x00")
	ev := decode(t, r.done())

	if ev.Op != event.OpExec || !ev.Has(event.FlagTruncated) || ev.CPU != 1 {
		t.Fatalf("header: %+v", ev)
	}
	if !ev.Time.Equal(epoch.Add(5 * time.Second)) {
		t.Errorf("time %v", ev.Time)
	}
	p := ev.Proc
	if p.PID != 4242 || p.TID != 4243 || p.PPID != 1 || p.UID != 1000 || p.EUID != 0 || p.AUID != 1000 ||
		p.SessionID != 7 || p.SID != 4000 || p.PGID != 4242 || p.TTY != 136<<20|2 || p.CgroupID != 99 ||
		p.StartBoot != 1_000_000 || p.ParentStartBoot != 500 || p.MntNS != 4026531840 || p.PidNS != 4026531836 || p.Comm != "cat" {
		t.Errorf("proc: %+v", p)
	}
	x := ev.Exec
	if x.Filename != "/bin/cat" || x.Executable != "/usr/bin/cat" || x.Cwd != "/srv" || x.Argc != 3 ||
		strings.Join(x.Args, "|") != "cat|-n|roster.csv" {
		t.Errorf("exec: %+v", x)
	}
}

func fileRec(op event.Op, fd int32, kind event.NSKind, path, name, path2, name2 string) []byte {
	var r rec
	r.hdr(op, event.FlagProtected)
	r.proc()
	r.u64(0)  // ret
	r.u32(82) // nr
	r.u32(uint32(fd))
	r.u32(0x241)      // flags
	r.u32(0o644)      // mode
	r.u32(0xffffffff) // uid -1
	r.u32(1)          // gid
	r.u64(254 << 20)  // dev
	r.u64(77)         // ino
	r.u64(4096)       // count
	r.u64(uint64(0xffffffffffffffff))
	r.u32(0o100600)
	r.u32(1000)
	r.u32(1000)
	r.u16(uint16(kind))
	r.u16(uint16(len(path)))
	r.u16(uint16(len(name)))
	r.u16(uint16(len(path2)))
	r.u16(uint16(len(name2)))
	r.u16(0)
	r.str(path + name + path2 + name2)
	return r.done()
}

func TestDecodeFile(t *testing.T) {
	ev := decode(t, fileRec(event.OpFileOpen, 3, 0, "/srv/mynumber/roster.csv", "roster.csv", "", ""))
	f := ev.File
	if f.Path != "/srv/mynumber/roster.csv" || f.Name != "roster.csv" || f.FD != 3 || f.Flags != 0x241 ||
		f.Mode != 0o644 || f.UID != -1 || f.GID != 1 || f.Dev != 254<<20 || f.Ino != 77 || f.Count != 4096 ||
		f.Pos != -1 || f.IMode != 0o100600 || f.Syscall != 82 {
		t.Errorf("file: %+v", f)
	}

	// A path-based rename: anchors are the directories names are relative to.
	ev = decode(t, fileRec(event.OpFileNS, -1, event.NSRename, "/srv/mynumber", "../mynumber/a.csv", "/home/u", "b.csv"))
	f = ev.File
	if f.Kind != event.NSRename || f.Anchor != "/srv/mynumber" || f.Path != "/srv/mynumber/a.csv" || f.TargetPath != "/home/u/b.csv" {
		t.Errorf("rename: path=%q target=%q anchor=%q", f.Path, f.TargetPath, f.Anchor)
	}
	// Absolute names need no anchor.
	ev = decode(t, fileRec(event.OpFileNS, -1, event.NSUnlink, "", "/srv/mynumber/a.csv", "", ""))
	if ev.File.Path != "/srv/mynumber/a.csv" {
		t.Errorf("unlink path %q", ev.File.Path)
	}
	// A symlink's first name is its target text, not a path to resolve.
	ev = decode(t, fileRec(event.OpFileNS, -1, event.NSSymlink, "", "../secret.csv", "/tmp", "link"))
	if ev.File.Path != "/tmp/link" || ev.File.TargetPath != "../secret.csv" {
		t.Errorf("symlink path=%q target=%q", ev.File.Path, ev.File.TargetPath)
	}
	// fd-based calls carry the kernel-resolved path.
	ev = decode(t, fileRec(event.OpFileNS, 5, event.NSChmod, "/srv/mynumber/a.csv", "", "", ""))
	if ev.File.Path != "/srv/mynumber/a.csv" || ev.File.Anchor != "" {
		t.Errorf("fchmod path=%q anchor=%q", ev.File.Path, ev.File.Anchor)
	}
}

func TestDecodeNet(t *testing.T) {
	var r rec
	r.hdr(event.OpNetConnect, 0)
	r.proc()
	r.u64(uint64(0xffffffffffffff8d)) // -115 EINPROGRESS
	r.u32(42)
	r.u32(5)
	r.u16(10) // AF_INET6
	r.u16(1)  // SOCK_STREAM
	r.u16(6)  // TCP
	r.u16(40000)
	r.u16(443)
	r.u16(0)
	src := netip.MustParseAddr("::ffff:10.0.0.1").As16()
	dst := netip.MustParseAddr("2001:db8::1").As16()
	r.b = append(r.b, src[:]...)
	r.b = append(r.b, dst[:]...)
	r.pad(4) // alignment before bytes
	r.u64(0)
	ev := decode(t, r.done())
	n := ev.Net
	if n.Ret != -115 || n.Syscall != 42 || n.FD != 5 || n.Family != 10 || n.Type != 1 || n.Protocol != 6 {
		t.Errorf("net: %+v", n)
	}
	if n.Src.String() != "10.0.0.1:40000" || n.Dst.String() != "[2001:db8::1]:443" {
		t.Errorf("src %s dst %s", n.Src, n.Dst)
	}
}

func TestDecodeRejectsBadRecords(t *testing.T) {
	d := Decoder{Clock: fixedClock{}}
	var ev event.Event
	good := fileRec(event.OpFileOpen, 3, 0, "/a", "a", "", "")
	cases := map[string][]byte{
		"empty":          nil,
		"header only":    good[:hdrSize],
		"fixed part cut": good[:fileFixed-1],
		"strings cut":    append(append([]byte{}, good[:2]...), append([]byte{byte(len(good) + 5), 0}, good[4:]...)...),
	}
	for name, b := range cases {
		if err := d.Decode(b, &ev); !errors.Is(err, ErrShortRecord) {
			t.Errorf("%s: err %v, want ErrShortRecord", name, err)
		}
	}
	bad := append([]byte{}, good...)
	bad[0] = 77
	if err := d.Decode(bad, &ev); err == nil || !strings.Contains(err.Error(), "unknown opcode 77") {
		t.Errorf("unknown opcode: err %v", err)
	}
	// Lengths that point past the record must not panic or read beyond it.
	cut := fileRec(event.OpFileOpen, 3, 0, "/abc", "", "", "")
	binary.LittleEndian.PutUint16(cut[hdrSize+procSize+78:], 60000)
	if err := d.Decode(cut, &ev); !errors.Is(err, ErrShortRecord) {
		t.Errorf("oversized path length: err %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(fileRec(event.OpFileOpen, 3, 0, "/a", "a", "", ""))
	f.Add(fileRec(event.OpFileNS, -1, event.NSRename, "/x", "y", "/z", "w"))
	d := Decoder{Clock: fixedClock{}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev event.Event
		_ = d.Decode(b, &ev) // must not panic
	})
}

// The Go offsets above must match the C layouts in the compiled object.
func TestRecordLayout(t *testing.T) {
	spec, err := loadBansho()
	if err != nil {
		t.Fatal(err)
	}
	size := func(name string) int {
		var s *btf.Struct
		if err := spec.Types.TypeByName(name, &s); err != nil {
			t.Fatalf("%s not in the object's BTF: %v", name, err)
		}
		return int(s.Size)
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
	checks := []struct {
		name string
		got  int
		want int
	}{
		{"event_hdr", size("event_hdr"), hdrSize},
		{"proc_ctx", size("proc_ctx"), procSize},
		{"exec_event", size("exec_event"), execFixed},
		{"fork_event", size("fork_event"), forkSize},
		{"exit_event", size("exit_event"), exitSize},
		{"file_event", size("file_event"), fileFixed},
		{"net_event", size("net_event"), netSize},
		{"proc_ctx.cgroup_id", offset("proc_ctx", "cgroup_id"), 48},
		{"proc_ctx.comm", offset("proc_ctx", "comm"), 80},
		{"exec_event.argc", offset("exec_event", "argc"), hdrSize + procSize + 12},
		{"file_event.dev", offset("file_event", "dev"), hdrSize + procSize + 32},
		{"file_event.kind", offset("file_event", "kind"), hdrSize + procSize + 76},
		{"file_event.name2_len", offset("file_event", "name2_len"), hdrSize + procSize + 84},
		{"net_event.saddr", offset("net_event", "saddr"), hdrSize + procSize + 28},
		{"net_event.bytes", offset("net_event", "bytes"), hdrSize + procSize + 64},
		{"net_event.sample_len", offset("net_event", "sample_len"), hdrSize + procSize + 26},
		{"file_event.sample_len", offset("file_event", "sample_len"), hdrSize + procSize + 86},
		{"self_event", size("self_event"), selfSize},
		{"self_event.signo", offset("self_event", "signo"), hdrSize + procSize + 20},
		{"self_event.target_tid", offset("self_event", "target_tid"), hdrSize + procSize + 32},
		{"fold_key", size("fold_key"), foldKeySize},
		{"fold_val", size("fold_val"), foldValSize},
		{"repeat_event", size("repeat_event"), repeatSize},
		{"fold_key.result", offset("fold_key", "result"), 8},
		{"fold_key.oflags", offset("fold_key", "oflags"), 16},
		{"fold_key.dev", offset("fold_key", "dev"), 24},
		{"fold_key.addr", offset("fold_key", "addr"), 40},
		{"fold_key.start", offset("fold_key", "start"), 56},
		{"fold_val.count", offset("fold_val", "count"), 16},
		{"fold_val.bytes", offset("fold_val", "bytes"), 40},
		{"repeat_event.val", offset("repeat_event", "val"), hdrSize + foldKeySize},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: C says %d, Go decoder assumes %d", c.name, c.got, c.want)
		}
	}
}
