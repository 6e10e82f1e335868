package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/exporters/file"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// Every event handed to the pipeline is written, in order, even when the
// source closes right after a burst.
func TestEveryEventIsWrittenInOrder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "events.json")
	f, err := file.New(file.Options{Path: out})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{Encoder: &ecs.Encoder{}, Exporters: []exporters.Exporter{f},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBatch: 100, FlushInterval: 10 * time.Millisecond}
	in := make(chan *event.Event, 20000)
	const n = 20000
	for i := 0; i < n; i++ {
		in <- &event.Event{Op: event.OpFork, Time: time.Unix(0, int64(i)), Proc: event.Process{PID: uint32(i)}, Fork: &event.Fork{}}
	}
	close(in)
	p.Run(context.Background(), in)
	p.Emit(&event.Event{Op: event.OpState, Time: time.Now(), State: &event.State{Action: "sensor-stopped"}})
	p.Close()

	fh, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	i := 0
	for sc.Scan() {
		var d struct {
			Process struct{ PID int } `json:"process"`
			Event   struct{ Action string }
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if i < n && d.Process.PID != i {
			t.Fatalf("line %d has pid %d: out of order or missing", i, d.Process.PID)
		}
		if i == n && d.Event.Action != "sensor-stopped" {
			t.Errorf("last document %q", d.Event.Action)
		}
		i++
	}
	if i != n+1 || p.Emitted() != n+1 || p.OutputErrors() != 0 {
		t.Errorf("%d lines, emitted %d, errors %d; want %d", i, p.Emitted(), p.OutputErrors(), n+1)
	}
}
