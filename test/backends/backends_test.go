package backends

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var countRE = regexp.MustCompile(`"n":"(\d+)"`)

func vlCount(t *testing.T, e *Env, filter string) int {
	t.Helper()
	resp, err := http.PostForm(e.ESQuery, url.Values{"query": {filter + " | stats count() n"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := countRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("LogsQL %q: %s %s", filter, resp.Status, b)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// vlBulk writes n documents labelled run through the bulk API and fails
// unless VictoriaLogs answers 200 with n items.
func vlBulk(t *testing.T, e *Env, run string, from, n int) {
	t.Helper()
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "{\"create\":{\"_index\":\"t\"}}\n{\"@timestamp\":%q,\"message\":\"m\",\"labels\":{\"run\":%q,\"i\":%d}}\n",
			time.Now().UTC().Format(time.RFC3339Nano), run, i)
	}
	req, _ := http.NewRequest("POST", e.ES+"/_bulk", &b)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("VL-Time-Field", "@timestamp")
	req.Header.Set("VL-Msg-Field", "message")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || bytes.Count(body, []byte(`"status":201`)) != n {
		t.Fatalf("bulk: %s %.200s", resp.Status, body)
	}
}

// What VictoriaLogs keeps across a SIGKILL (docs/backends.md): documents
// it acknowledged more than its flush window before the kill survive; the
// last few seconds before it may not. up.sh sets
// -inmemoryDataFlushInterval=1s, so documents acknowledged 7 s before the
// kill are on disk (the in-memory parts are written by a 5 s ticker once
// older than the interval). The documents acknowledged just before the
// kill are only counted, for the record.
func TestVictoriaLogsSIGKILLFlushWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e, err := Start("es")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	run := fmt.Sprint(time.Now().UnixNano())
	const old, recent = 5000, 5000
	for i := 0; i < old; i += 1000 {
		vlBulk(t, e, run+"-old", i, 1000)
	}
	time.Sleep(7 * time.Second)
	if n := vlCount(t, e, fmt.Sprintf("labels.run:=%q", run+"-old")); n != old {
		t.Fatalf("before the kill: %d of %d documents searchable", n, old)
	}
	for i := 0; i < recent; i += 1000 {
		vlBulk(t, e, run+"-recent", i, 1000)
	}
	if err := e.Down("es", "--kill"); err != nil {
		t.Fatal(err)
	}
	if err := e.Up("es"); err != nil {
		t.Fatal(err)
	}
	var gotOld, gotRecent int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if gotOld = vlCount(t, e, fmt.Sprintf("labels.run:=%q", run+"-old")); gotOld == old {
			break
		}
	}
	gotRecent = vlCount(t, e, fmt.Sprintf("labels.run:=%q", run+"-recent"))
	t.Logf("after SIGKILL: %d of %d documents acknowledged 7 s before kept, %d of %d acknowledged just before",
		gotOld, old, gotRecent, recent)
	if gotOld != old {
		t.Errorf("VictoriaLogs lost %d of %d documents it acknowledged 7 s before a SIGKILL", old-gotOld, old)
	}
}

// VictoriaLogs takes every document the exporter may send (up to its
// max_document_bytes, 1 MiB), as Elasticsearch does: up.sh raises
// -insert.maxLineSizeBytes from 256 KiB, at which VictoriaLogs closed the
// connection on a larger document.
func TestVictoriaLogsTakesLargeDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e, err := Start("es")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	run := fmt.Sprint(time.Now().UnixNano())
	body := fmt.Sprintf("{\"create\":{\"_index\":\"t\"}}\n{\"@timestamp\":%q,\"message\":\"%s\",\"labels\":{\"run\":%q}}\n",
		time.Now().UTC().Format(time.RFC3339Nano), bytes.Repeat([]byte("x"), 1<<20-200), run)
	req, _ := http.NewRequest("POST", e.ES+"/_bulk", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a document of 1 MiB: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"status":201`)) {
		t.Fatalf("a document of 1 MiB: %s %.200s", resp.Status, b)
	}
}
