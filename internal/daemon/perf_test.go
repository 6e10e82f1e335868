package daemon

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestMemLimit(t *testing.T) {
	const floor, ceiling = 48 << 20, 256 << 20
	for _, c := range []struct{ live, want int64 }{
		{0, floor},
		{16 << 20, floor},        // little live: the floor
		{40 << 20, 80 << 20},     // twice the live heap
		{200 << 20, ceiling},     // never above the ceiling
		{math.MaxInt64, ceiling}, // no overflow
	} {
		if got := memLimit(c.live, floor, ceiling); got != c.want {
			t.Errorf("memLimit(%d) = %d, want %d", c.live, got, c.want)
		}
	}
	if got := memLimit(1<<30, floor, 32<<20); got != 32<<20 {
		t.Errorf("a ceiling under the floor: %d", got)
	}
}

// The tuner follows a real live heap up and back down, collection by
// collection.
func TestGCTunerFollowsLiveHeap(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	tu := &gcTuner{floor: 8 << 20, ceiling: 1 << 30}
	t.Cleanup(func() {
		tu.stopped.Store(true)
		debug.SetMemoryLimit(old)
	})
	tu.arm()
	waitLimit := func(ok func(int64) bool) int64 {
		t.Helper()
		var l int64
		for i := 0; i < 100; i++ {
			runtime.GC()
			time.Sleep(10 * time.Millisecond) // the finalizer runs on its own goroutine
			if l = debug.SetMemoryLimit(-1); ok(l) {
				return l
			}
		}
		t.Fatalf("memory limit stayed at %d", l)
		return l
	}
	live := make([]byte, 96<<20)
	for i := range live {
		live[i] = 1 // touch it, so it is really there
	}
	l := waitLimit(func(l int64) bool { return l >= 2*96<<20 })
	runtime.KeepAlive(live)
	live = nil
	l2 := waitLimit(func(l int64) bool { return l < 96<<20 })
	t.Logf("limit with 96 MiB live: %d MiB; after it was freed: %d MiB", l>>20, l2>>20)
	if l > 2*96<<20+32<<20 {
		t.Errorf("limit %d MiB is far above twice the live heap", l>>20)
	}
}
