// Package elasticsearch ships stored documents to Elasticsearch (or a
// server speaking its bulk API) with go-elasticsearch/v8's BulkIndexer:
// into data streams (logs-bansho.events-default, op_type create) or dated
// indices, with an ECS index template installed at start when permitted.
// It is a delivery.Sink: a document is committed only once its bulk item
// came back created; 429 and 5xx (per request or per item) leave records
// pending, so the delivery loop retries them with backoff; other per-item
// rejections (mapping errors, 400s) go to the store's dead letters with
// Elasticsearch's reason.
package elasticsearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/bansho-sec/bansho/exporters/delivery"
)

// Sink is the Elasticsearch exporter.
type Sink struct {
	opt    Options
	client *es.Client
	log    *slog.Logger

	tmplMu   sync.Mutex
	tmplDone bool
	tmplNext time.Time
}

// New validates the options and builds the client; nothing is sent yet.
func New(opt Options) (*Sink, error) {
	opt.defaults()
	if len(opt.Addresses) == 0 {
		return nil, keyErr("addresses", "at least one URL is required")
	}
	for i, a := range opt.Addresses {
		if !strings.HasPrefix(a, "http://") && !strings.HasPrefix(a, "https://") {
			if j := strings.LastIndex(a, "@"); j >= 0 {
				a = "xxxxx" + a[j:] // user info, perhaps a password
			}
			return nil, keyErr(fmt.Sprintf("addresses[%d]", i), "%q is not an http:// or https:// URL", a)
		}
	}
	switch opt.Mode {
	case "data_stream", "index":
	default:
		return nil, keyErr("mode", "%q is not one of data_stream, index", opt.Mode)
	}
	switch opt.DocumentID {
	case "event_id", "none":
	default:
		return nil, keyErr("document_id", "%q is not one of event_id, none", opt.DocumentID)
	}
	for key, n := range map[string]string{"indices.events": opt.Indices.Events, "indices.alerts": opt.Indices.Alerts, "indices.health": opt.Indices.Health} {
		if err := validIndex(n); err != nil {
			return nil, keyErr(key, "%q: %v", n, err)
		}
	}
	if opt.APIKey != "" && (opt.Username != "" || opt.Password != "") {
		return nil, keyErr("api_key", "set either api_key or username and password, not both")
	}
	if (opt.Username == "") != (opt.Password == "") {
		return nil, keyErr("password", "username and password go together")
	}
	cfg := es.Config{
		Addresses:           opt.Addresses,
		Username:            opt.Username,
		Password:            opt.Password,
		APIKey:              opt.APIKey,
		Header:              http.Header{},
		CompressRequestBody: opt.Compress,
		// The delivery loop retries (with backoff, counted); the client
		// must not hide failures by retrying on its own.
		DisableRetry: true,
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = opt.Workers + 1
	tr.ResponseHeaderTimeout = opt.RequestTimeout
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	cfg.Transport = tr
	for i, h := range opt.Headers {
		name, val, ok := strings.Cut(h, ":")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, keyErr(fmt.Sprintf("headers[%d]", i), "%q is not \"Name: value\"", h)
		}
		cfg.Header.Add(name, val)
	}
	if opt.CAFile != "" {
		pem, err := os.ReadFile(opt.CAFile)
		if err != nil {
			return nil, keyErr("ca_file", "%v", errors.Unwrap(err))
		}
		if !bytes.Contains(pem, []byte("-----BEGIN CERTIFICATE-----")) {
			return nil, keyErr("ca_file", "%s holds no PEM certificate", opt.CAFile)
		}
		cfg.CACert = pem
	}
	c, err := es.NewClient(cfg)
	if err != nil {
		// The client's parse errors quote the address whole.
		return nil, (&Sink{opt: opt}).scrub(fmt.Errorf("elasticsearch: %w", err))
	}
	return &Sink{opt: opt, client: c, log: opt.Log.With("exporter", "elasticsearch")}, nil
}

// Name implements delivery.Sink.
func (s *Sink) Name() string { return "elasticsearch" }

// Index is where a record goes.
func (s *Sink) Index(r *delivery.Record) string {
	var n string
	switch r.Kind {
	case "alert":
		n = s.opt.Indices.Alerts
	case "metric", "state":
		n = s.opt.Indices.Health
	default:
		n = s.opt.Indices.Events
	}
	if s.opt.Mode == "index" {
		t := time.Unix(0, r.Time).UTC()
		if r.Time == 0 {
			t = time.Now().UTC()
		}
		n += t.Format("-2006.01.02")
	}
	return n
}

// Patterns are the index patterns the template covers.
func (s *Sink) Patterns() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range []string{s.opt.Indices.Events, s.opt.Indices.Alerts, s.opt.Indices.Health} {
		if s.opt.Mode == "index" {
			n += "-*"
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// InstallTemplate puts the index template. A 403 (the user may not manage
// templates) is reported and not an error: documents are then indexed
// under whatever template the cluster has.
func (s *Sink) InstallTemplate(ctx context.Context) error {
	body, err := Template(s.Patterns(), s.opt.Mode == "data_stream")
	if err != nil {
		return fmt.Errorf("elasticsearch: index template: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.RequestTimeout)
	defer cancel()
	res, err := esapi.IndicesPutIndexTemplateRequest{Name: s.opt.Template.Name, Body: bytes.NewReader(body)}.Do(ctx, s.client)
	if err != nil {
		return fmt.Errorf("elasticsearch: install index template %s: %w", s.opt.Template.Name, err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	switch {
	case res.StatusCode == http.StatusForbidden:
		s.log.Warn("not permitted to install the index template; documents are indexed without it (grant manage_index_templates, or install it yourself)",
			"template", s.opt.Template.Name, "response", string(msg))
		return nil
	case res.IsError():
		return fmt.Errorf("elasticsearch: install index template %s: %s: %s", s.opt.Template.Name, res.Status(), msg)
	}
	s.log.Info("index template installed", "template", s.opt.Template.Name, "patterns", s.Patterns())
	return nil
}

// ensureTemplate installs the template before the first batch, and tries
// again at most once a minute while that fails.
func (s *Sink) ensureTemplate(ctx context.Context) {
	if !s.opt.Template.Install {
		return
	}
	s.tmplMu.Lock()
	defer s.tmplMu.Unlock()
	if s.tmplDone || time.Now().Before(s.tmplNext) {
		return
	}
	if err := s.InstallTemplate(ctx); err != nil {
		s.log.Error("index template not installed; will try again", "error", s.scrub(err))
		s.tmplNext = time.Now().Add(time.Minute)
		return
	}
	s.tmplDone = true
}

var eventID = []byte(`"event":{"id":"`)

// docID is the event.id of an encoded document, which the encoder writes
// first in the event object; "" if there is none.
func docID(doc []byte) string {
	i := bytes.Index(doc, eventID)
	if i < 0 {
		return ""
	}
	v := doc[i+len(eventID):]
	if j := bytes.IndexByte(v, '"'); j > 0 && j <= 64 && bytes.IndexByte(v[:j], '\\') < 0 {
		return string(v[:j])
	}
	return ""
}

// Send implements delivery.Sink: one BulkIndexer per batch, closed (and so
// flushed) before Send returns, so every item's outcome is known.
func (s *Sink) Send(ctx context.Context, batch []delivery.Record, res []delivery.Result) error {
	s.ensureTemplate(ctx)
	var mu sync.Mutex
	var reqErr error
	var retryable int
	var firstRetry string
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:        s.client,
		NumWorkers:    s.opt.Workers,
		FlushBytes:    s.opt.FlushBytes,
		FlushInterval: time.Hour, // Close flushes
		Timeout:       s.opt.RequestTimeout,
		OnError: func(_ context.Context, err error) {
			mu.Lock()
			if reqErr == nil {
				reqErr = err
			}
			mu.Unlock()
		},
	})
	if err != nil {
		return fmt.Errorf("elasticsearch: %w", err)
	}
	byID := s.opt.DocumentID == "event_id"
	for i := range batch {
		r := &batch[i]
		if len(r.Doc) > s.opt.MaxDocumentBytes {
			res[i] = delivery.Result{Status: delivery.Rejected,
				Reason: fmt.Sprintf("document of %d bytes is above outputs.elasticsearch.max_document_bytes (%d)", len(r.Doc), s.opt.MaxDocumentBytes)}
			continue
		}
		item := esutil.BulkIndexerItem{
			Index:  s.Index(r),
			Action: "create",
			Body:   bytes.NewReader(r.Doc),
			OnSuccess: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) {
				res[i].Status = delivery.Delivered
			},
			OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, ri esutil.BulkIndexerResponseItem, err error) {
				st, reason := classify(ri, err, byID)
				res[i] = delivery.Result{Status: st, Reason: reason}
				if st == delivery.Pending {
					mu.Lock()
					retryable++
					if firstRetry == "" {
						firstRetry = reason
					}
					mu.Unlock()
				}
			},
		}
		if byID {
			item.DocumentID = docID(r.Doc)
		}
		if err := bi.Add(ctx, item); err != nil {
			// Only when ctx ends: the rest stays pending.
			break
		}
	}
	if err := bi.Close(ctx); err != nil && reqErr == nil {
		reqErr = err
	}
	switch {
	case reqErr != nil:
		return s.explain(reqErr)
	case retryable > 0:
		return fmt.Errorf("elasticsearch: %d documents not accepted for now, e.g. %s", retryable, firstRetry)
	}
	for i := range res {
		if res[i].Status == delivery.Pending {
			// No item result came back for it (a short response).
			return errors.New("elasticsearch: the bulk response did not account for every document")
		}
	}
	return nil
}

// classify decides what a failed bulk item means.
func classify(ri esutil.BulkIndexerResponseItem, err error, byID bool) (delivery.Status, string) {
	if err != nil {
		return delivery.Pending, err.Error()
	}
	reason := fmt.Sprintf("status %d", ri.Status)
	if ri.Error.Type != "" {
		reason += ": " + ri.Error.Type + ": " + ri.Error.Reason
		if ri.Error.Cause.Type != "" {
			reason += " (caused by " + ri.Error.Cause.Type + ": " + ri.Error.Cause.Reason + ")"
		}
	}
	switch {
	case ri.Status == http.StatusConflict && byID:
		// create with the document's own id: it is already there (sent
		// before a failure or a restart).
		return delivery.Delivered, reason
	case ri.Status == http.StatusTooManyRequests || ri.Status >= 500:
		return delivery.Pending, reason
	}
	return delivery.Rejected, reason
}

// explain adds what to do about a failed bulk request. Addresses are named
// with their passwords redacted, and no secret of the options appears in
// the error.
func (s *Sink) explain(err error) error {
	return s.scrub(s.explainRaw(err))
}

func (s *Sink) explainRaw(err error) error {
	msg := err.Error()
	urls := s.urls()
	switch {
	case strings.Contains(msg, "first record does not look like a TLS handshake") ||
		strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("elasticsearch: %s does not speak TLS: use http:// in outputs.elasticsearch.addresses, or enable TLS on the server: %w", urls, err)
	case strings.Contains(msg, "HTTP request to an HTTPS server"):
		return fmt.Errorf("elasticsearch: %s speaks TLS: use https:// in outputs.elasticsearch.addresses: %w", urls, err)
	case (strings.Contains(msg, "connection reset by peer") || strings.Contains(msg, "EOF")) && s.plainToTLS() != "":
		// A TLS server closes a connection whose first bytes are no TLS
		// handshake.
		return fmt.Errorf("elasticsearch: %s speaks TLS: use https:// in outputs.elasticsearch.addresses: %w", s.plainToTLS(), err)
	case strings.Contains(msg, "connection reset by peer") || strings.Contains(msg, "EOF"):
		return fmt.Errorf("elasticsearch: %s closed the connection during a bulk request: it went down, or it refuses a request this large (a document above its limit? lower outputs.elasticsearch.max_document_bytes to dead-letter such documents): %w", urls, err)
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls: failed to verify"):
		return fmt.Errorf("elasticsearch: the certificate of %s is not trusted (check outputs.elasticsearch.ca_file): %w", urls, err)
	case strings.Contains(msg, "[401"):
		return fmt.Errorf("elasticsearch: %s refused the credentials (check outputs.elasticsearch.username/password or api_key): %w", urls, err)
	case strings.Contains(msg, "[403"):
		return fmt.Errorf("elasticsearch: %s: the user may not write to %s (needs create_doc on them): %w", urls, strings.Join(s.Patterns(), ","), err)
	case strings.Contains(msg, "[413"):
		return fmt.Errorf("elasticsearch: %s: bulk request too large (lower outputs.elasticsearch.flush_bytes): %w", urls, err)
	case strings.Contains(msg, "[429"):
		return fmt.Errorf("elasticsearch: %s is overloaded (429), backing off: %w", urls, err)
	}
	return fmt.Errorf("elasticsearch: bulk to %s: %w", urls, err)
}

// urls names the addresses for errors and logs, passwords redacted.
func (s *Sink) urls() string {
	out := make([]string, len(s.opt.Addresses))
	for i, a := range s.opt.Addresses {
		out[i] = redact(a)
	}
	return strings.Join(out, ",")
}

// redact hides the password of an address (net/url's Redacted); an address
// that does not parse is replaced whole if it holds user info.
func redact(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		if p := addrPassword(addr); p != "" {
			return strings.Replace(addr, ":"+p+"@", ":xxxxx@", 1)
		}
		return addr
	}
	return u.Redacted()
}

// secrets are the strings no error or log line may hold: the password and
// API key of the options and the passwords of the addresses.
func (s *Sink) secrets() []string {
	var out []string
	for _, v := range []string{s.opt.Password, s.opt.APIKey} {
		if v != "" {
			out = append(out, v)
		}
	}
	for _, a := range s.opt.Addresses {
		if p := addrPassword(a); p != "" {
			out = append(out, p)
			if u, err := url.PathUnescape(p); err == nil && u != p {
				out = append(out, u)
			}
		}
	}
	return out
}

// addrPassword is the password in an address's user info, found without
// parsing the URL (an address that does not parse must not leak it either).
func addrPassword(a string) string {
	i := strings.Index(a, "://")
	if i < 0 {
		i = -3
	}
	rest := a[i+3:]
	if k := strings.IndexAny(rest, "/?#"); k >= 0 {
		rest = rest[:k]
	}
	j := strings.LastIndex(rest, "@")
	if j < 0 {
		return ""
	}
	_, p, ok := strings.Cut(rest[:j], ":")
	if !ok {
		return ""
	}
	return p
}

// scrub returns err with every secret replaced by "xxxxx" in its message;
// errors.Is and errors.As still see the original.
func (s *Sink) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, sec := range s.secrets() {
		clean = strings.ReplaceAll(clean, sec, "xxxxx")
	}
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// plainToTLS is the first http:// address whose server completes a TLS
// handshake, redacted; "" if none does. A TLS server answers a ClientHello
// at once, so each probe takes a round trip or half a second at most.
func (s *Sink) plainToTLS() string {
	for _, a := range s.opt.Addresses {
		u, err := url.Parse(a)
		if err != nil || u.Scheme != "http" {
			continue
		}
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 500 * time.Millisecond},
			Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a protocol probe; nothing is sent over it
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		c, err := d.DialContext(ctx, "tcp", host)
		cancel()
		if err == nil {
			c.Close()
			return redact(a)
		}
	}
	return ""
}

// Close implements delivery.Sink.
func (s *Sink) Close() error { return nil }
