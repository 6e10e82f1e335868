package daemon

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// Garbage collector settings for `bansho run`. The sensor allocates for
// every event (the event, its strings, a content sample of up to 4 KiB)
// while its live heap is small, so Go's default (GOGC=100) collects every
// few megabytes: under a stream of sampled writes that was a large share
// of the sensor's CPU. GOGC=400 (unless GOGC is set) collects less often.
//
// Left alone, GOGC=400 lets the heap grow to five times what is live: with
// 10,000 processes in the table (16 MiB live) the whole sensor reached
// 115 MiB of RSS. So a soft memory limit follows the live heap, set after
// every collection to twice what survived it but never below memFloor:
// while little is live the collector runs as at GOGC=400 up to memFloor,
// and when much is live it runs as at GOGC=100, never in a loop against a
// limit the live heap has outgrown. The limit never exceeds the ceiling:
// GOMEMLIMIT from the environment (the unit and the DaemonSet set one
// under their cgroup limit), else memCeiling.
const (
	gcPercent  = 400
	memFloor   = 48 << 20
	memCeiling = 256 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ceiling := int64(memCeiling)
	if os.Getenv("GOMEMLIMIT") != "" {
		ceiling = debug.SetMemoryLimit(-1) // the environment's, as parsed by the runtime
	}
	t := &gcTuner{floor: memFloor, ceiling: ceiling}
	t.adjust()
	t.arm()
}

// gcTuner resets the soft memory limit after each collection.
type gcTuner struct {
	floor, ceiling int64
	sample         [1]metrics.Sample
	stopped        atomic.Bool // for tests: the next run of the finalizer is the last
}

// memLimit is the soft limit for a live heap of live bytes.
func memLimit(live, floor, ceiling int64) int64 {
	l := floor
	if live > math.MaxInt64/2 {
		l = math.MaxInt64
	} else if 2*live > l {
		l = 2 * live
	}
	return min(l, ceiling)
}

func (t *gcTuner) adjust() {
	t.sample[0].Name = "/gc/heap/live:bytes"
	metrics.Read(t.sample[:])
	var live int64
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = int64(min(t.sample[0].Value.Uint64(), math.MaxInt64))
	}
	debug.SetMemoryLimit(memLimit(live, t.floor, t.ceiling))
}

// arm runs adjust after the next collection: a finalizer runs once the
// collector has found its object unreachable, and each run arms the next.
func (t *gcTuner) arm() {
	sentinel := new([16]byte) // not a tiny or zero-size allocation: those may never be finalized
	runtime.SetFinalizer(sentinel, func(*[16]byte) {
		if t.stopped.Load() {
			return
		}
		t.adjust()
		t.arm()
	})
}
