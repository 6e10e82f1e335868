package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/internal/store/storetest"
)

// routineDocs are documents of the simulated host, encoded by the real
// encoder (about 1.3 KiB each).
func routineDocs(n int) ([][]byte, int64) {
	var out [][]byte
	var bytes int64
	sim := storetest.New(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), 7, func(d []byte) {
		out = append(out, append([]byte(nil), d...))
		bytes += int64(len(d))
	})
	noise := sim.NewNoise()
	for len(out) < n {
		noise.Step()
		sim.Advance(10 * time.Millisecond)
	}
	return out[:n], bytes
}

// BenchmarkWrite measures store write throughput in documents per second
// and MB/s, batches of 512 as the pipeline writes them; with fsync, every
// batch is flushed and fsynced (the pipeline flushes at most 5 times a
// second, so this is the worst case).
func BenchmarkWrite(b *testing.B) {
	docs, total := routineDocs(8192)
	avg := total / int64(len(docs))
	for _, fsync := range []bool{false, true} {
		name := "fsync=off"
		if fsync {
			name = "fsync=on"
		}
		b.Run(name, func(b *testing.B) {
			s, err := store.Open(store.Options{Dir: filepath.Join(b.TempDir(), "store"), Fsync: fsync, MaxBytes: 64 << 30, MinFreeBytes: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(avg)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; {
				n := min(512, b.N-i)
				off := i % (len(docs) - 512)
				if err := s.Write(docs[off : off+n]); err != nil {
					b.Fatal(err)
				}
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
				i += n
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "docs/s")
		})
	}
}

// BenchmarkRead measures a consumer reading the stream from the start.
func BenchmarkRead(b *testing.B) {
	docs, total := routineDocs(8192)
	s, err := store.Open(store.Options{Dir: filepath.Join(b.TempDir(), "store"), MaxBytes: 64 << 30, MinFreeBytes: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 25; i++ {
		s.Write(docs)
	}
	b.SetBytes(total / int64(len(docs)))
	b.ResetTimer()
	start := time.Now()
	var r *store.Reader
	var recs []store.Record
	var arena []byte
	for i := 0; i < b.N; {
		if r == nil || r.Lag() == 0 {
			if r != nil {
				r.Close()
			}
			r, _ = s.NewReader(store.StreamEvents, 0)
		}
		recs, arena, err = r.Read(recs[:0], arena[:0], 512, 4<<20)
		if err != nil {
			b.Fatal(err)
		}
		i += len(recs)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "docs/s")
}
