package sensor

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// Folding (sensor.fold_window): the kernel counts repeated identical calls
// under the record that opened their window (the head, FlagFoldHead)
// instead of emitting each. The counts arrive as OP_REPEAT records, or are
// taken from fold_map by the sweep once a window is over. Either way they
// become one summary event: a copy of the head with Repeat set. Heads are
// kept here until their window's count is in, bounded by maxHeads.

// Layout of struct repeat_event (bpf/include/bansho.h); TestRecordLayout
// checks it against the object's BTF.
const (
	foldKeySize = 64
	foldValSize = 48
	repeatSize  = hdrSize + foldKeySize + foldValSize
)

// foldGrace is how long past a window's end the sweep waits before it takes
// the window's entry: a kernel program that found the window open (it read
// the clock before the end) has long finished counting by then.
const foldGrace = 100 * time.Millisecond

type headID struct {
	tgid, cpu uint32
	ktime     uint64
}

type folds struct {
	window   time.Duration
	maxHeads int
	heads    map[headID]*event.Event

	summaries    uint64 // summary events made
	headsMissing uint64 // summaries made without their head
	headsDropped uint64 // heads forgotten because the table was full
}

func newFolds(window time.Duration, maxHeads int) *folds {
	return &folds{window: window, maxHeads: maxHeads, heads: make(map[headID]*event.Event)}
}

// noteHead keeps a copy of a head event, for the summary of its window.
// The copy shares only immutable strings with ev, which the pipeline owns.
func (f *folds) noteHead(ev *event.Event) {
	if len(f.heads) >= f.maxHeads {
		// Keep the table bounded: forget one head (map order is random,
		// so this is O(1), not a search for the oldest). Its window's
		// summary will still carry the count, with the kernel's identities.
		for id := range f.heads {
			delete(f.heads, id)
			break
		}
		f.headsDropped++
	}
	f.heads[headID{ev.Proc.PID, ev.CPU, ev.KTime}] = cloneEvent(ev)
}

func cloneEvent(ev *event.Event) *event.Event {
	c := *ev
	if ev.File != nil {
		x := *ev.File
		c.File = &x
	}
	if ev.Net != nil {
		x := *ev.Net
		c.Net = &x
	}
	c.Flags &^= event.FlagFoldHead
	c.Sample, c.Content, c.Enriched = nil, nil, nil
	return &c
}

// foldKey and foldVal are struct fold_key and fold_val.
type foldKey = banshoFoldKey
type foldVal = banshoFoldVal

func decodeRepeat(rec []byte) (foldKey, foldVal, error) {
	var k foldKey
	var v foldVal
	if len(rec) < repeatSize {
		return k, v, errShort("repeat", len(rec), repeatSize)
	}
	b := rec[hdrSize:]
	k.Tgid = le.Uint32(b[0:])
	k.Op = b[4]
	k.Flags = b[5]
	k.Nr = le.Uint16(b[6:])
	k.Result = int64(le.Uint64(b[8:]))
	k.Oflags = le.Uint32(b[16:])
	k.Xflags = le.Uint32(b[20:])
	k.Dev = le.Uint64(b[24:])
	k.Ino = le.Uint64(b[32:])
	copy(k.Addr[:], b[40:56])
	k.Start = le.Uint64(b[56:])
	b = b[foldKeySize:]
	v.HeadKtime = le.Uint64(b[0:])
	v.HeadCpu = le.Uint32(b[8:])
	v.Count = le.Uint64(b[16:])
	v.First = le.Uint64(b[24:])
	v.Last = le.Uint64(b[32:])
	v.Bytes = le.Uint64(b[40:])
	return k, v, nil
}

// summary makes the event for a closed window, and forgets its head.
func (f *folds) summary(k foldKey, v foldVal, clock Clock) *event.Event {
	id := headID{k.Tgid, v.HeadCpu, v.HeadKtime}
	rep := &event.Repeat{Count: v.Count, First: clock.Wall(v.First), Last: clock.Wall(v.Last), Bytes: v.Bytes}
	ev, ok := f.heads[id]
	if ok {
		delete(f.heads, id)
	} else {
		ev = headless(k)
		ev.Proc.Start = clock.Wall(k.Start)
		rep.HeadMissing = true
		f.headsMissing++
	}
	ev.Repeat = rep
	ev.KTime = v.Last
	ev.Time = rep.Last
	f.summaries++
	return ev
}

// headless is what the kernel's fold key says about a call whose head
// record is not at hand.
func headless(k foldKey) *event.Event {
	ev := &event.Event{Op: event.Op(k.Op), Flags: k.Flags, Compat: k.Xflags&efxCompat != 0}
	ev.Proc.PID = k.Tgid
	ev.Proc.TID = k.Tgid
	ev.Proc.StartBoot = k.Start
	switch ev.Op {
	case event.OpFileOpen, event.OpFileWrite:
		ev.File = &event.File{Syscall: uint32(k.Nr), FD: -1, Pos: -1, UID: -1, GID: -1,
			Flags: k.Oflags, Dev: k.Dev, Ino: k.Ino}
		if ev.Op == event.OpFileWrite && k.Result != 1 {
			ev.File.Ret = k.Result
		}
	default:
		family, port := uint16(k.Dev>>16), uint16(k.Dev)
		addr := netip.AddrPortFrom(addrOf(family, k.Addr[:]), 0)
		n := &event.Net{Syscall: uint32(k.Nr), FD: -1, Family: family}
		if ev.Op == event.OpNetAccept {
			n.Src = netip.AddrPortFrom(netip.Addr{}, port)
			n.Dst = addr // the peer, as accept records carry it
		} else {
			n.Dst = netip.AddrPortFrom(addr.Addr(), port)
			n.Ret = k.Result
		}
		ev.Net = n
	}
	return ev
}

// prune forgets heads whose window ended long ago: their count, if any,
// was lost with its OP_REPEAT record in a full ring (counted there).
func (f *folds) prune(nowBoot uint64) {
	old := uint64(3*f.window + foldGrace)
	for id := range f.heads {
		if nowBoot > id.ktime && nowBoot-id.ktime > old {
			delete(f.heads, id)
		}
	}
}

func errShort(what string, got, need int) error {
	return fmt.Errorf("%w: %s record of %d bytes, needs %d", ErrShortRecord, what, got, need)
}
