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
// drops in the kernel and is counted there (see Stats). Run closes out.
//
// When ctx is done Run drains: it reads every record already in the ring
// and hands each to out, waiting for room (the traced processes are no
// longer held up by then if the caller called Detach first), then returns.
// The caller bounds the drain with its own timeout.
func (s *Sensor) Run(ctx context.Context, out chan<- *event.Event, clock Clock) error {
	defer close(out)
	rd, err := ringbuf.NewReader(s.maps.events)
	if err != nil {
		return fmt.Errorf("open ring buffer: %w", err)
	}
	// At ctx done: wake the reader to drain. The drain reads at most one
	// ring's worth, so it ends even if the programs were left attached.
	var draining atomic.Bool
	drained := 0
	stop := context.AfterFunc(ctx, func() {
		draining.Store(true)
		rd.Flush()
	})
	defer stop()
	defer rd.Close()
	s.rstats.ring.Store(rd)
	defer s.rstats.ring.Store(nil)

	if s.tls != nil {
		stopTLS := make(chan struct{})
		defer close(stopTLS)
		go s.runTLSDiscovery(stopTLS)
	}
	dec := Decoder{Clock: clock}
	var rec ringbuf.Record
	for {
		if drained > s.cfg.RingBufferBytes {
			return nil // more than the ring held at the stop: producers still run
		}
		now := time.Now()
		s.rstats.LastTurn.Store(now.UnixNano())
		rd.SetDeadline(now.Add(s.cfg.PollInterval))
		if err := rd.ReadInto(&rec); err != nil {
			// Both come only once every pending record was read.
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ringbuf.ErrFlushed) {
				if ctx.Err() != nil {
					return nil
				}
				continue
			}
			if errors.Is(err, ringbuf.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read ring buffer: %w", err)
		}
		s.rstats.Received.Add(1)
		if draining.Load() {
			drained += len(rec.RawSample) + 8 // 8: the record header
		}
		ev := new(event.Event)
		if err := dec.Decode(rec.RawSample, ev); err != nil {
			s.rstats.DecodeErrors.Add(1)
			s.noteDecodeError(err)
			continue
		}
		if ev.Op == event.OpNetConnect {
			s.noteConnect(ev.Proc.PID)
		}
		select {
		case out <- ev:
			s.rstats.Delivered.Add(1)
		default:
			if ctx.Err() != nil {
				out <- ev // draining at shutdown: nothing is lost
				s.rstats.Delivered.Add(1)
				continue
			}
			s.rstats.QueueFull.Add(1)
		}
	}
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
	{6, "compat_syscall_ignored", false},
	{7, "udp_send_deduplicated", false},
	{8, "stale_fd_entry", false},
	{9, "content_sample_truncated", false},
	{10, "pipe_tainted", false},
	{11, "self_deduplicated", false},
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
	st.Drops["queue_full"] = s.rstats.QueueFull.Load()
	st.Drops["decode_error"] = s.rstats.DecodeErrors.Load()
	st.DropsTotal += st.Drops["queue_full"] + st.Drops["decode_error"]
	return st, nil
}
