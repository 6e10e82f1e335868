package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/bansho-sec/bansho/exporters/file"
)

func get(t testing.TB, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestHealthzStallAndReadyz(t *testing.T) {
	now := time.Unix(1000, 0)
	h := NewHealth(10*time.Second, nil)
	h.now = func() time.Time { return now }
	var readerTurn, tickTurn time.Time
	h.Loop("reader", 0, func() time.Time { return readerTurn })
	h.Loop("health", 30*time.Second, func() time.Time { return tickTurn })
	h.Need("probes_attached", "first_health_tick")
	srv := New(h).Handler()

	// Not turned yet: ages count from registration.
	if code, body := get(t, srv, "/healthz"); code != 200 || !strings.Contains(body, "reader: ok") {
		t.Errorf("fresh: %d %q", code, body)
	}
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "first_health_tick, probes_attached") {
		t.Errorf("readyz before: %d %q", code, body)
	}
	h.Ready("probes_attached")
	h.Ready("first_health_tick")
	if code, body := get(t, srv, "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("readyz after: %d %q", code, body)
	}

	readerTurn, tickTurn = now, now
	now = now.Add(11 * time.Second) // past stall_after for the reader, not for the 30s health loop
	code, body := get(t, srv, "/healthz")
	if code != 503 || !strings.Contains(body, "reader: stalled (last turn 11s ago)") || !strings.Contains(body, "health: ok") {
		t.Errorf("stalled reader: %d %q", code, body)
	}
	if s := h.Stalled(); len(s) != 1 || !strings.HasPrefix(s[0], "reader last turned 11s ago") {
		t.Errorf("Stalled: %v", s)
	}
	readerTurn = now
	if code, _ := get(t, srv, "/healthz"); code != 200 {
		t.Errorf("reader turned again: %d", code)
	}
	now = now.Add(30 * time.Second)
	if code, body := get(t, srv, "/healthz"); code != 503 || !strings.Contains(body, "health: stalled") {
		t.Errorf("health loop past interval+stall: %d %q", code, body)
	}

	h.Stopping()
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "stopping") {
		t.Errorf("readyz while stopping: %d %q", code, body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	s := New(NewHealth(time.Second, nil))
	snap := SensorSnapshot{Read: 42, Queued: 40, Drops: map[string]uint64{"ringbuf_full": 3, "queue_full": 2},
		Kernel:   map[string]uint64{"user_read_failed": 7, "path_truncated": 1, "ringbuf_full_exec": 3},
		RingSize: 1 << 20, RingUsed: 1 << 18, QueueLen: 5, QueueCap: 100}
	if err := s.Register(SensorCollector{Snapshot: func() (SensorSnapshot, error) { return snap, nil }}); err != nil {
		t.Fatal(err)
	}
	if err := s.Register(PipelineCollector{Snapshot: func() PipelineSnapshot {
		return PipelineSnapshot{Encoded: 40, Scanned: 9, MyNumberHits: 2, Rest: true, RestScanned: 4, RestBytes: 65536,
			RestSkipped: map[string]uint64{"too_large": 1, "queue_full": 0}, RestPending: 2}
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Register(BuildInfo("1.2.3 (abcdef012345)")); err != nil {
		t.Fatal(err)
	}
	// A second registration of the same metrics is refused, by name.
	if err := s.Register(PipelineCollector{}); err == nil || !strings.Contains(err.Error(), "metrics: register") {
		t.Errorf("duplicate registration: %v", err)
	}
	code, body := get(t, s.Handler(), "/metrics")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	for _, want := range []string{
		"bansho_sensor_events_read_total 42", "bansho_sensor_events_queued_total 40",
		`bansho_sensor_drops_total{cause="ringbuf_full"} 3`, `bansho_sensor_drops_total{cause="queue_full"} 2`,
		"bansho_sensor_user_read_failures_total 7", `bansho_sensor_kernel_counter_total{counter="path_truncated"} 1`,
		`bansho_sensor_ringbuf_drops_by_kind_total{kind="exec"} 3`, "bansho_sensor_ringbuf_fill_ratio 0.25",
		"bansho_sensor_queue_length 5", "bansho_pipeline_documents_encoded_total 40", "bansho_content_scans_total 9",
		`bansho_content_findings_total{kind="my_number"} 2`, "bansho_content_rest_scans_total 4",
		"bansho_content_rest_bytes_total 65536", `bansho_content_rest_skipped_total{reason="too_large"} 1`, "bansho_content_rest_pending 2", "go_goroutines", "process_open_fds",
		`bansho_build_info{goversion="go`, `version="1.2.3 (abcdef012345)"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `counter="user_read_failed"`) || strings.Contains(body, `counter="ringbuf_full_exec"`) {
		t.Error("a counter exported twice under the generic name")
	}
	// Names follow bansho_<area>_<what>, counters end in _total.
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		n := mf.GetName()
		if strings.HasPrefix(n, "go_") || strings.HasPrefix(n, "process_") {
			continue
		}
		if !strings.HasPrefix(n, "bansho_") || (mf.GetType() == dto.MetricType_COUNTER) != strings.HasSuffix(n, "_total") {
			t.Errorf("metric name %s (%s)", n, mf.GetType())
		}
	}
}

// The wrapper counts what the real file exporter accepts and loses: on
// /dev/full every flush fails with ENOSPC and loses what was buffered.
func TestOutputCounts(t *testing.T) {
	o := NewOutputs()
	ok, err := file.New(file.Options{Path: filepath.Join(t.TempDir(), "ok.json")})
	if err != nil {
		t.Fatal(err)
	}
	// Mode 0666: what /dev/full has, so the exporter leaves it alone.
	full, err := file.New(file.Options{Path: "/dev/full", BufferSize: 64, Mode: 0o666})
	if err != nil {
		t.Skipf("/dev/full: %v", err)
	}
	wo, wf := o.Wrap(ok), o.Wrap(full)
	docs := [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`), []byte(`{"a":3}`)}
	if err := wo.Write(docs); err != nil {
		t.Fatal(err)
	}
	wo.Flush()
	if err := wf.Write(docs[:1]); err != nil {
		t.Fatal(err) // buffered: 8 bytes < 64
	}
	if err := wf.Flush(); err == nil {
		t.Fatal("flush to /dev/full succeeded")
	}
	if err := wf.Write(docs); err == nil {
		t.Log("write to /dev/full buffered") // small docs may stay buffered
	}
	wf.Flush()
	get := func(c *prometheus.CounterVec, l ...string) float64 {
		var m dto.Metric
		if err := c.WithLabelValues(l...).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	if get(o.written, "file") != 7 || get(o.lost, "file") != 4 || get(o.errors, "file", "flush") != 2 {
		t.Errorf("written %v lost %v flush errors %v; want 7 accepted (3 ok + 4 to /dev/full), 4 lost, 2 failed flushes",
			get(o.written, "file"), get(o.lost, "file"), get(o.errors, "file", "flush"))
	}
}
