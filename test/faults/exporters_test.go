package faults

// Area "exporters": the Kafka and Elasticsearch exporters against the real
// test back ends (kfake, VictoriaLogs; test/backends) through the code path
// `bansho run` uses: the local store, a delivery loop per sink
// (exporters/delivery) and the sinks built with the configuration's
// defaults (cmd/bansho/export.go). Each case counts what was written to the
// store (sent), what the back end itself gives back (received: kcat for
// Kafka, LogsQL for VictoriaLogs), and from these the lost and duplicated
// documents (by event.id). Zero lost is required; duplicates are allowed
// (at least once) but counted.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/elasticsearch"
	"github.com/bansho-sec/bansho/exporters/kafka"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/test/backends"
)

// vlHeaders make VictoriaLogs take @timestamp and host.name
// (docs/exporters.md).
var vlHeaders = []string{"VL-Time-Field: @timestamp", "VL-Stream-Fields: host.name", "VL-Msg-Field: message"}

// outageFor is how long a back end stays down (issue 12: restarted after 10 s).
const outageFor = 10 * time.Second

// syncBuf is a log both the loop and the test use.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// exportRun is one store with documents of one run, delivered by loops.
type exportRun struct {
	t    *testing.T
	st   *store.Store
	run  string
	sent atomic.Int64
	logs *syncBuf
	log  *slog.Logger
}

func newExportRun(t *testing.T) *exportRun {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &exportRun{t: t, st: st, logs: &syncBuf{},
		run: strings.ToLower(strings.NewReplacer("/", "-", "_", "-", " ", "-", ",", "").Replace(t.Name())) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
	r.log = slog.New(slog.NewTextHandler(r.logs, nil))
	return r
}

// doc is a small ECS-shaped document; every 50th is an alert. pad adds
// that many bytes of hex noise (incompressible enough for size tests).
func (r *exportRun) doc(i, pad int) []byte {
	kind := "event"
	if i%50 == 0 {
		kind = "alert"
	}
	noise := ""
	if pad > 0 {
		b := make([]byte, pad/2)
		rand.Read(b)
		noise = " " + hex.EncodeToString(b)
	}
	return fmt.Appendf(nil, `{"@timestamp":%q,"event":{"id":"%s-%07d","kind":%q,"dataset":"bansho.fault"},"host":{"name":"fault-%s"},"labels":{"run":%q},"message":"fault test document %d%s"}`,
		time.Now().UTC().Format(time.RFC3339Nano), r.run, i, kind, r.run, r.run, i, noise)
}

// write puts n documents into the store.
func (r *exportRun) write(n int) {
	r.t.Helper()
	from := int(r.sent.Load())
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = r.doc(from+i, 0)
	}
	if err := r.st.Write(docs); err != nil {
		r.t.Fatal(err)
	}
	r.sent.Add(int64(n))
}

// writeFor writes 100 documents every 50 ms for d, as a busy sensor does,
// and closes done when it stops.
func (r *exportRun) writeFor(d time.Duration) (done chan struct{}) {
	done = make(chan struct{})
	go func() {
		defer close(done)
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			from := int(r.sent.Load())
			docs := make([][]byte, 100)
			for i := range docs {
				docs[i] = r.doc(from+i, 0)
			}
			if err := r.st.Write(docs); err != nil {
				r.t.Error(err)
				return
			}
			r.sent.Add(100)
		}
	}()
	return done
}

// start runs a delivery loop as cmd/bansho/export.go does (the
// configuration's defaults: batches of 4096, backoff up to 30 s).
func (r *exportRun) start(sink delivery.Sink) (*delivery.Loop, func()) {
	r.t.Helper()
	l, err := delivery.New(delivery.Store{S: r.st}, sink, delivery.Options{Log: r.log})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				r.t.Error(err)
			}
			sink.Close()
		})
	}
	r.t.Cleanup(stop)
	return l, stop
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	for end := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// firstError is the error of the first "send failed" line of the log.
func (r *exportRun) firstError() string {
	for _, line := range strings.Split(r.logs.String(), "\n") {
		if strings.Contains(line, "send failed") {
			if _, e, ok := strings.Cut(line, " error="); ok {
				return strings.Trim(e, `"`)
			}
			return line
		}
	}
	return ""
}

// tally is what came back. A document not received is lost unless the
// store still holds it for the sink (pending: at or after the loop's
// cursor) or kept it in the dead letters with the sink's reason.
type tally struct {
	sent, received, unique, lost, dup, pending, deadLettered int
	err                                                      error
}

func (c tally) String() string {
	if c.err != nil {
		return fmt.Sprintf("sent %d, read back failed: %v", c.sent, c.err)
	}
	s := fmt.Sprintf("sent %d, received %d, lost %d, duplicated %d", c.sent, c.received, c.lost, c.dup)
	if c.pending > 0 {
		s += fmt.Sprintf(", not received but pending in the store %d", c.pending)
	}
	if c.deadLettered > 0 {
		s += fmt.Sprintf(", not received but dead-lettered %d", c.deadLettered)
	}
	return s
}

// storeIDs are the event.ids of the run in a store stream from seq on.
func (r *exportRun) storeIDs(stream string, from uint64) map[string]bool {
	r.t.Helper()
	src := delivery.Store{S: r.st}
	rd, err := src.NewReader(stream, max(from, 1))
	if err != nil {
		r.t.Fatal(err)
	}
	defer rd.Close()
	ids := map[string]bool{}
	for {
		recs, err := rd.Read(nil, 4096, 64<<20)
		if err != nil {
			r.t.Fatal(err)
		}
		if len(recs) == 0 {
			return ids
		}
		for _, rec := range recs {
			for _, m := range eventIDRE.FindAllSubmatch(rec.Doc, -1) {
				if strings.HasPrefix(string(m[1]), r.run+"-") {
					ids[string(m[1])] = true
				}
			}
		}
	}
}

// count compares what came back (ids) with what was written; loop is the
// sink's last delivery loop (its cursor tells what is still pending).
func (r *exportRun) count(ids map[string]int, err error, loop *delivery.Loop) tally {
	c := tally{sent: int(r.sent.Load()), err: err}
	pending := map[string]bool{}
	for _, stream := range []string{store.StreamAlerts, store.StreamEvents} {
		for id := range r.storeIDs(stream, loop.Cursor(stream)) {
			pending[id] = true
		}
	}
	dead := r.storeIDs(store.StreamDeadLetter, 1)
	for i := 0; i < c.sent; i++ {
		id := fmt.Sprintf("%s-%07d", r.run, i)
		n := ids[id]
		c.received += n
		switch {
		case n > 0:
			c.unique++
			c.dup += n - 1
		case pending[id]:
			c.pending++
		case dead[id]:
			c.deadLettered++
		default:
			c.lost++
		}
	}
	return c
}

var eventIDRE = regexp.MustCompile(`"event":\{"id":"([^"]+)"`)

// kafkaIDs reads a topic back with kcat (librdkafka, an independent
// client) and counts each event.id; extra are kcat's -X settings.
func kafkaIDs(broker, topic string, extra ...string) (map[string]int, error) {
	args := []string{"60", "kcat", "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n"}
	for _, x := range extra {
		args = append(args, "-X", x)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("timeout", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kcat: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	ids := map[string]int{}
	for _, m := range eventIDRE.FindAllSubmatch(out, -1) {
		ids[string(m[1])]++
	}
	return ids, nil
}

// kafkaGoIDs reads partition 0 of a topic back with kafka-go's own
// connection (not the exporter), for a broker kcat cannot talk to: Debian's
// librdkafka 2.0.2 fails SASL against kfake ("SASL Handshake not supported
// by broker").
func kafkaGoIDs(broker, topic string, mech sasl.Mechanism) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := &kafkago.Dialer{Timeout: 5 * time.Second, SASLMechanism: mech}
	conn, err := d.DialLeader(ctx, "tcp", broker, topic, 0)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		return nil, err
	}
	ids := map[string]int{}
	for off := int64(0); off < last; {
		if _, err := conn.Seek(off, kafkago.SeekAbsolute); err != nil {
			return nil, err
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := conn.ReadBatch(1, 10<<20)
		for {
			m, err := b.ReadMessage()
			if err != nil {
				break
			}
			if sm := eventIDRE.FindSubmatch(m.Value); sm != nil {
				ids[string(sm[1])]++
			}
			off = m.Offset + 1
		}
		if err := b.Close(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// vlIDs reads the run's documents back from VictoriaLogs with LogsQL. It
// polls until the count stops growing (documents are searchable about a
// second after ingestion).
func vlIDs(queryURL, run string, want int) (map[string]int, error) {
	var ids map[string]int
	var err error
	last, stable := -1, 0
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		ids, err = vlQuery(queryURL, run)
		if err != nil {
			continue
		}
		n := 0
		for _, v := range ids {
			n += v
		}
		if n == last && n >= want {
			if stable++; stable >= 2 {
				break
			}
		} else {
			stable = 0
		}
		last = n
	}
	return ids, err
}

func vlQuery(queryURL, run string) (map[string]int, error) {
	resp, err := http.PostForm(queryURL, url.Values{"query": {fmt.Sprintf(`labels.run:=%q | stats by (event.id) count() n`, run)}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return nil, fmt.Errorf("LogsQL: %s %v %.200s", resp.Status, err, body)
	}
	ids := map[string]int{}
	re := regexp.MustCompile(`"event.id":"([^"]+)","n":"(\d+)"`)
	for _, m := range re.FindAllSubmatch(body, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		ids[string(m[1])] += n
	}
	return ids, nil
}

func (r *exportRun) kafkaSink(broker string, opt kafka.Options) *kafka.Sink {
	r.t.Helper()
	opt.Brokers = []string{broker}
	opt.Topics = kafka.Topics{Events: r.run, Alerts: r.run, Health: r.run}
	opt.AllowAutoTopicCreation = true
	opt.Key = "fault-host"
	s, err := kafka.New(opt)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *exportRun) esSink(addr string, opt elasticsearch.Options) *elasticsearch.Sink {
	r.t.Helper()
	opt.Addresses = []string{addr}
	opt.Headers = vlHeaders
	opt.Log = r.log
	s, err := elasticsearch.New(opt)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// cutProxy is a TCP relay in front of a back end that can drop every
// connection at once and refuse new ones: to the exporter that is a crash
// of the server, while the server itself still runs.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.relay(c)
		}
	}()
	return p
}

func (p *cutProxy) relay(c net.Conn) {
	p.mu.Lock()
	cut := p.cut
	p.mu.Unlock()
	var up net.Conn
	var err error
	if !cut {
		up, err = net.DialTimeout("tcp", p.target, 2*time.Second)
	}
	if cut || err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.(interface{ SetLinger(int) error }).SetLinger(0) // reset, as a dead server's kernel does
			c.Close()
		}
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bansho-fault"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// TestExporterFaults runs the exporter cases in parallel: each outage gets
// its own back end (own state directory and ports), so killing one does
// not disturb the others; the misconfigurations share one kfake and one
// VictoriaLogs, or start their own kfake with TLS or SASL.
func TestExporterFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no back ends")
	}
	shared, err := backends.Start("kafka", "es")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shared.Close)
	for _, kind := range []string{"kafka", "es"} {
		for _, sig := range []string{"SIGTERM", "SIGKILL"} {
			t.Run(kind+" "+sig, func(t *testing.T) {
				t.Parallel()
				outage(t, kind, sig)
			})
		}
	}
	t.Run("kafka wrong SASL password", func(t *testing.T) { t.Parallel(); kafkaSASL(t) })
	t.Run("kafka TLS client plain broker", func(t *testing.T) { t.Parallel(); kafkaTLSClientPlainBroker(t, shared) })
	t.Run("kafka plain client TLS broker", func(t *testing.T) { t.Parallel(); kafkaPlainClientTLSBroker(t) })
	t.Run("es https client plain server", func(t *testing.T) { t.Parallel(); esHTTPSClientPlainServer(t, shared) })
	t.Run("es http client TLS server", func(t *testing.T) { t.Parallel(); esHTTPClientTLSServer(t, shared) })
	t.Run("kafka document too large for the broker", func(t *testing.T) { t.Parallel(); kafkaTooLarge(t, shared) })
	t.Run("es document too large for the exporter", func(t *testing.T) { t.Parallel(); esTooLarge(t, shared) })
	t.Run("es document too large for the server", func(t *testing.T) { t.Parallel(); esOverLineLimit(t) })
}

// outage kills a back end with sig while the exporter delivers and the
// sensor keeps writing, and starts it again 10 s later.
func outage(t *testing.T, kind, sig string) {
	name := map[string]string{"kafka": "Kafka broker (kfake)", "es": "Elasticsearch back end (VictoriaLogs)"}[kind] + " killed with " + sig + " mid-delivery, back after 10 s"
	if kind == "es" && sig == "SIGKILL" {
		name = "Elasticsearch back end (VictoriaLogs): connections cut mid-delivery, SIGKILL 7 s later (its flush window), back after 10 s"
	}
	expect := "nothing lost (duplicates counted), the log says the send failed and that the sink accepts records again"
	env, err := backends.Start(kind)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	r := newExportRun(t)
	var sink delivery.Sink
	var proxy *cutProxy
	if kind == "kafka" {
		sink = r.kafkaSink(env.Kafka, kafka.Options{})
	} else {
		u, _ := url.Parse(env.ES)
		proxy = newCutProxy(t, u.Host)
		sink = r.esSink("http://"+proxy.ln.Addr().String()+u.Path, elasticsearch.Options{})
	}
	r.write(2000)
	loop, stop := r.start(sink)
	writing := r.writeFor(4 * time.Second)
	time.Sleep(1500 * time.Millisecond)

	killed := time.Now()
	deliveredAtKill := loop.Delivered()
	var downErr error
	switch {
	case kind == "es" && sig == "SIGKILL":
		// VictoriaLogs loses what it acknowledged in its last seconds
		// when killed (docs/backends.md): cut the exporter off first, so
		// the crash is the same to it, let VictoriaLogs write what it
		// acknowledged, then kill it; otherwise the back end's own loss
		// would be counted as the exporter's.
		proxy.setCut(true)
		time.Sleep(7 * time.Second)
		downErr = env.Down("es", "--kill")
	case sig == "SIGKILL":
		downErr = env.Down(kind, "--kill")
	default:
		downErr = env.Down(kind)
	}
	if downErr != nil {
		t.Fatal(downErr)
	}
	time.Sleep(time.Until(killed.Add(outageFor)))
	if err := env.Up(kind); err != nil {
		t.Fatal(err)
	}
	if proxy != nil {
		proxy.setCut(false)
	}
	back := time.Now()
	<-writing
	drained := waitFor(60*time.Second, func() bool { return loop.Lag() == 0 })
	catchUp := time.Since(back)
	stop()

	var ids map[string]int
	if kind == "kafka" {
		ids, err = kafkaIDs(env.Kafka, r.run)
	} else {
		ids, err = vlIDs(env.ESQuery, r.run, int(r.sent.Load()))
	}
	c := r.count(ids, err, loop)
	logs := r.logs.String()
	midDelivery := deliveredAtKill > 0 && deliveredAtKill < uint64(c.sent)
	got := fmt.Sprintf("%s; delivered %d before the kill; caught up %.1f s after the restart (lag 0: %v); log: %q",
		c, deliveredAtKill, catchUp.Seconds(), drained, r.firstError())
	Case(t, "exporters", name, expect, got,
		c.err == nil && c.lost == 0 && drained && midDelivery &&
			strings.Contains(logs, "send failed; will retry") && strings.Contains(logs, "sink accepts records again"))
}

// misconfigured runs the exporter with a wrong setting until it logs a
// failure, checks that nothing was acknowledged, then with the right one
// until everything is delivered; it returns the first error and how long
// it took to appear.
func (r *exportRun) misconfigured(wrong, right delivery.Sink) (errLine string, after time.Duration, drained bool, loop *delivery.Loop) {
	r.write(3000)
	start := time.Now()
	loop, stop := r.start(wrong)
	waitFor(30*time.Second, func() bool { return r.firstError() != "" })
	after = time.Since(start)
	time.Sleep(200 * time.Millisecond)
	delivered := loop.Delivered()
	stop()
	if delivered != 0 {
		r.t.Errorf("%d records acknowledged with the wrong setting", delivered)
	}
	loop, stop = r.start(right)
	drained = waitFor(60*time.Second, func() bool { return loop.Lag() == 0 })
	stop()
	return r.firstError(), after, drained, loop
}

func kafkaSASL(t *testing.T) {
	const user, rightPW, wrongPW = "bansho", "right-Pw-7f3a", "wrong-Pw-91c2"
	addr, stopBroker, err := backends.Kfake("-sasl", "SCRAM-SHA-512:"+user+":"+rightPW)
	if err != nil {
		t.Fatal(err)
	}
	defer stopBroker()
	r := newExportRun(t)
	e, after, drained, loop := r.misconfigured(
		r.kafkaSink(addr, kafka.Options{SASL: kafka.SASL{Mechanism: "scram-sha-512", Username: user, Password: wrongPW}}),
		r.kafkaSink(addr, kafka.Options{SASL: kafka.SASL{Mechanism: "scram-sha-512", Username: user, Password: rightPW}}))
	mech, err := scram.Mechanism(scram.SHA512, user, rightPW)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := kafkaGoIDs(addr, r.run, mech)
	c := r.count(ids, err, loop)
	leak := strings.Contains(r.logs.String(), wrongPW) || strings.Contains(r.logs.String(), rightPW)
	Case(t, "exporters", "Kafka: wrong SASL password (scram-sha-512), then the right one",
		"an error naming SASL, the user and outputs.kafka.sasl, no password in the log; nothing lost once fixed",
		fmt.Sprintf("%s; error after %.1f s: %q; password in the log: %v", c, after.Seconds(), e, leak),
		c.err == nil && c.lost == 0 && drained && !leak &&
			strings.Contains(e, "SASL authentication as \\\""+user+"\\\"") && strings.Contains(e, "outputs.kafka.sasl"))
}

func kafkaTLSClientPlainBroker(t *testing.T, shared *backends.Env) {
	cert, _ := writeCert(t)
	r := newExportRun(t)
	e, after, drained, loop := r.misconfigured(
		r.kafkaSink(shared.Kafka, kafka.Options{TLS: kafka.TLS{Enabled: true, CAFile: cert}}),
		r.kafkaSink(shared.Kafka, kafka.Options{}))
	ids, err := kafkaIDs(shared.Kafka, r.run)
	c := r.count(ids, err, loop)
	Case(t, "exporters", "Kafka: TLS client, plain broker",
		"within 2 s an error saying the broker does not speak TLS, naming outputs.kafka.tls; nothing lost once fixed",
		fmt.Sprintf("%s; error after %.1f s: %q", c, after.Seconds(), e),
		c.err == nil && c.lost == 0 && drained && after < 2*time.Second &&
			strings.Contains(e, "does not speak TLS") && strings.Contains(e, "outputs.kafka.tls"))
}

func kafkaPlainClientTLSBroker(t *testing.T) {
	cert, key := writeCert(t)
	addr, stopBroker, err := backends.Kfake("-tls-cert", cert, "-tls-key", key)
	if err != nil {
		t.Fatal(err)
	}
	defer stopBroker()
	r := newExportRun(t)
	e, after, drained, loop := r.misconfigured(
		r.kafkaSink(addr, kafka.Options{}),
		r.kafkaSink(addr, kafka.Options{TLS: kafka.TLS{Enabled: true, CAFile: cert}}))
	ids, err := kafkaIDs(addr, r.run, "security.protocol=SSL", "ssl.ca.location="+cert)
	c := r.count(ids, err, loop)
	Case(t, "exporters", "Kafka: plain client, TLS broker",
		"within 2 s an error saying the broker speaks TLS, naming outputs.kafka.tls.enabled; nothing lost once fixed",
		fmt.Sprintf("%s; error after %.1f s: %q", c, after.Seconds(), e),
		c.err == nil && c.lost == 0 && drained && after < 2*time.Second &&
			strings.Contains(e, "speaks TLS") && strings.Contains(e, "outputs.kafka.tls.enabled"))
}

func esHTTPSClientPlainServer(t *testing.T, shared *backends.Env) {
	r := newExportRun(t)
	e, after, drained, loop := r.misconfigured(
		r.esSink(strings.Replace(shared.ES, "http://", "https://", 1), elasticsearch.Options{}),
		r.esSink(shared.ES, elasticsearch.Options{}))
	ids, err := vlIDs(shared.ESQuery, r.run, int(r.sent.Load()))
	c := r.count(ids, err, loop)
	Case(t, "exporters", "Elasticsearch: https:// address, plain server (VictoriaLogs)",
		"within 2 s an error saying the server does not speak TLS, naming outputs.elasticsearch.addresses; nothing lost once fixed",
		fmt.Sprintf("%s; error after %.1f s: %q", c, after.Seconds(), e),
		c.err == nil && c.lost == 0 && drained && after < 2*time.Second &&
			strings.Contains(e, "does not speak TLS") && strings.Contains(e, "outputs.elasticsearch.addresses"))
}

func esHTTPClientTLSServer(t *testing.T, shared *backends.Env) {
	// VictoriaLogs behind a TLS front (Go's TLS server and reverse proxy).
	target, _ := url.Parse(shared.ES)
	target.Path = ""
	front := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	front.Config.ErrorLog = log.New(io.Discard, "", 0) // the wrong client's handshakes
	front.StartTLS()
	defer front.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}), 0o600)
	path := "/insert/elasticsearch"
	r := newExportRun(t)
	e, after, drained, loop := r.misconfigured(
		r.esSink(strings.Replace(front.URL, "https://", "http://", 1)+path, elasticsearch.Options{}),
		r.esSink(front.URL+path, elasticsearch.Options{CAFile: ca}))
	ids, err := vlIDs(shared.ESQuery, r.run, int(r.sent.Load()))
	c := r.count(ids, err, loop)
	Case(t, "exporters", "Elasticsearch: http:// address, TLS server (VictoriaLogs behind TLS)",
		"within 2 s an error saying the server speaks TLS, naming outputs.elasticsearch.addresses; nothing lost once fixed",
		fmt.Sprintf("%s; error after %.1f s: %q", c, after.Seconds(), e),
		c.err == nil && c.lost == 0 && drained && after < 2*time.Second &&
			strings.Contains(e, "speaks TLS") && strings.Contains(e, "outputs.elasticsearch.addresses"))
}

// tooLarge writes 1000 documents with one of big bytes in the middle, and
// delivers; the big one must be dead-lettered with a reason, the others
// delivered, and delivery must not stall on it.
func (r *exportRun) tooLarge(sink delivery.Sink, big int) (bigID string, loop *delivery.Loop, drained bool) {
	r.write(500)
	bigID = fmt.Sprintf("%s-%07d", r.run, r.sent.Load())
	if err := r.st.Write([][]byte{r.doc(int(r.sent.Load()), big)}); err != nil {
		r.t.Fatal(err)
	}
	r.sent.Add(1)
	r.write(499)
	loop, stop := r.start(sink)
	drained = waitFor(30*time.Second, func() bool { return loop.Lag() == 0 })
	stop()
	return bigID, loop, drained
}

func (r *exportRun) deadLetterReason() string {
	for _, line := range strings.Split(r.logs.String(), "\n") {
		if strings.Contains(line, "kept in the dead letters") {
			if _, e, ok := strings.Cut(line, " first="); ok {
				return strings.Trim(e, `"`)
			}
		}
	}
	return ""
}

func kafkaTooLarge(t *testing.T, shared *backends.Env) {
	r := newExportRun(t)
	// A topic that takes at most 64 KiB per record batch, as a broker
	// configured below the exporter's batch_bytes (1 MiB) does.
	conn, err := kafkago.Dial("tcp", shared.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	err = conn.CreateTopics(kafkago.TopicConfig{Topic: r.run, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: "65536"}}})
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	bigID, loop, drained := r.tooLarge(r.kafkaSink(shared.Kafka, kafka.Options{}), 400<<10)
	ids, err := kafkaIDs(shared.Kafka, r.run)
	c := r.count(ids, err, loop)
	reason := r.deadLetterReason()
	Case(t, "exporters", "Kafka: a 400 KiB document, topic max.message.bytes 64 KiB",
		"the document is dead-lettered with a reason, the 999 others are delivered, delivery does not stall",
		fmt.Sprintf("%s (the big one received %d times); lag 0: %v; reason %q",
			c, ids[bigID], drained, reason),
		c.err == nil && c.lost == 0 && c.deadLettered == 1 && ids[bigID] == 0 && loop.DeadLettered() == 1 && drained && reason != "")
}

// esTooLarge: real Elasticsearch takes a document up to its
// http.max_content_length (100 MB), and VictoriaLogs up to its line limit,
// which up.sh raises above the exporter's largest (docs/backends.md); the
// limit a user sets for their cluster is outputs.elasticsearch.
// max_document_bytes. A document above it must be dead-lettered, not sent.
func esTooLarge(t *testing.T, shared *backends.Env) {
	r := newExportRun(t)
	bigID, loop, drained := r.tooLarge(r.esSink(shared.ES, elasticsearch.Options{MaxDocumentBytes: 256 << 10}), 600<<10)
	ids, err := vlIDs(shared.ESQuery, r.run, 999)
	c := r.count(ids, err, loop)
	reason := r.deadLetterReason()
	Case(t, "exporters", "Elasticsearch: a 600 KiB document, max_document_bytes 256 KiB (VictoriaLogs)",
		"the document is dead-lettered with a reason, the 999 others are delivered, delivery does not stall",
		fmt.Sprintf("%s (the big one received %d times); lag 0: %v; reason %q",
			c, ids[bigID], drained, reason),
		c.err == nil && drained && c.lost == 0 && c.deadLettered == 1 && ids[bigID] == 0 && loop.DeadLettered() == 1 && reason != "")
}

// esOverLineLimit: a document above what the server takes, when the
// server says so by closing the connection (VictoriaLogs with its default
// 256 KiB line limit): the records stay in the store, nothing is lost, but
// delivery of the stream stops until the limit or max_document_bytes is
// changed. Recorded as observed; see docs/exporters.md.
func esOverLineLimit(t *testing.T) {
	env, err := backends.StartWith([]string{"BANSHO_ES_MAX_LINE=262144"}, "es")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	r := newExportRun(t)
	_, loop, drained := r.tooLarge(r.esSink(env.ES, elasticsearch.Options{}), 600<<10)
	ids, err := vlIDs(env.ESQuery, r.run, 500)
	c := r.count(ids, err, loop)
	Case(t, "exporters", "Elasticsearch: a 600 KiB document, server line limit 256 KiB (VictoriaLogs default)",
		"nothing lost: the refused document and those after it stay in the store (delivery of the stream waits), the error names max_document_bytes",
		fmt.Sprintf("%s; lag %d; log: %q", c, loop.Lag(), r.firstError()),
		c.err == nil && !drained && c.lost == 0 && c.pending > 0 && strings.Contains(r.firstError(), "max_document_bytes"))
}
