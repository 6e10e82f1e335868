package sensor

import (
	"errors"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// repeatRecord lays out a struct repeat_event the way the kernel does.
func repeatRecord(op event.Op, tgid uint32, headKtime uint64, headCPU uint32, count, first, last, bytes uint64) []byte {
	var r rec
	r.hdr(event.OpRepeat, 0)
	r.u32(tgid)
	r.u8(uint8(op))
	r.u8(event.FlagProtected)
	r.u16(257)    // openat
	r.u64(1)      // result class
	r.u32(0o1101) // open flags
	r.u32(0)
	r.u64(8<<20 | 1) // dev
	r.u64(77)        // ino
	r.pad(16)
	r.u64(1_000_000) // process start
	r.u64(headKtime)
	r.u32(headCPU)
	r.u32(0)
	r.u64(count)
	r.u64(first)
	r.u64(last)
	r.u64(bytes)
	return r.done()
}

func TestFoldSummaryOfHead(t *testing.T) {
	f := newFolds(time.Second, 4)
	head := &event.Event{Op: event.OpFileWrite, Flags: event.FlagProtected | event.FlagFoldHead, CPU: 1,
		KTime: 5_000_000_000, Proc: event.Process{PID: 4242, Comm: "sh"},
		File: &event.File{Path: "/srv/p/a.log", Ret: 2, Dev: 8<<20 | 1, Ino: 77}}
	f.noteHead(head)
	head.File.Path = "changed by the pipeline" // the kept copy must not see it

	k, v, err := decodeRepeat(repeatRecord(event.OpFileWrite, 4242, 5_000_000_000, 1, 49, 5_100_000_000, 5_900_000_000, 98))
	if err != nil {
		t.Fatal(err)
	}
	ev := f.summary(k, v, fixedClock{})
	if ev.Op != event.OpFileWrite || ev.File.Path != "/srv/p/a.log" || ev.Proc.Comm != "sh" || ev.Has(event.FlagFoldHead) {
		t.Errorf("summary is not a copy of its head: %+v %+v", ev, ev.File)
	}
	r := ev.Repeat
	if r == nil || r.Count != 49 || r.Bytes != 98 || r.HeadMissing ||
		!r.First.Equal(epoch.Add(5100*time.Millisecond)) || !r.Last.Equal(epoch.Add(5900*time.Millisecond)) || !ev.Time.Equal(r.Last) {
		t.Errorf("repeat %+v time %v", r, ev.Time)
	}
	if len(f.heads) != 0 {
		t.Errorf("head kept after its summary: %d", len(f.heads))
	}
	// A second report for the same head (it was forgotten): the kernel's
	// identities, never nothing.
	ev = f.summary(k, v, fixedClock{})
	if !ev.Repeat.HeadMissing || ev.Proc.PID != 4242 || ev.Proc.StartBoot != 1_000_000 || ev.File.Ino != 77 || ev.File.Dev != 8<<20|1 || ev.File.Syscall != 257 {
		t.Errorf("headless summary %+v %+v", ev.Repeat, ev.File)
	}
}

func TestFoldHeadsBounded(t *testing.T) {
	f := newFolds(time.Second, 2)
	for i := uint64(1); i <= 3; i++ {
		f.noteHead(&event.Event{Op: event.OpFileOpen, KTime: i, Proc: event.Process{PID: 1}, File: &event.File{}})
	}
	if len(f.heads) != 2 || f.headsDropped != 1 {
		t.Errorf("%d heads kept, %d dropped; want 2 and 1", len(f.heads), f.headsDropped)
	}
	if _, ok := f.heads[headID{1, 0, 3}]; !ok {
		t.Error("the newest head was not kept")
	}
	f.prune(uint64(10 * time.Second))
	if len(f.heads) != 0 {
		t.Errorf("%d heads left after their windows ended long ago", len(f.heads))
	}
}

func TestDecodeRepeatShort(t *testing.T) {
	b := repeatRecord(event.OpFileOpen, 1, 1, 0, 1, 1, 1, 0)
	if _, _, err := decodeRepeat(b[:len(b)-1]); !errors.Is(err, ErrShortRecord) {
		t.Errorf("short repeat record: %v", err)
	}
}
