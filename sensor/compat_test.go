package sensor

import (
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

// EFX_COMPAT is the header's xflags byte, next to a 16-bit cpu.
func TestDecodeCompatMarker(t *testing.T) {
	b := fileRec(event.OpFileOpen, 3, 0, "/srv/mynumber/roster.csv", "roster.csv", "", "")
	if ev := decode(t, b); ev.Compat || ev.CPU != 1 {
		t.Errorf("native record: compat=%v cpu=%d", ev.Compat, ev.CPU)
	}
	b[5] = 0x03 // cpu 0x0301, still no compat
	b[6] = efxCompat
	ev := decode(t, b)
	if !ev.Compat || ev.CPU != 0x0301 || ev.File.Path != "/srv/mynumber/roster.csv" {
		t.Errorf("compat record: compat=%v cpu=%#x path=%q", ev.Compat, ev.CPU, ev.File.Path)
	}
}

// A summary whose head is gone still says the calls were 32-bit: the fold
// key carries EFX_COMPAT.
func TestHeadlessCompatSummary(t *testing.T) {
	b := repeatRecord(event.OpFileOpen, 4242, 5_000_000_000, 1, 3, 5_100_000_000, 5_200_000_000, 0)
	b[hdrSize+20] = efxCompat // fold_key.xflags
	k, v, err := decodeRepeat(b)
	if err != nil {
		t.Fatal(err)
	}
	f := newFolds(0, 4)
	if ev := f.summary(k, v, fixedClock{}); !ev.Repeat.HeadMissing || !ev.Compat || ev.File.Syscall != 257 {
		t.Errorf("headless compat summary: missing=%v compat=%v syscall=%d", ev.Repeat.HeadMissing, ev.Compat, ev.File.Syscall)
	}
	b[hdrSize+20] = 0
	k, v, _ = decodeRepeat(b)
	if ev := f.summary(k, v, fixedClock{}); ev.Compat {
		t.Error("headless native summary marked compat")
	}
}
