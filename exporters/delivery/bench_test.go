package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/elasticsearch"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchExport fills a store with b.N documents (not timed), then times
// their delivery from the store to the sink until the lag is 0, and
// reports events/s and the CPU the delivering process used (cores: CPU
// time over wall time; run with -cpu 1 to hold it to one core).
// serverCPU is the CPU time a back end process has used so far (0 if it
// cannot be read).
func serverCPU(name string) time.Duration {
	if name == "" {
		return 0
	}
	pid, err := os.ReadFile(filepath.Join(env.Dir, name, "pid"))
	if err != nil {
		return 0
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ 100
}

func benchExport(b *testing.B, sink delivery.Sink, opt delivery.Options, server string) {
	if env == nil {
		b.Skip("-short: no back ends started")
	}
	if server != "" {
		// A fresh back end per run: VictoriaLogs merges what earlier runs
		// stored in the background, which would steal CPU from this one.
		if err := env.Down(server, "--purge"); err != nil {
			b.Fatal(err)
		}
		if err := env.Up(server); err != nil {
			b.Fatal(err)
		}
	}
	docs := testdocs.Docs(fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e9), b.N)
	st := openStore(b, b.TempDir())
	defer st.Close()
	writeDocs(b, st, docs)
	var bytes int64
	for _, d := range docs {
		bytes += int64(len(d.Body))
	}
	docs = nil
	loop, err := delivery.New(delivery.Store{S: st}, sink, opt)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	cpu0, srv0, t0 := cpuTime(), serverCPU(server), time.Now()
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()
	for loop.Lag() > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	wall, cpu, srv := time.Since(t0), cpuTime()-cpu0, serverCPU(server)-srv0
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if loop.Delivered() != uint64(b.N) || loop.Failed() != 0 {
		b.Fatalf("delivered %d of %d, failed %d: %s", loop.Delivered(), b.N, loop.Failed(), loop.LastError())
	}
	b.ReportMetric(float64(b.N)/wall.Seconds(), "events/s")
	b.ReportMetric(float64(bytes)/wall.Seconds()/1e6, "MB/s")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(float64(bytes)/float64(b.N), "B/event")
	if server != "" {
		b.ReportMetric(srv.Seconds()/wall.Seconds(), "server-cores")
	}
}

func BenchmarkExportKafka(b *testing.B) {
	for _, codec := range []string{"snappy", "zstd", "none"} {
		b.Run(codec, func(b *testing.B) {
			if env == nil {
				b.Skip("-short: no back ends started")
			}
			run := fmt.Sprintf("bench-%s-%d", codec, time.Now().UnixNano()%1e9)
			sink, err := newKafka(run, codec)
			if err != nil {
				b.Fatal(err)
			}
			defer sink.Close()
			benchExport(b, sink, delivery.Options{}, "kafka")
		})
	}
}

func BenchmarkExportElasticsearch(b *testing.B) {
	for _, c := range []struct {
		name             string
		gzip             bool
		workers, records int
	}{
		{"default", false, 0, 0},
		{"gzip", true, 0, 0},
		{"workers2", false, 2, 0},
		{"workers8-batch16k", false, 8, 16384},
	} {
		b.Run(c.name, func(b *testing.B) {
			if env == nil {
				b.Skip("-short: no back ends started")
			}
			sink, err := elasticsearch.New(elasticsearch.Options{Addresses: []string{env.ES}, Compress: c.gzip, Workers: c.workers,
				Headers: []string{"VL-Time-Field: @timestamp", "VL-Stream-Fields: host.name", "VL-Msg-Field: message"}})
			if err != nil {
				b.Fatal(err)
			}
			benchExport(b, sink, delivery.Options{BatchRecords: c.records, BatchBytes: c.records * 2048}, "es")
		})
	}
}

// BenchmarkExportBulkClient is the exporter's own ceiling: the same bulk
// requests to a minimal local endpoint that reads each body and answers
// every item created (Elasticsearch's response shape and product header),
// so the time is the client's: store reads, bulk encoding, HTTP.
func BenchmarkExportBulkClient(b *testing.B) {
	created := []byte(`{"create":{"_index":"logs-bansho.events-default","_id":"x","_version":1,"result":"created","status":201}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := bytes.Count(body, []byte("\n")) / 2
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		out := make([]byte, 0, 64+n*(len(created)+1))
		out = append(out, `{"errors":false,"took":1,"items":[`...)
		for i := 0; i < n; i++ {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, created...)
		}
		w.Write(append(out, "]}"...))
	}))
	defer srv.Close()
	sink, err := elasticsearch.New(elasticsearch.Options{Addresses: []string{srv.URL}})
	if err != nil {
		b.Fatal(err)
	}
	benchExport(b, sink, delivery.Options{}, "")
}
