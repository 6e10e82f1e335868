package pipeline

import (
	"bytes"
	"io"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/exporters/file"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/content"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// benchPipeline writes JSON lines to a real file, as `bansho run` does.
func benchPipeline(b *testing.B, scan bool) *Pipeline {
	f, err := file.New(file.Options{Path: filepath.Join(b.TempDir(), "events.json"), MaxBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	p := &Pipeline{Encoder: &ecs.Encoder{Version: "bench"}, Exporters: []exporters.Exporter{f},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if scan {
		det, err := content.NewDetector(content.Config{HashKey: []byte("bench-key-0123456789abcdef")})
		if err != nil {
			b.Fatal(err)
		}
		p.Content = &ContentScanner{Detector: det, SampleBytes: 4096}
	}
	b.Cleanup(p.Close)
	return p
}

func writeEvent(i int, sample []byte) *event.Event {
	flags := event.FlagProtected
	if sample != nil {
		flags = event.FlagTainted
	}
	return &event.Event{Op: event.OpFileWrite, Flags: flags, Time: time.Unix(1764547200, int64(i)), KTime: uint64(i),
		Proc: event.Process{PID: 4242, TID: 4242, PPID: 1, UID: 1000, EUID: 1000, AUID: 1000, SessionID: 3,
			StartBoot: 1e9, Comm: "driver"},
		Sample: sample,
		File: &event.File{Syscall: 1, Ret: 4096, FD: 4, Count: 4096, Pos: 0, Dev: 8 << 20, Ino: 99,
			IMode: 0o100600, Path: "/var/tmp/out/copy.csv"}}
}

// run pushes b.N events through write() in batches of 512, the way Run
// takes them from the queue; the events are made outside the timer. It
// returns and reports the CPU time per event.
func runBatches(b *testing.B, p *Pipeline, mk func(i int) *event.Event) float64 {
	const batch = 512
	evs := make([]*event.Event, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		evs = append(evs, mk(i))
		if len(evs) == batch {
			p.write(evs)
			evs = evs[:0]
		}
	}
	p.write(evs)
	p.flush()
	// CPU time, unlike ns/op, does not count the time other work on a
	// busy machine kept this process waiting.
	perOp := float64(cpuTime()-cpu0) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	return perOp
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// One write to protected data: encode and write out.
func BenchmarkPipelineFileWrite(b *testing.B) {
	p := benchPipeline(b, false)
	runBatches(b, p, func(i int) *event.Event { return writeEvent(i, nil) })
}

// One write of a tainted process with a 4 KiB sample of plain text: scan,
// encode and write out (issue 4's sampled-write path in userspace).
func BenchmarkPipelineSampledWrite(b *testing.B) {
	p := benchPipeline(b, true)
	text := bytes.Repeat([]byte("bansho overhead benchmark payload line\n"), 106)[:4096]
	runBatches(b, p, func(i int) *event.Event { return writeEvent(i, append([]byte(nil), text...)) })
}
