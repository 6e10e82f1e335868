package main

import (
	"os"
	"runtime/debug"
)

// Garbage collector settings for `bansho run`, unless GOGC or GOMEMLIMIT
// are set in the environment. The sensor allocates for every event (the
// event, its strings, a content sample of up to 4 KiB) while its live heap
// is small, so Go's default (GOGC=100) collects every few megabytes: under
// a stream of sampled writes that was a large share of the sensor's CPU.
// A higher GOGC collects less often; the soft memory limit makes the
// collector work harder instead of letting the heap grow past it.
const (
	gcPercent   = 400
	memoryLimit = 256 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
