package metrics

import (
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
)

// What the counting wrapper adds to one batch write (512 documents),
// against an output that does nothing, so only the wrapper is measured:
// two clock reads, a histogram observation and a counter add per batch.
func BenchmarkOutputWrap(b *testing.B) {
	docs := make([][]byte, 512)
	for _, wrapped := range []bool{false, true} {
		name := "plain"
		if wrapped {
			name = "counted"
		}
		b.Run(name, func(b *testing.B) {
			var x exporters.Exporter = nopExporter{}
			if wrapped {
				x = NewOutputs().Wrap(x)
			}
			for i := 0; i < b.N; i++ {
				if err := x.Write(docs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// One scrape of everything bansho registers, encoded as Prometheus text.
func BenchmarkScrape(b *testing.B) {
	s := New(NewHealth(time.Second, nil))
	snap := SensorSnapshot{Read: 1e6, Queued: 1e6, Drops: map[string]uint64{"ringbuf_full": 1, "queue_full": 0,
		"decode_error": 0, "output_lost": 0}, Kernel: map[string]uint64{"user_read_failed": 1, "path_truncated": 0,
		"fd_table_full": 0, "proc_state_full": 0, "inflight_full": 0, "compat_syscalls": 0,
		"udp_send_deduplicated": 0, "stale_fd_entry": 0, "content_sample_truncated": 0, "pipe_tainted": 0}, RingSize: 8 << 20}
	s.Register(SensorCollector{Snapshot: func() (SensorSnapshot, error) { return snap, nil }})
	s.Register(PipelineCollector{Snapshot: func() PipelineSnapshot { return PipelineSnapshot{} }})
	o := NewOutputs()
	s.Register(o)
	o.Wrap(nopExporter{})
	h := s.Handler()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if code, _ := get(b, h, "/metrics"); code != 200 {
			b.Fatal(code)
		}
	}
}

type nopExporter struct{}

func (nopExporter) Name() string         { return "file" }
func (nopExporter) Write([][]byte) error { return nil }
func (nopExporter) Flush() error         { return nil }
func (nopExporter) Close() error         { return nil }
