package pipeline

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// writeCounter counts the writes and documents it is given.
type writeCounter struct {
	mu           sync.Mutex
	writes, docs int
}

func (w *writeCounter) Name() string { return "count" }
func (w *writeCounter) Write(d [][]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	w.docs += len(d)
	return nil
}
func (w *writeCounter) Flush() error { return nil }
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
