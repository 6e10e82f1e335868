package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
	"github.com/bansho-sec/bansho/internal/store"
)

// An https:// address for a plain HTTP server, and an http:// address for
// a TLS server: the error names the scheme of outputs.elasticsearch.addresses
// as the likely cause, at once, and nothing is acknowledged.
func TestTLSMismatch(t *testing.T) {
	tlsSrv := &fakeES{t: t, docs: map[string]map[string][]byte{}, templates: map[string][]byte{}}
	tlsSrv.srv = httptest.NewTLSServer(http.HandlerFunc(tlsSrv.serve))
	defer tlsSrv.srv.Close()
	plain := newFakeES(t)
	for _, c := range []struct {
		name, addr string
		want       []string
	}{
		{"https client, plain server", strings.Replace(plain.srv.URL, "http://", "https://", 1),
			[]string{"does not speak TLS", "use http://", "outputs.elasticsearch.addresses"}},
		{"http client, tls server", strings.Replace(tlsSrv.srv.URL, "https://", "http://", 1),
			[]string{"speaks TLS", "use https://", "outputs.elasticsearch.addresses"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(Options{Addresses: []string{c.addr}})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := sendAll(t, s, records(testdocs.Docs("h1", 5)))
			t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
			if err == nil {
				t.Fatal("delivered")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if statuses(res)[delivery.Pending] != 5 {
				t.Errorf("statuses %v, want all pending", statuses(res))
			}
		})
	}
}

// Credentials in an address never reach an error or a log line: the
// exporter names addresses with the password redacted.
func TestAddressCredentialsRedacted(t *testing.T) {
	const secret = "s3cr3t-Pw-do-not-print"
	f := newFakeES(t)
	f.bulk = func(int, []bulkItem) (int, string) {
		return 503, `{"error":{"type":"unavailable_shards_exception","reason":"x"},"status":503}`
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, addr := range []string{
		strings.Replace(f.srv.URL, "http://", "http://bansho:"+secret+"@", 1), // answers 503
		"http://bansho:" + secret + "@127.0.0.1:1",                            // refuses connections
	} {
		s, err := New(Options{Addresses: []string{addr}, Log: log, Template: TemplateOptions{Install: true}})
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(store.Options{Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		var bodies [][]byte
		for _, d := range testdocs.Docs("h1", 3) {
			bodies = append(bodies, d.Body)
		}
		if err := st.Write(bodies); err != nil {
			t.Fatal(err)
		}
		l, err := delivery.New(delivery.Store{S: st}, s, delivery.Options{Log: log, BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		l.Run(ctx)
		cancel()
		st.Close()
		_, err = sendAll(t, s, records(testdocs.Docs("h1", 3)))
		if err == nil {
			t.Fatal("delivered")
		}
		all := err.Error() + logs.String()
		// The failure messages below never print the secret either.
		if n := strings.Count(all, secret); n > 0 {
			t.Errorf("the password of the address is printed %d times", n)
		}
		if !strings.Contains(all, "bansho:xxxxx@") {
			t.Errorf("the address is not named (redacted): %s", strings.ReplaceAll(err.Error(), secret, "<the password>"))
		}
	}
}

// An address that is no URL is not echoed with its user info.
func TestBadAddressRedacted(t *testing.T) {
	_, err := New(Options{Addresses: []string{"bansho:pw-in-url@es1:9200"}})
	if err == nil || strings.Contains(err.Error(), "pw-in-url") || !strings.Contains(err.Error(), "xxxxx@es1:9200") {
		t.Fatalf("error %q, want the address without its user info", strings.ReplaceAll(fmt.Sprint(err), "pw-in-url", "<the password>"))
	}
}

// A server that closes the connection on a bulk request (VictoriaLogs does
// on a document above its line limit): the error says it may refuse the
// size and names max_document_bytes; nothing is acknowledged.
func TestServerClosesConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("X-Elastic-Product", "Elasticsearch")
			return
		}
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	defer srv.Close()
	s, err := New(Options{Addresses: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sendAll(t, s, records(testdocs.Docs("h1", 5)))
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "closed the connection") || !strings.Contains(err.Error(), "outputs.elasticsearch.max_document_bytes") {
		t.Errorf("error %v, want one naming max_document_bytes", err)
	}
	if statuses(res)[delivery.Pending] != 5 {
		t.Errorf("statuses %v, want all pending", statuses(res))
	}
}

// An http:// address the client cannot parse is not echoed with its
// password either.
func TestUnparsableAddressRedacted(t *testing.T) {
	_, err := New(Options{Addresses: []string{"http://bansho:pw-in-url@es1:notaport"}})
	if err == nil || strings.Contains(err.Error(), "pw-in-url") {
		t.Fatalf("error %q, want one without the password", strings.ReplaceAll(fmt.Sprint(err), "pw-in-url", "<the password>"))
	}
	t.Log(err)
}
