package pipeline

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// writeCounter counts the writes and documents it is given.
type writeCounter struct {
	mu                    sync.Mutex
	writes, docs, flushes int
}

func (w *writeCounter) Name() string { return "count" }
func (w *writeCounter) Write(d [][]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	w.docs += len(d)
	return nil
}
func (w *writeCounter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushes++
	return nil
}
func (w *writeCounter) Close() error { return nil }

// runTrickle sends n events gap apart through a pipeline with the given
// window and returns the writes and documents its output saw.
func runTrickle(t *testing.T, window time.Duration, n int, gap time.Duration) (writes, docs int) {
	out := &writeCounter{}
	p := &Pipeline{Encoder: &ecs.Encoder{}, Exporters: []exporters.Exporter{out},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), BatchWindow: window}
	in := make(chan *event.Event)
	done := make(chan struct{})
	go func() { p.Run(context.Background(), in); close(done) }()
	for i := 0; i < n; i++ {
		in <- &event.Event{Op: event.OpFork, Time: time.Now(), Proc: event.Process{PID: uint32(i + 1)}, Fork: &event.Fork{}}
		time.Sleep(gap)
	}
	close(in)
	<-done
	return out.writes, out.docs
}

// Events that trickle in within the batch window are written together;
// without a window each is written as it comes. Nothing is lost either way.
func TestBatchWindowGathersATrickle(t *testing.T) {
	if w, d := runTrickle(t, 2*time.Second, 8, time.Millisecond); w != 1 || d != 8 {
		t.Errorf("window 2 s, 8 events 1 ms apart: %d writes of %d documents, want 1 of 8", w, d)
	}
	if w, d := runTrickle(t, -1, 8, 40*time.Millisecond); w < 4 || d != 8 {
		t.Errorf("no window, 8 events 40 ms apart: %d writes of %d documents, want about 8 of 8", w, d)
	}
}

// gate is an output whose writes wait until it is opened.
type gate struct {
	writeCounter
	open chan struct{}
	pids []int
}

func (g *gate) Write(d [][]byte) error {
	<-g.open
	for _, b := range d {
		var doc struct{ Process struct{ PID int } }
		json.Unmarshal(b, &doc)
		g.pids = append(g.pids, doc.Process.PID)
	}
	return g.writeCounter.Write(d)
}

// The pipeline encodes the next batch while the outputs write one, and no
// further: with the outputs stuck on a batch it takes two more (one into
// the second buffer, one that waits for a buffer), then stops reading its
// input (batches of one event here). When the outputs go on, everything is written, in
// order.
func TestOutputsRunBesideTheEncoder(t *testing.T) {
	out := &gate{open: make(chan struct{})}
	p := &Pipeline{Encoder: &ecs.Encoder{}, Exporters: []exporters.Exporter{out},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), BatchWindow: -1, MaxBatch: 1}
	in := make(chan *event.Event)
	done := make(chan struct{})
	go func() { p.Run(context.Background(), in); close(done) }()
	send := func(pid int, within time.Duration) bool {
		select {
		case in <- &event.Event{Op: event.OpFork, Time: time.Now(), Proc: event.Process{PID: uint32(pid)}, Fork: &event.Fork{}}:
			return true
		case <-time.After(within):
			return false
		}
	}
	for pid := 1; pid <= 3; pid++ {
		if !send(pid, 5*time.Second) {
			t.Fatalf("event %d not taken while the outputs write the first batch", pid)
		}
	}
	if send(4, 200*time.Millisecond) {
		t.Fatalf("the pipeline took a fourth batch with both buffers at the outputs")
	}
	close(out.open)
	if !send(4, 5*time.Second) {
		t.Fatal("the pipeline did not go on once the outputs did")
	}
	close(in)
	<-done
	if want := []int{1, 2, 3, 4}; !slices.Equal(out.pids, want) {
		t.Errorf("written %v, want %v", out.pids, want)
	}
	p.Emit(&event.Event{Op: event.OpFork, Time: time.Now(), Proc: event.Process{PID: 5}, Fork: &event.Fork{}})
	if n := len(out.pids); n != 5 || p.Emitted() != 5 {
		t.Errorf("Emit returned before the outputs had its document (%d written, %d counted)", n, p.Emitted())
	}
	p.Close()
}

// After Close the pipeline no longer has an output goroutine, and a late
// document (the daemon's last state document) goes straight to the
// outputs: written, then flushed, as Emit promises.
func TestEmitAfterClose(t *testing.T) {
	out := &writeCounter{}
	p := &Pipeline{Encoder: &ecs.Encoder{}, Exporters: []exporters.Exporter{out},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p.Emit(&event.Event{Op: event.OpFork, Time: time.Now(), Proc: event.Process{PID: 1}, Fork: &event.Fork{}})
	p.Close()
	w, d, f := out.writes, out.docs, out.flushes
	p.Emit(&event.Event{Op: event.OpFork, Time: time.Now(), Proc: event.Process{PID: 2}, Fork: &event.Fork{}})
	if out.writes != w+1 || out.docs != d+1 || out.flushes != f+1 {
		t.Errorf("Emit after Close: %d writes of %d documents, %d flushes; want %d, %d, %d",
			out.writes, out.docs, out.flushes, w+1, d+1, f+1)
	}
}
