package sensor

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// BootClock maps CLOCK_BOOTTIME (what the kernel stamps records and task
// start times with) to wall-clock time. Refresh it now and then so that NTP
// steps of the wall clock are followed.
type BootClock struct {
	offset atomic.Int64 // realtime ns - boottime ns
}

// NewBootClock returns a clock calibrated now.
func NewBootClock() *BootClock {
	c := &BootClock{}
	c.Refresh()
	return c
}

// Refresh recalibrates the offset, taking the tightest of a few samples.
func (c *BootClock) Refresh() {
	best := int64(0)
	bestSpan := int64(1 << 62)
	for i := 0; i < 3; i++ {
		var b1, b2 unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &b1)
		wall := time.Now().UnixNano()
		_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &b2)
		span := b2.Nano() - b1.Nano()
		if span < bestSpan {
			bestSpan = span
			best = wall - (b1.Nano()+b2.Nano())/2
		}
	}
	c.offset.Store(best)
}

// Wall converts boot-time nanoseconds to wall-clock time (UTC).
func (c *BootClock) Wall(bootNS uint64) time.Time {
	return time.Unix(0, int64(bootNS)+c.offset.Load()).UTC()
}

// BootNS is the current CLOCK_BOOTTIME in nanoseconds.
func BootNS() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}
