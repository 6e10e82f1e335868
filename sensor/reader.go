//go:build linux

package sensor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/bansho-sec/bansho/internal/event"
)

// ReaderStats counts what happened to records on the userspace side.
type ReaderStats struct {
	Received     atomic.Uint64 // records read from the ring buffer
	Delivered    atomic.Uint64 // events handed to the pipeline
	QueueFull    atomic.Uint64 // dropped: the pipeline queue was full
	DecodeErrors atomic.Uint64 // dropped: the record did not decode
	// LastTurn is when the read loop last went round (unix ns), whether
	// it got a record or its poll deadline passed: /healthz reads it.
	LastTurn atomic.Int64
	ring     atomic.Pointer[ringbuf.Reader] // for the fill gauge
}

// Run reads the ring buffer until ctx is done, decodes each record and hands
// it to out without ever waiting: when out is full the event is dropped and
// counted. The kernel side never waits for us either; a full ring buffer
// drops in the kernel and is counted there (see Stats). When ctx is done,
// Run detaches the programs (if the caller has not already, see Detach),
// drains: reads what is left in the ring and hands each event to out,
// waiting for room, so nothing already captured is lost; reports every open
// fold window, and closes out. The caller bounds the drain with its own
// timeout.
func (s *Sensor) Run(ctx context.Context, out chan<- *event.Event, clock Clock) error {
	defer close(out)
	rd, err := ringbuf.NewReader(s.maps.events)
	if err != nil {
		return fmt.Errorf("open ring buffer: %w", err)
	}
	defer rd.Close()
	s.rstats.ring.Store(rd)
	defer s.rstats.ring.Store(nil)

	if s.tls != nil {
		stopTLS := make(chan struct{})
		defer close(stopTLS)
		go s.runTLSDiscovery(stopTLS)
	}
	r := recordReader{s: s, out: out, clock: clock, dec: Decoder{Clock: clock, AliasSamples: true}}
	if s.cfg.FoldWindow > 0 {
		r.folds = newFolds(s.cfg.FoldWindow, s.foldCapacity())
	}
	sweepEvery := max(s.cfg.FoldWindow/2, 100*time.Millisecond)
	lastSweep := time.Now()
	var rec ringbuf.Record
	for ctx.Err() == nil {
		now := time.Now()
		s.rstats.LastTurn.Store(now.UnixNano())
		rd.SetDeadline(now.Add(s.cfg.PollInterval))
		err := rd.ReadInto(&rec)
		if r.folds != nil && time.Since(lastSweep) >= sweepEvery {
			lastSweep = time.Now()
			r.sweep(false)
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if errors.Is(err, ringbuf.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read ring buffer: %w", err)
		}
		if r.handle(rec.RawSample) {
			// The event holds the buffer now; the next sampled record
			// is likely as large.
			rec.RawSample = make([]byte, 0, len(rec.RawSample))
		}
	}
	// Stop the kernel side, then take everything it already produced: the
	// records in the ring and the counts of open fold windows (no program
	// can touch fold_map any more, so taking them races with nothing).
	s.Detach()
	r.draining = true
	rd.SetDeadline(time.Now())
	for drained := 0; drained <= s.cfg.RingBufferBytes; {
		s.rstats.LastTurn.Store(time.Now().UnixNano())
		if err := rd.ReadInto(&rec); err != nil {
			break
		}
		drained += len(rec.RawSample) + 8 // 8: the record header
		if r.handle(rec.RawSample) {
			rec.RawSample = nil
		}
	}
	if r.folds != nil {
		r.sweep(true)
	}
	return nil
}

// recordReader turns records into events for the pipeline.
type recordReader struct {
	s     *Sensor
	out   chan<- *event.Event
	clock Clock
	dec   Decoder
	folds *folds
	// draining: the programs are detached, so waiting for room in out
	// holds up no traced process; nothing read is dropped then.
	draining bool
}

// handle decodes and delivers one record. It reports whether the event
// kept part of raw (a content sample), which must then not be reused.
func (r *recordReader) handle(raw []byte) (kept bool) {
	s := r.s
	s.rstats.Received.Add(1)
	if len(raw) > 0 && event.Op(raw[0]) == event.OpRepeat {
		k, v, err := decodeRepeat(raw)
		if err != nil || r.folds == nil {
			s.rstats.DecodeErrors.Add(1)
			if err == nil {
				err = errors.New("repeat record while folding is off")
			}
			s.noteDecodeError(err)
			return
		}
		r.deliver(r.folds.summary(k, v, r.clock))
		return
	}
	ev := new(event.Event)
	if err := r.dec.Decode(raw, ev); err != nil {
		s.rstats.DecodeErrors.Add(1)
		s.noteDecodeError(err)
		return
	}
	if ev.Op == event.OpNetConnect {
		s.noteConnect(ev.Proc.PID)
	}
	if r.folds != nil && ev.Has(event.FlagFoldHead) {
		r.folds.noteHead(ev)
	}
	kept = ev.Sample != nil // before the pipeline owns ev
	r.deliver(ev)
	return kept
}

func (r *recordReader) deliver(ev *event.Event) {
	if r.draining {
		r.out <- ev
		r.s.rstats.Delivered.Add(1)
		return
	}
	select {
	case r.out <- ev:
		r.s.rstats.Delivered.Add(1)
	default:
		r.s.rstats.QueueFull.Add(1)
	}
}

// sweep takes the counts of fold windows that are over (all: every window,
// at shutdown) from the kernel and delivers their summaries.
func (r *recordReader) sweep(all bool) {
	s := r.s
	now := bootNowNS()
	end := uint64(s.cfg.FoldWindow + foldGrace)
	var k foldKey
	var v foldVal
	var done []foldKey
	it := s.maps.foldMap.Iterate()
	for it.Next(&k, &v) {
		if all || (now > v.HeadKtime && now-v.HeadKtime >= end) {
			done = append(done, k)
		}
	}
	if err := it.Err(); err != nil {
		s.log.Warn("fold sweep: iterate fold_map", "error", err)
	}
	for i := range done {
		if err := s.maps.foldMap.LookupAndDelete(&done[i], &v); err != nil {
			continue // gone already: the kernel reported it itself
		}
		if v.Count > 0 {
			// A document that no ring buffer record carried: counted, so
			// that received + swept accounts for every kernel event.
			s.foldSwept.Add(1)
			r.deliver(r.folds.summary(done[i], v, r.clock))
		} else {
			delete(r.folds.heads, headID{done[i].Tgid, v.HeadCpu, v.HeadKtime})
		}
	}
	r.folds.prune(now)
	s.foldSummaries.Store(r.folds.summaries)
	s.foldHeadsMissing.Store(r.folds.headsMissing)
	s.foldHeadsDropped.Store(r.folds.headsDropped)
}

func bootNowNS() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}

// noteDecodeError logs the first few decode errors; all are counted.
func (s *Sensor) noteDecodeError(err error) {
	if n := s.rstats.DecodeErrors.Load(); n <= 5 {
		s.log.Error("ring buffer record did not decode", "error", err, "count", n)
	}
}

// Stats is a snapshot of every counter, kernel and userspace.
type Stats struct {
	Received     uint64
	Delivered    uint64
	Drops        map[string]uint64 // by cause
	DropsTotal   uint64
	Counters     map[string]uint64 // kernel counters that are not drops
	RingBufBytes int               // ring buffer size
	RingBufUsed  int               // bytes waiting now
}

var kernelCounters = []struct {
	idx  uint32
	name string
	drop bool
}{
	{0, "ringbuf_full", true},
	{1, "user_read_failed", false},
	{2, "path_truncated", false},
	{3, "fd_table_full", false},
	{4, "proc_state_full", false},
	{5, "inflight_full", false},
	{6, "compat_syscalls", false},
	{7, "udp_send_deduplicated", false},
	{8, "stale_fd_entry", false},
	{9, "content_sample_truncated", false},
	{10, "pipe_tainted", false},
	{11, "self_deduplicated", false},
	{12, "tail_call_failed", true},
	{13, "content_sample_shed", false},
	{14, "fold_folded", false},
	{15, "fold_map_full", false},
}

// Stats reads the kernel's per-CPU counters and adds the reader's.
func (s *Sensor) Stats() (Stats, error) {
	st := Stats{
		Received:     s.rstats.Received.Load(),
		Delivered:    s.rstats.Delivered.Load(),
		Drops:        map[string]uint64{},
		Counters:     map[string]uint64{},
		RingBufBytes: s.cfg.RingBufferBytes,
	}
	for _, c := range kernelCounters {
		var per []uint64
		if err := s.maps.stats.Lookup(c.idx, &per); err != nil {
			return st, fmt.Errorf("read kernel counter %s: %w", c.name, err)
		}
		var sum uint64
		for _, v := range per {
			sum += v
		}
		if c.drop {
			st.Drops[c.name] = sum
			st.DropsTotal += sum
		} else {
			st.Counters[c.name] = sum
		}
	}
	// Per-opcode split of ring buffer drops, for the operator.
	for op := uint32(1); op < 32; op++ {
		var per []uint64
		if err := s.maps.drops.Lookup(op, &per); err != nil {
			continue
		}
		var sum uint64
		for _, v := range per {
			sum += v
		}
		if sum > 0 {
			st.Counters["ringbuf_full_"+event.Op(op).String()] = sum
		}
	}
	st.Counters["fold_summaries"] = s.foldSummaries.Load()
	st.Counters["fold_swept"] = s.foldSwept.Load()
	st.Counters["fold_heads_missing"] = s.foldHeadsMissing.Load()
	st.Counters["fold_heads_dropped"] = s.foldHeadsDropped.Load()
	st.Drops["queue_full"] = s.rstats.QueueFull.Load()
	st.Drops["decode_error"] = s.rstats.DecodeErrors.Load()
	st.DropsTotal += st.Drops["queue_full"] + st.Drops["decode_error"]
	return st, nil
}
