package elasticsearch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeES answers the way Elasticsearch 8 does, with its response bodies
// and headers (X-Elastic-Product, which go-elasticsearch's product check
// requires), for the error paths VictoriaLogs cannot produce: 429, 5xx,
// 401, 403, per-item rejections and conflicts. It stores what it creates.
type fakeES struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	docs      map[string]map[string][]byte // index -> _id -> document
	requests  int
	headers   []http.Header
	templates map[string][]byte
	// bulk, when set, answers a bulk request instead of the default
	// (create everything); n counts bulk requests from 1.
	bulk func(n int, items []bulkItem) (status int, body string)
	// templateStatus answers PUT _index_template (default 200).
	templateStatus int
	// apiKey, when set, is required ("ApiKey " + apiKey).
	apiKey string
}

type bulkItem struct {
	Action, Index, ID string
	Doc               []byte
}

func newFakeES(t *testing.T) *fakeES {
	f := &fakeES{t: t, docs: map[string]map[string][]byte{}, templates: map[string][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeES) reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="security", charset="UTF-8"`)
		w.Header().Add("WWW-Authenticate", `ApiKey`)
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.headers = append(f.headers, r.Header.Clone())
	// The scheme is case-insensitive (go-elasticsearch sends "APIKey").
	if scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " "); f.apiKey != "" && (!strings.EqualFold(scheme, "ApiKey") || key != f.apiKey) {
		f.reply(w, 401, errorBody(401, "security_exception", "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
			`,"header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","ApiKey"]}`))
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			f.reply(w, 400, errorBody(400, "parse_exception", "request body is required", ""))
			return
		}
		body = zr
	}
	switch {
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/_index_template/"):
		b, _ := io.ReadAll(body)
		st := f.templateStatus
		if st == 0 {
			st = 200
		}
		if st == 403 {
			f.reply(w, 403, errorBody(403, "security_exception",
				"action [indices:admin/index_template/put] is unauthorized for user [bansho] with effective roles [bansho_writer], this action is granted by the cluster privileges [manage_index_templates,manage,all]", ""))
			return
		}
		f.templates[strings.TrimPrefix(r.URL.Path, "/_index_template/")] = b
		f.reply(w, st, `{"acknowledged":true}`)
	case r.Method == http.MethodPost && r.URL.Path == "/_bulk":
		f.requests++
		items := parseBulk(f.t, body)
		if f.bulk != nil {
			st, b := f.bulk(f.requests, items)
			if st != 0 {
				f.reply(w, st, b)
				return
			}
		}
		f.reply(w, 200, f.createAll(items, nil))
	default:
		f.reply(w, 404, errorBody(404, "resource_not_found_exception", "no handler found for uri ["+r.URL.Path+"] and method ["+r.Method+"]", ""))
	}
}

func errorBody(status int, typ, reason, extra string) string {
	q, _ := json.Marshal(reason)
	return fmt.Sprintf(`{"error":{"root_cause":[{"type":%q,"reason":%s%s}],"type":%q,"reason":%s%s},"status":%d}`,
		typ, q, extra, typ, q, extra, status)
}

func parseBulk(t *testing.T, r io.Reader) []bulkItem {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var items []bulkItem
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			t.Errorf("bulk action line: %v: %q", err, sc.Text())
			return items
		}
		if !sc.Scan() {
			t.Error("bulk body ends after an action line")
			return items
		}
		for a, m := range action {
			items = append(items, bulkItem{Action: a, Index: m.Index, ID: m.ID, Doc: bytes.Clone(sc.Bytes())})
		}
	}
	return items
}

// itemResult answers one item; nil means create it.
type itemResult func(i int, it bulkItem) string

// createAll builds a bulk response: every item created (stored) unless
// per says otherwise. Caller holds f.mu.
func (f *fakeES) createAll(items []bulkItem, per itemResult) string {
	var b strings.Builder
	errors := false
	b.WriteString(`{"errors":`)
	var out []string
	for i, it := range items {
		if per != nil {
			if s := per(i, it); s != "" {
				errors = true
				out = append(out, s)
				continue
			}
		}
		if f.docs[it.Index] == nil {
			f.docs[it.Index] = map[string][]byte{}
		}
		if _, dup := f.docs[it.Index][it.ID]; dup && it.ID != "" {
			errors = true
			out = append(out, conflict(it))
			continue
		}
		id := it.ID
		if id == "" {
			id = fmt.Sprintf("gen-%d", len(f.docs[it.Index]))
		}
		f.docs[it.Index][id] = it.Doc
		out = append(out, fmt.Sprintf(`{"create":{"_index":".ds-%s-2026.12.01-000001","_id":%q,"_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":%d,"_primary_term":1,"status":201}}`,
			it.Index, id, len(f.docs[it.Index])-1))
	}
	fmt.Fprintf(&b, `%v,"took":7,"items":[%s]}`, errors, strings.Join(out, ","))
	return b.String()
}

func conflict(it bulkItem) string {
	return fmt.Sprintf(`{"create":{"_index":".ds-%s-2026.12.01-000001","_id":%q,"status":409,"error":{"type":"version_conflict_engine_exception","reason":"[%s]: version conflict, document already exists (current version [1])","index_uuid":"mXd2wW0hRmGk1pH0nF3ZpA","shard":"0","index":".ds-%s-2026.12.01-000001"}}}`,
		it.Index, it.ID, it.ID, it.Index)
}

func rejected429(it bulkItem) string {
	return fmt.Sprintf(`{"create":{"_index":".ds-%s-2026.12.01-000001","_id":%q,"status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of primary operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes=1208, max_coordinating_and_primary_bytes=107374182]"}}}`,
		it.Index, it.ID)
}

func mappingError(it bulkItem) string {
	return fmt.Sprintf(`{"create":{"_index":".ds-%s-2026.12.01-000001","_id":%q,"status":400,"error":{"type":"document_parsing_exception","reason":"[1:412] failed to parse field [process.pid] of type [long] in document with id '%s'. Preview of field's value: 'abc'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"abc\""}}}}`,
		it.Index, it.ID, it.ID)
}

func unavailableItem(it bulkItem) string {
	return fmt.Sprintf(`{"create":{"_index":".ds-%s-2026.12.01-000001","_id":%q,"status":503,"error":{"type":"unavailable_shards_exception","reason":"[.ds-%s-2026.12.01-000001][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[.ds-%s-2026.12.01-000001][0]] containing [1] requests]"}}}`,
		it.Index, it.ID, it.Index, it.Index)
}

func immenseTerm(it bulkItem) string {
	return fmt.Sprintf(`{"create":{"_index":".ds-%s-2026.12.01-000001","_id":%q,"status":400,"error":{"type":"illegal_argument_exception","reason":"Document contains at least one immense term in field=\"message\" (whose UTF8 encoding is longer than the max length 32766), all of which were skipped.","caused_by":{"type":"max_bytes_length_exceeded_exception","reason":"bytes can be at most 32766 in length; got 40000"}}}}`,
		it.Index, it.ID)
}

// Whole-request answers, as Elasticsearch sends them.
var (
	body429 = errorBody(429, "es_rejected_execution_exception",
		"rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, replica_bytes=0, all_bytes=104857600, coordinating_operation_bytes=5242880, max_coordinating_and_primary_bytes=107374182]", "")
	body503 = errorBody(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];", "")
)

func (f *fakeES) count(index string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.docs[index])
}

func (f *fakeES) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.docs {
		n += len(m)
	}
	return n
}
