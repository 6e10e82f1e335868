package sensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// Record layouts (bpf/include/bansho.h). TestRecordLayout checks these
// against the BTF of the compiled object, so a change on one side fails the
// build's tests instead of corrupting fields.
const (
	hdrSize     = 16
	procSize    = 96
	execFixed   = hdrSize + procSize + 16
	forkSize    = hdrSize + procSize + 8
	exitSize    = hdrSize + procSize + 8
	fileFixed   = hdrSize + procSize + 88
	netSize     = hdrSize + procSize + 72
	taskCommLen = 16
	maxArgs     = 256
)

// efxCompat is EFX_COMPAT of event_hdr.xflags (bansho.h).
const efxCompat = 1 << 0

// ErrShortRecord is returned for a record shorter than its opcode needs.
var ErrShortRecord = errors.New("short record")

var le = binary.LittleEndian

// Clock converts CLOCK_BOOTTIME nanoseconds to wall-clock time.
type Clock interface {
	Wall(bootNS uint64) time.Time
}

// Decoder turns raw ring-buffer records into events, without reflection.
// It is not safe for concurrent use.
type Decoder struct {
	Clock Clock
	// AliasSamples lets an event's Sample alias the record instead of
	// copying it; the caller must then not reuse that record's memory
	// (Sensor.Run hands the buffer over and reads the next record into a
	// new one).
	AliasSamples bool
	// strs holds the strings of recent records (paths, names, comms), so
	// that a process working on the same files again allocates nothing
	// for them: most records repeat strings an earlier one had.
	strs map[string]string
}

// maxInterned bounds the strings a Decoder keeps.
const maxInterned = 4096

// str returns b as a string, shared with earlier records that had it.
func (d *Decoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if v, ok := d.strs[string(b)]; ok { // no allocation for the lookup
		return v
	}
	if d.strs == nil || len(d.strs) >= maxInterned {
		d.strs = make(map[string]string, 256)
	}
	v := string(b)
	d.strs[v] = v
	return v
}

// Decode parses one record. The returned event owns no part of rec.
func (d *Decoder) Decode(rec []byte, ev *event.Event) error {
	if len(rec) < hdrSize {
		return fmt.Errorf("%w: %d bytes, header needs %d", ErrShortRecord, len(rec), hdrSize)
	}
	*ev = event.Event{
		Op:     event.Op(rec[0]),
		Flags:  rec[1],
		CPU:    uint32(le.Uint16(rec[4:])),
		Compat: rec[6]&efxCompat != 0,
		KTime:  le.Uint64(rec[8:]),
	}
	if size := int(le.Uint16(rec[2:])); size > len(rec) {
		return fmt.Errorf("%w: header says %d bytes, got %d", ErrShortRecord, size, len(rec))
	} else if size >= hdrSize {
		rec = rec[:size]
	}
	ev.Time = d.Clock.Wall(ev.KTime)
	need := minSize(ev.Op)
	if need == 0 {
		return fmt.Errorf("unknown opcode %d", ev.Op)
	}
	if len(rec) < need {
		return fmt.Errorf("%w: %s record of %d bytes, needs %d", ErrShortRecord, ev.Op, len(rec), need)
	}
	d.decodeProc(rec[hdrSize:], &ev.Proc)
	body := rec[hdrSize+procSize:]
	switch ev.Op {
	case event.OpExec:
		return d.decodeExec(body, rec[execFixed:], ev)
	case event.OpFork:
		ev.Fork = &event.Fork{ParentPID: le.Uint32(body)}
	case event.OpExit:
		ev.Exit = &event.Exit{Status: le.Uint32(body)}
	case event.OpFileOpen, event.OpFileWrite, event.OpFileNS:
		return d.decodeFile(body, rec[fileFixed:], ev)
	case event.OpSelfSignal, event.OpSelfPtrace:
		ev.Self = decodeSelf(body)
	default:
		ev.Net = decodeNet(body)
		if n := int(le.Uint16(body[26:])); n > 0 {
			if len(rec) < netSize+n {
				return fmt.Errorf("%w: sample of %d bytes, %d left", ErrShortRecord, n, len(rec)-netSize)
			}
			ev.Sample = d.sample(rec[netSize : netSize+n])
		}
	}
	return nil
}

// minSize is the fixed part of a record of op, or 0 for an unknown op.
func minSize(op event.Op) int {
	switch op {
	case event.OpExec:
		return execFixed
	case event.OpFork:
		return forkSize
	case event.OpExit:
		return exitSize
	case event.OpFileOpen, event.OpFileWrite, event.OpFileNS:
		return fileFixed
	case event.OpNetConnect, event.OpNetAccept, event.OpNetSend, event.OpTLSWrite:
		return netSize
	case event.OpSelfSignal, event.OpSelfPtrace:
		return selfSize
	}
	return 0
}

func (d *Decoder) decodeProc(b []byte, p *event.Process) {
	p.PID = le.Uint32(b[0:])
	p.TID = le.Uint32(b[4:])
	p.PPID = le.Uint32(b[8:])
	p.UID = le.Uint32(b[12:])
	p.GID = le.Uint32(b[16:])
	p.EUID = le.Uint32(b[20:])
	p.EGID = le.Uint32(b[24:])
	p.AUID = le.Uint32(b[28:])
	p.SessionID = le.Uint32(b[32:])
	p.SID = le.Uint32(b[36:])
	p.PGID = le.Uint32(b[40:])
	p.TTY = le.Uint32(b[44:])
	p.CgroupID = le.Uint64(b[48:])
	p.StartBoot = le.Uint64(b[56:])
	p.ParentStartBoot = le.Uint64(b[64:])
	p.MntNS = le.Uint32(b[72:])
	p.PidNS = le.Uint32(b[76:])
	p.Comm = d.str(cBytes(b[80 : 80+taskCommLen]))
	p.Start = d.Clock.Wall(p.StartBoot)
	if p.ParentStartBoot != 0 {
		p.ParentStart = d.Clock.Wall(p.ParentStartBoot)
	}
}

// strings cuts the variable part of a record into consecutive fields.
type strs struct {
	d   *Decoder
	b   []byte
	err error
}

func (s *strs) next(n int, what string) string {
	return s.d.str(s.bytes(n, what))
}

// bytes returns the next n bytes, aliasing the record.
func (s *strs) bytes(n int, what string) []byte {
	if s.err != nil {
		return nil
	}
	if n > len(s.b) {
		s.err = fmt.Errorf("%w: %s of %d bytes, %d left", ErrShortRecord, what, n, len(s.b))
		return nil
	}
	v := s.b[:n]
	s.b = s.b[n:]
	return v
}

func (d *Decoder) decodeExec(b, tail []byte, ev *event.Event) error {
	x := &event.Exec{OldPID: le.Uint32(b[0:]), Argc: le.Uint32(b[12:])}
	s := strs{d: d, b: tail}
	x.Filename = s.next(int(le.Uint16(b[4:])), "filename")
	x.Executable = s.next(int(le.Uint16(b[6:])), "executable")
	x.Cwd = s.next(int(le.Uint16(b[8:])), "cwd")
	args := string(s.bytes(int(le.Uint16(b[10:])), "args"))
	if s.err != nil {
		return s.err
	}
	x.Args = splitArgs(args)
	ev.Exec = x
	return nil
}

// splitArgs splits NUL-separated argv; a trailing cut argument is kept.
func splitArgs(a string) []string {
	a = strings.TrimSuffix(a, "\x00")
	if a == "" {
		return nil
	}
	parts := strings.SplitN(a, "\x00", maxArgs)
	return parts
}

func (d *Decoder) decodeFile(b, tail []byte, ev *event.Event) error {
	f := &event.File{
		Ret:     int64(le.Uint64(b[0:])),
		Syscall: le.Uint32(b[8:]),
		FD:      int32(le.Uint32(b[12:])),
		Flags:   le.Uint32(b[16:]),
		Mode:    le.Uint32(b[20:]),
		UID:     int64(int32(le.Uint32(b[24:]))),
		GID:     int64(int32(le.Uint32(b[28:]))),
		Dev:     le.Uint64(b[32:]),
		Ino:     le.Uint64(b[40:]),
		Count:   le.Uint64(b[48:]),
		Pos:     int64(le.Uint64(b[56:])),
		IMode:   le.Uint32(b[64:]),
		IUID:    le.Uint32(b[68:]),
		IGID:    le.Uint32(b[72:]),
		Kind:    event.NSKind(le.Uint16(b[76:])),
	}
	s := strs{d: d, b: tail}
	p := s.next(int(le.Uint16(b[78:])), "path")
	f.Name = s.next(int(le.Uint16(b[80:])), "name")
	f.Anchor2 = s.next(int(le.Uint16(b[82:])), "second anchor")
	f.Name2 = s.next(int(le.Uint16(b[84:])), "second name")
	if n := int(le.Uint16(b[86:])); n > 0 {
		ev.Sample = d.sample(s.bytes(n, "sample"))
	}
	if s.err != nil {
		return s.err
	}
	if ev.Op != event.OpFileNS || f.FD >= 0 {
		// The kernel resolved the object's path itself.
		f.Path = p
	} else {
		f.Anchor = p
		switch f.Kind {
		case event.NSSymlink:
			// Name is the link's target text, Name2 the new link.
			f.Path = joinPath(f.Anchor2, f.Name2)
			f.TargetPath = f.Name
		default:
			f.Path = joinPath(f.Anchor, f.Name)
			if f.Name2 != "" {
				f.TargetPath = joinPath(f.Anchor2, f.Name2)
			}
		}
	}
	ev.File = f
	return nil
}

// joinPath makes a user-supplied name absolute against the directory the
// kernel resolved for it. Only for display: membership was decided in the
// kernel by identity, not from this string.
func joinPath(anchor, name string) string {
	if name == "" {
		return ""
	}
	if strings.HasPrefix(name, "/") || anchor == "" {
		return path.Clean(name)
	}
	return path.Join(anchor, name)
}

func decodeNet(b []byte) *event.Net {
	n := &event.Net{
		Ret:      int64(le.Uint64(b[0:])),
		Syscall:  le.Uint32(b[8:]),
		FD:       int32(le.Uint32(b[12:])),
		Family:   le.Uint16(b[16:]),
		Type:     le.Uint16(b[18:]),
		Protocol: le.Uint16(b[20:]),
		Bytes:    le.Uint64(b[64:]),
	}
	sport, dport := le.Uint16(b[22:]), le.Uint16(b[24:])
	n.Src = netip.AddrPortFrom(addrOf(n.Family, b[28:44]), sport)
	n.Dst = netip.AddrPortFrom(addrOf(n.Family, b[44:60]), dport)
	return n
}

func addrOf(family uint16, b []byte) netip.Addr {
	switch family {
	case afInet:
		return netip.AddrFrom4([4]byte(b[:4]))
	case afInet6:
		a := netip.AddrFrom16([16]byte(b[:16]))
		if a.Is4In6() {
			return a.Unmap()
		}
		return a
	}
	return netip.Addr{}
}

const (
	afInet  = 2
	afInet6 = 10
)

// sample is the event's copy of a content sample, or b itself when the
// caller gave the record away (AliasSamples).
func (d *Decoder) sample(b []byte) []byte {
	if b == nil || d.AliasSamples {
		return b
	}
	return append([]byte(nil), b...)
}

// cBytes is b up to its first NUL.
func cBytes(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
