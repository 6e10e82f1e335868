package elasticsearch

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
	"github.com/bansho-sec/bansho/test/backends"
)

// env is the VictoriaLogs server this test binary started (nil with -short).
var env *backends.Env

func TestMain(m *testing.M) {
	backends.Main(m, &env, "es")
}

// VLHeaders are what VictoriaLogs needs to take @timestamp as the time and
// host.name as the stream (docs/backends.md).
var VLHeaders = []string{"VL-Time-Field: @timestamp", "VL-Stream-Fields: host.name", "VL-Msg-Field: message"}

var countRE = regexp.MustCompile(`"n":"(\d+)"`)

// LogsQLCount counts documents matching a LogsQL filter.
func LogsQLCount(queryURL, filter string) (int, error) {
	resp, err := http.PostForm(queryURL, url.Values{"query": {filter + " | stats count() n"}})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := countRE.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("LogsQL %q: %s %s", filter, resp.Status, b)
	}
	return strconv.Atoi(string(m[1]))
}

func waitCount(t *testing.T, filter string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got int
	var err error
	for time.Now().Before(deadline) {
		if got, err = LogsQLCount(env.ESQuery, filter); err == nil && got >= want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("LogsQL %s: %d documents (%v), want %d", filter, got, err, want)
	}
}

// The real bulk API of VictoriaLogs through go-elasticsearch's product
// check and BulkIndexer: every document is counted back with LogsQL, each
// event.id once.
func TestVictoriaLogsReadBack(t *testing.T) {
	if env == nil {
		t.Skip("-short: no server started")
	}
	host := fmt.Sprintf("vl-%d", time.Now().UnixNano())
	docs := testdocs.Docs(host, 5000)
	s, err := New(Options{Addresses: []string{env.ES}, Headers: VLHeaders, Template: TemplateOptions{Install: true}, Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	recs := records(docs)
	for len(recs) > 0 {
		n := min(len(recs), 2000)
		res, err := sendAll(t, s, recs[:n])
		if err != nil {
			t.Fatal(err)
		}
		if st := statuses(res); st[delivery.Delivered] != n {
			t.Fatalf("statuses %v", st)
		}
		recs = recs[n:]
	}
	waitCount(t, fmt.Sprintf(`host.name:=%q`, host), len(docs))
	alerts := 0
	for _, d := range docs {
		if d.Kind == "alert" {
			alerts++
		}
	}
	waitCount(t, fmt.Sprintf(`host.name:=%q event.kind:=alert`, host), alerts)
	// Each event.id once.
	resp, err := http.PostForm(env.ESQuery, url.Values{"query": {fmt.Sprintf(`host.name:=%q | stats count_uniq(event.id) n`, host)}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := countRE.FindSubmatch(b); m == nil || string(m[1]) != strconv.Itoa(len(docs)) {
		t.Fatalf("unique event.id: %s, want %d", b, len(docs))
	}
}
