package ecs

import "github.com/bansho-sec/bansho/internal/event"

// repeat writes bansho.repeat: how many identical calls the kernel folded
// into this summary document (sensor.fold_window), and when they happened.
// The rest of a summary repeats the first, reported call.
func repeat(o *obj, ev *event.Event) {
	r := ev.Repeat
	if r == nil {
		return
	}
	o.section("repeat")
	o.uint("count", r.Count)
	o.time("first", r.First)
	o.time("last", r.Last)
	if ev.Op == event.OpFileWrite {
		o.uint("bytes", r.Bytes)
	}
	if r.HeadMissing {
		o.boolean("head_missing", true)
	}
	o.close()
}
