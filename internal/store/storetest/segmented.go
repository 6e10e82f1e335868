package storetest

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/store"
)

// JobDoc is routine document i of a batch job: a file open by one of 20
// processes, a millisecond apart, small enough that a store of small
// segments holds many of them (the damage tests cut and flip segments).
func JobDoc(i int) []byte {
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	return []byte(fmt.Sprintf(`{"@timestamp":%q,"event":{"kind":"event","action":"open","category":["file"],"outcome":"success"},"process":{"entity_id":"p%d","pid":%d,"name":"job","executable":"/usr/bin/job"},"file":{"path":"/srv/data/f%d.csv"},"seq":%d}`,
		t0.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i%20, 1000+i%20, i%97, i))
}

// WriteJobs writes JobDoc from, ..., from+n-1 in writes of 100.
func WriteJobs(tb testing.TB, s *store.Store, from, n int) {
	tb.Helper()
	var batch [][]byte
	for i := from; i < from+n; i++ {
		batch = append(batch, JobDoc(i))
		if len(batch) == 100 || i == from+n-1 {
			if err := s.Write(batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// Segmented makes a closed store of n job documents (records 1 to n) in
// segments of 16 KiB, and returns its directory and the events segment
// files in order (at least minSegs of them).
func Segmented(tb testing.TB, n, minSegs int) (string, []string) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "store")
	s, err := store.Open(store.Options{Dir: dir, SegmentBytes: 16 << 10})
	if err != nil {
		tb.Fatal(err)
	}
	WriteJobs(tb, s, 1, n)
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, store.StreamEvents, "*.seg"))
	if len(segs) < minSegs {
		tb.Fatalf("only %d segments", len(segs))
	}
	return dir, segs
}
