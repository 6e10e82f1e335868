package elasticsearch

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
	"github.com/bansho-sec/bansho/internal/store"
)

// An outage longer than the store can hold: the store removes its oldest
// routine segments, the exporter counts what it never got to deliver as
// skipped, and delivers the rest once the sink is back. Every record is
// either delivered or counted: none is lost silently.
func TestOutageLongerThanTheStoreIsCounted(t *testing.T) {
	f := newFakeES(t)
	var up atomic.Bool
	f.bulk = func(int, []bulkItem) (int, string) {
		if !up.Load() {
			return 503, body503
		}
		return 0, ""
	}
	// Uncompressed, so 4000 documents are five times what the store holds.
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 64 << 10, MinFreeBytes: 1, NoCompress: true,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sink := newSink(t, f, Options{})
	loop, drain := runLoop(t, st, sink, delivery.Options{BatchRecords: 200, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})

	docs := testdocs.Docs("h1", 4000) // about 5.5 MB: five times the store
	for i := 0; i < len(docs); i += 100 {
		var b [][]byte
		for _, d := range docs[i:min(i+100, len(docs))] {
			b = append(b, d.Body)
		}
		if err := st.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if loop.Failed() == 0 {
		time.Sleep(200 * time.Millisecond)
	}
	up.Store(true)
	drain()
	stats := st.Stats()
	total := st.Head("events") + st.Head("alerts")
	t.Logf("written %d, delivered %d, skipped %d, dead-lettered %d, store evicted %d (undelivered %d)",
		total, loop.Delivered(), loop.Skipped(), loop.DeadLettered(), stats.Evicted, stats.EvictedUndelivered)
	if loop.Lag() != 0 {
		t.Fatalf("lag %d", loop.Lag())
	}
	if loop.Skipped() == 0 || stats.EvictedUndelivered == 0 {
		t.Fatalf("skipped %d, store evicted undelivered %d: the test did not outlast the store", loop.Skipped(), stats.EvictedUndelivered)
	}
	if loop.Delivered()+loop.Skipped() != total {
		t.Errorf("delivered %d + skipped %d != written %d: records unaccounted for", loop.Delivered(), loop.Skipped(), total)
	}
	if uint64(f.total()) != loop.Delivered() {
		t.Errorf("server holds %d, loop delivered %d", f.total(), loop.Delivered())
	}
}
