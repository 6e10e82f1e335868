package timeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/internal/store/storetest"
)

var (
	dayOnce sync.Once
	dayDir  string
	dayDocs int
	dayEnd  time.Time
	dayErr  error
	tmpDirs []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tmpDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// recordDay writes a day of the simulated host into a store: routine
// activity at a steady rate, the incident in the last hour.
// BANSHO_BENCH_DAY_DOCS sets the number of documents (default 2,000,000,
// about 23 a second, a busy database server).
func recordDay(b *testing.B) (string, int, time.Time) {
	dayOnce.Do(func() {
		n := 2_000_000
		if v := os.Getenv("BANSHO_BENCH_DAY_DOCS"); v != "" {
			n, dayErr = strconv.Atoi(v)
			if dayErr != nil {
				return
			}
		}
		dir, err := os.MkdirTemp("", "bansho-timeline-bench")
		if err != nil {
			dayErr = err
			return
		}
		tmpDirs = append(tmpDirs, dir)
		dayDir = filepath.Join(dir, "store")
		s, err := store.Open(store.Options{Dir: dayDir, MaxBytes: 64 << 30, MinFreeBytes: 1 << 30})
		if err != nil {
			dayErr = err
			return
		}
		var batch [][]byte
		var arena []byte
		flush := func() {
			if err := s.Write(batch); err != nil && dayErr == nil {
				dayErr = err
			}
			batch, arena = batch[:0], arena[:0]
		}
		sim := storetest.New(start, 42, func(d []byte) {
			a := len(arena)
			arena = append(arena, d...)
			batch = append(batch, arena[a:])
			dayDocs++
		})
		noise := sim.NewNoise()
		sshd := noise.SSHD()
		step := 24 * time.Hour * 154 / 100 / time.Duration(n) // a step makes about 1.54 documents
		incidentAt := start.Add(23*time.Hour + 40*time.Minute)
		done := false
		t0 := time.Now()
		for sim.Now.Before(start.Add(24 * time.Hour)) {
			noise.Step()
			sim.Advance(step)
			if !done && sim.Now.After(incidentAt) {
				flush()
				sim.Incident(sshd)
				done = true
			}
			if len(batch) >= 512 {
				// The arena is reused: write before it grows past the batch.
				flush()
			}
		}
		flush()
		dayEnd = sim.Now
		if err := s.Close(); err != nil && dayErr == nil {
			dayErr = err
		}
		st, _ := dirSize(dayDir)
		fmt.Fprintf(os.Stderr, "recorded %d documents over %s (%.1f/s) in %s: %d MB on disk\n",
			dayDocs, dayEnd.Sub(start).Round(time.Minute), float64(dayDocs)/dayEnd.Sub(start).Seconds(), time.Since(t0).Round(time.Second), st>>20)
	})
	if dayErr != nil {
		b.Fatal(dayErr)
	}
	return dayDir, dayDocs, dayEnd
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// BenchmarkTimelineDay measures `bansho timeline` over a day of recorded
// events: open the store, select, build the tree and print it.
func BenchmarkTimelineDay(b *testing.B) {
	dir, _, end := recordDay(b)
	cases := []struct {
		name string
		f    Filter
	}{
		{"file-since-24h", Filter{File: "/srv/mynumber/roster.csv", Since: end.Add(-24 * time.Hour)}},
		{"file-since-1h", Filter{File: "/srv/mynumber/roster.csv", Since: end.Add(-time.Hour)}},
		{"user-since-24h", Filter{User: "tanaka", Since: end.Add(-24 * time.Hour)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s, err := store.OpenReadOnly(dir, nil)
				if err != nil {
					b.Fatal(err)
				}
				tl, err := FromStore(s, c.f, 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := tl.WriteText(discard{}, time.UTC); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(tl.Read), "docs-read")
				b.ReportMetric(float64(tl.Docs), "docs-shown")
				if tl.Docs < 20 {
					b.Fatalf("the incident was not found: %d documents", tl.Docs)
				}
				s.Close()
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
