package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
)

func records(docs []testdocs.Doc) []delivery.Record {
	out := make([]delivery.Record, len(docs))
	t0 := time.Date(2026, 12, 1, 3, 4, 5, 0, time.UTC)
	for i, d := range docs {
		out[i] = delivery.Record{Stream: "events", Seq: uint64(i + 1), Kind: d.Kind, Doc: d.Body, Time: t0.UnixNano()}
	}
	return out
}

func sendAll(t *testing.T, s *Sink, recs []delivery.Record) ([]delivery.Result, error) {
	t.Helper()
	res := make([]delivery.Result, len(recs))
	err := s.Send(context.Background(), recs, res)
	return res, err
}

func statuses(res []delivery.Result) map[delivery.Status]int {
	m := map[delivery.Status]int{}
	for _, r := range res {
		m[r.Status]++
	}
	return m
}

func newSink(t *testing.T, f *fakeES, opt Options) *Sink {
	t.Helper()
	opt.Addresses = []string{f.srv.URL}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Documents go into the data stream of their kind with op_type create and
// their event.id as _id; the template is installed first, with the
// configured headers and credentials on every request.
func TestBulkRoutesIntoDataStreams(t *testing.T) {
	f := newFakeES(t)
	f.apiKey = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
	s := newSink(t, f, Options{APIKey: f.apiKey, Template: TemplateOptions{Install: true},
		Headers: []string{"VL-Time-Field: @timestamp", "VL-Stream-Fields: host.name"}})
	docs := testdocs.Docs("h1", 500)
	res, err := sendAll(t, s, records(docs))
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(res); st[delivery.Delivered] != len(docs) {
		t.Fatalf("statuses %v", st)
	}
	want := map[string]int{}
	for _, d := range docs {
		want[map[string]string{"event": "logs-bansho.events-default", "alert": "logs-bansho.alerts-default", "metric": "logs-bansho.health-default"}[d.Kind]]++
	}
	for idx, n := range want {
		if got := f.count(idx); got != n {
			t.Errorf("%s: %d documents, want %d", idx, got, n)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range docs[:5] {
		idx := map[string]string{"event": "logs-bansho.events-default", "alert": "logs-bansho.alerts-default", "metric": "logs-bansho.health-default"}[d.Kind]
		if !bytes.Equal(f.docs[idx][d.ID], d.Body) {
			t.Errorf("document %s not stored under its event.id in %s", d.ID, idx)
		}
	}
	tmpl, ok := f.templates["bansho"]
	if !ok {
		t.Fatal("index template not installed")
	}
	var tm struct {
		Patterns []string `json:"index_patterns"`
	}
	json.Unmarshal(tmpl, &tm)
	if strings.Join(tm.Patterns, ",") != "logs-bansho.events-default,logs-bansho.alerts-default,logs-bansho.health-default" {
		t.Errorf("template patterns %v", tm.Patterns)
	}
	for _, h := range f.headers {
		if h.Get("VL-Time-Field") != "@timestamp" || h.Get("VL-Stream-Fields") != "host.name" {
			t.Fatalf("configured headers missing: %v", h)
		}
	}
}

func TestDatedIndices(t *testing.T) {
	f := newFakeES(t)
	s := newSink(t, f, Options{Mode: "index", Indices: Indices{Events: "bansho-events", Alerts: "bansho-alerts", Health: "bansho-health"}})
	recs := records(testdocs.Docs("h1", 100))
	if _, err := sendAll(t, s, recs); err != nil {
		t.Fatal(err)
	}
	if f.count("bansho-events-2026.12.01") == 0 || f.count("bansho-alerts-2026.12.01") == 0 || f.count("bansho-health-2026.12.01") == 0 {
		t.Fatalf("dated indices not used: %v", f.docs)
	}
	if got := s.Patterns(); strings.Join(got, ",") != "bansho-events-*,bansho-alerts-*,bansho-health-*" {
		t.Errorf("patterns %v", got)
	}
}

// 429 for the whole request: nothing is acknowledged, the error says the
// cluster is overloaded; the next attempt delivers everything.
func TestWhole429IsRetried(t *testing.T) {
	f := newFakeES(t)
	f.bulk = func(n int, items []bulkItem) (int, string) {
		if n == 1 {
			return 429, body429
		}
		return 0, ""
	}
	s := newSink(t, f, Options{Workers: 1}) // one request per batch
	recs := records(testdocs.Docs("h1", 50))
	res, err := sendAll(t, s, recs)
	if err == nil || !strings.Contains(err.Error(), "overloaded (429)") {
		t.Fatalf("error %v, want one about 429", err)
	}
	if st := statuses(res); st[delivery.Pending] != len(recs) {
		t.Fatalf("statuses %v, want all pending", st)
	}
	res, err = sendAll(t, s, recs)
	if err != nil || statuses(res)[delivery.Delivered] != len(recs) || f.total() != len(recs) {
		t.Fatalf("retry: %v %v, stored %d", err, statuses(res), f.total())
	}
}

func TestWhole503And401(t *testing.T) {
	f := newFakeES(t)
	f.bulk = func(int, []bulkItem) (int, string) { return 503, body503 }
	s := newSink(t, f, Options{})
	res, err := sendAll(t, s, records(testdocs.Docs("h1", 10)))
	if err == nil || !strings.Contains(err.Error(), "503") || statuses(res)[delivery.Pending] != 10 {
		t.Fatalf("503: %v %v", err, statuses(res))
	}

	f2 := newFakeES(t)
	f2.apiKey = "right"
	s2 := newSink(t, f2, Options{APIKey: "wrong"})
	res, err = sendAll(t, s2, records(testdocs.Docs("h1", 10)))
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") || !strings.Contains(err.Error(), "outputs.elasticsearch.username/password or api_key") {
		t.Fatalf("401: error %v", err)
	}
	if statuses(res)[delivery.Pending] != 10 {
		t.Fatalf("401: %v, want all pending (fix the key, nothing lost)", statuses(res))
	}
}

// Per-item outcomes: 429 and 503 stay pending, mapping errors and immense
// terms are rejected with Elasticsearch's reason, a 409 on create with our
// own id means the document is there already.
func TestPerItemOutcomes(t *testing.T) {
	f := newFakeES(t)
	docs := testdocs.Docs("h1", 10)
	f.bulk = func(n int, items []bulkItem) (int, string) {
		return 200, f.createAll(items, func(i int, it bulkItem) string {
			switch it.ID {
			case docs[1].ID:
				return rejected429(it)
			case docs[2].ID:
				return mappingError(it)
			case docs[3].ID:
				return unavailableItem(it)
			case docs[4].ID:
				return immenseTerm(it)
			case docs[5].ID:
				return conflict(it)
			}
			return ""
		})
	}
	s := newSink(t, f, Options{Workers: 1})
	recs := records(docs)
	res, err := sendAll(t, s, recs)
	if err == nil || !strings.Contains(err.Error(), "2 documents not accepted for now") {
		t.Errorf("error %v, want 2 documents pending", err)
	}
	want := map[int]delivery.Status{0: delivery.Delivered, 1: delivery.Pending, 2: delivery.Rejected, 3: delivery.Pending,
		4: delivery.Rejected, 5: delivery.Delivered, 6: delivery.Delivered}
	for i, st := range want {
		if res[i].Status != st {
			t.Errorf("document %d: status %d (%s), want %d", i, res[i].Status, res[i].Reason, st)
		}
	}
	if !strings.Contains(res[2].Reason, "status 400: document_parsing_exception: [1:412] failed to parse field [process.pid] of type [long]") ||
		!strings.Contains(res[2].Reason, "caused by illegal_argument_exception") {
		t.Errorf("mapping rejection reason %q", res[2].Reason)
	}
	if !strings.Contains(res[4].Reason, "immense term") {
		t.Errorf("immense term reason %q", res[4].Reason)
	}
}

// A document above max_document_bytes is rejected before sending; the
// rest of the batch goes through.
func TestOversizedDocument(t *testing.T) {
	f := newFakeES(t)
	s := newSink(t, f, Options{MaxDocumentBytes: 4096})
	recs := records(testdocs.Docs("h1", 3))
	recs[1].Doc = append(bytes.Clone(recs[1].Doc[:len(recs[1].Doc)-1]), []byte(`,"message":"`+strings.Repeat("x", 5000)+`"}`)...)
	res, err := sendAll(t, s, recs)
	if err != nil {
		t.Fatal(err)
	}
	if res[1].Status != delivery.Rejected || !strings.Contains(res[1].Reason, "outputs.elasticsearch.max_document_bytes (4096)") {
		t.Fatalf("oversized: %+v", res[1])
	}
	if res[0].Status != delivery.Delivered || res[2].Status != delivery.Delivered || f.total() != 2 {
		t.Fatalf("others: %v, stored %d", statuses(res), f.total())
	}
}

// Not permitted to install the template: a warning, and delivery goes on.
func TestTemplate403IsNotFatal(t *testing.T) {
	f := newFakeES(t)
	f.templateStatus = 403
	var logBuf bytes.Buffer
	s := newSink(t, f, Options{Template: TemplateOptions{Install: true}, Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	res, err := sendAll(t, s, records(testdocs.Docs("h1", 5)))
	if err != nil || statuses(res)[delivery.Delivered] != 5 {
		t.Fatalf("%v %v", err, statuses(res))
	}
	if !strings.Contains(logBuf.String(), "not permitted to install the index template") || !strings.Contains(logBuf.String(), "manage_index_templates") {
		t.Errorf("log: %s", logBuf.String())
	}
	// Tried once, not before every batch.
	sendAll(t, s, records(testdocs.Docs("h1", 5)))
	if n := strings.Count(logBuf.String(), "not permitted"); n != 1 {
		t.Errorf("template tried %d times", n)
	}
}

func TestGzipBodies(t *testing.T) {
	f := newFakeES(t)
	s := newSink(t, f, Options{Compress: true})
	res, err := sendAll(t, s, records(testdocs.Docs("h1", 200)))
	if err != nil || statuses(res)[delivery.Delivered] != 200 || f.total() != 200 {
		t.Fatalf("%v %v stored %d", err, statuses(res), f.total())
	}
	if f.headers[0].Get("Content-Encoding") != "gzip" {
		t.Error("body not gzipped")
	}
}

func TestOptionsErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x")
	os.WriteFile(notPEM, []byte("x"), 0o600)
	u := []string{"http://127.0.0.1:9200"}
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{}, "outputs.elasticsearch.addresses: at least one URL"},
		{Options{Addresses: []string{"es1:9200"}}, `outputs.elasticsearch.addresses[0]: "es1:9200" is not an http:// or https:// URL`},
		{Options{Addresses: u, Mode: "stream"}, `outputs.elasticsearch.mode: "stream" is not one of data_stream, index`},
		{Options{Addresses: u, DocumentID: "uuid"}, `outputs.elasticsearch.document_id: "uuid"`},
		{Options{Addresses: u, Indices: Indices{Events: "Bansho"}}, `outputs.elasticsearch.indices.events: "Bansho": must be lower case`},
		{Options{Addresses: u, Indices: Indices{Alerts: "_x"}}, `outputs.elasticsearch.indices.alerts: "_x": must not start`},
		{Options{Addresses: u, APIKey: "k", Username: "u", Password: "p"}, "outputs.elasticsearch.api_key: set either api_key or username and password"},
		{Options{Addresses: u, Username: "u"}, "outputs.elasticsearch.password: username and password go together"},
		{Options{Addresses: u, Headers: []string{"VL-Time-Field"}}, `outputs.elasticsearch.headers[0]: "VL-Time-Field" is not "Name: value"`},
		{Options{Addresses: u, CAFile: filepath.Join(dir, "nope")}, "outputs.elasticsearch.ca_file: no such file or directory"},
		{Options{Addresses: u, CAFile: notPEM}, "outputs.elasticsearch.ca_file: " + notPEM + " holds no PEM certificate"},
	} {
		_, err := New(c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opt, err, c.want)
		}
	}
}
