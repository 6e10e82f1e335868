package elasticsearch

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
	"github.com/bansho-sec/bansho/internal/store"
)

// runLoop runs a delivery loop from st to sink. drain waits up to 30s for
// lag 0, stops the loop and fails the test if Run failed; the test checks
// the lag itself.
func runLoop(t *testing.T, st *store.Store, sink delivery.Sink, opt delivery.Options) (loop *delivery.Loop, drain func()) {
	t.Helper()
	loop, err := delivery.New(delivery.Store{S: st}, sink, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()
	return loop, func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for loop.Lag() > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// Through the delivery loop and the real store: a 429 for a whole request
// and per-item 429s are retried with backoff until accepted; mapping
// rejections land in the store's dead-letter stream with Elasticsearch's
// reason and are counted; the cursor passes them, so delivery goes on.
func TestLoopRetriesAndDeadLetters(t *testing.T) {
	f := newFakeES(t)
	docs := testdocs.Docs("h1", 2000)
	bad := map[string]bool{docs[10].ID: true, docs[500].ID: true, docs[1999].ID: true} // the last is an alert
	streamOf := map[string]string{docs[10].ID: "events", docs[500].ID: "events", docs[1999].ID: "alerts"}
	busy := map[string]int{docs[20].ID: 2, docs[1500].ID: 1} // per-item 429 this many times
	f.bulk = func(n int, items []bulkItem) (int, string) {
		if n == 1 {
			return 429, body429
		}
		return 200, f.createAll(items, func(i int, it bulkItem) string {
			if bad[it.ID] {
				return mappingError(it)
			}
			if busy[it.ID] > 0 {
				busy[it.ID]--
				return rejected429(it)
			}
			return ""
		})
	}
	st, err := store.Open(store.Options{Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var bodies [][]byte
	for _, d := range docs {
		bodies = append(bodies, d.Body)
	}
	if err := st.Write(bodies); err != nil {
		t.Fatal(err)
	}
	sink := newSink(t, f, Options{Workers: 1})
	loop, drain := runLoop(t, st, sink, delivery.Options{BatchRecords: 700, BackoffMin: 20 * time.Millisecond})
	drain()
	if loop.Lag() != 0 {
		t.Fatalf("lag %d after 30s", loop.Lag())
	}
	if got := f.total(); got != len(docs)-len(bad) {
		t.Errorf("stored %d, want %d", got, len(docs)-len(bad))
	}
	if loop.Delivered() != uint64(len(docs)-len(bad)) || loop.DeadLettered() != uint64(len(bad)) {
		t.Errorf("delivered %d dead-lettered %d", loop.Delivered(), loop.DeadLettered())
	}
	if loop.Retried() == 0 || loop.Failed() == 0 {
		t.Errorf("retried %d failed %d: the 429s were not counted", loop.Retried(), loop.Failed())
	}

	// The dead letters keep the document and the reason.
	rd, err := st.NewReader(store.StreamDeadLetter, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	recs, _, err := rd.Read(nil, nil, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(bad) {
		t.Fatalf("%d dead letters, want %d", len(recs), len(bad))
	}
	for _, r := range recs {
		var dl struct {
			Bansho struct {
				DeadLetter struct{ Exporter, Reason, Stream string } `json:"dead_letter"`
			}
			Document json.RawMessage
		}
		if err := json.Unmarshal(r.Doc, &dl); err != nil {
			t.Fatalf("dead letter %s: %v", r.Doc, err)
		}
		id := testdocs.EventID(dl.Document)
		if !bad[id] || dl.Bansho.DeadLetter.Exporter != "elasticsearch" || dl.Bansho.DeadLetter.Stream != streamOf[id] ||
			!strings.Contains(dl.Bansho.DeadLetter.Reason, "document_parsing_exception") {
			t.Errorf("dead letter %+v for %s", dl.Bansho.DeadLetter, id)
		}
	}

	// The same numbers as metrics.
	c := &delivery.Collector{}
	c.Add(loop)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			if m.Label[0].GetValue() != "elasticsearch" {
				t.Errorf("%s: label %v", mf.GetName(), m.Label)
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			got[mf.GetName()] = v
		}
	}
	for name, want := range map[string]float64{
		"bansho_exporter_delivered_total":     float64(len(docs) - len(bad)),
		"bansho_exporter_dead_lettered_total": float64(len(bad)),
		"bansho_exporter_lag_records":         0,
		"bansho_exporter_retried_total":       float64(loop.Retried()),
		"bansho_exporter_up":                  1,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}
