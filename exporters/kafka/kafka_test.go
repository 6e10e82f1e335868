package kafka

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
	"github.com/bansho-sec/bansho/test/backends"
)

// env is the kfake broker this test binary started (nil with -short).
var env *backends.Env

func TestMain(m *testing.M) {
	backends.Main(m, &env, "kafka")
}

func needBroker(t *testing.T) string {
	t.Helper()
	if env == nil {
		t.Skip("-short: no broker started")
	}
	return env.Kafka
}

func uniq(t *testing.T) string {
	return strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())) + fmt.Sprint(time.Now().UnixNano()%1e9)
}

func records(docs []testdocs.Doc, stream string) []delivery.Record {
	out := make([]delivery.Record, len(docs))
	for i, d := range docs {
		out[i] = delivery.Record{Stream: stream, Seq: uint64(i + 1), Kind: d.Kind, Doc: d.Body}
	}
	return out
}

// sendBatch sends 20 documents to the events topic with opt, as the
// authentication tests do: one attempt, a 5s write timeout, 20s in all.
func sendBatch(t *testing.T, opt Options) ([]delivery.Result, error) {
	t.Helper()
	opt.AllowAutoTopicCreation, opt.MaxAttempts, opt.WriteTimeout = true, 1, 5*time.Second
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := records(testdocs.Docs("h", 20), "events")
	res := make([]delivery.Result, len(recs))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return res, s.Send(ctx, recs, res)
}

var statusName = map[delivery.Status]string{delivery.Pending: "pending", delivery.Delivered: "delivered", delivery.Rejected: "rejected"}

// requireStatus fails the test unless every result has the status want
// (what, when not empty, names the case).
func requireStatus(t *testing.T, what string, res []delivery.Result, want delivery.Status) {
	t.Helper()
	for i, r := range res {
		if r.Status != want {
			t.Fatalf("%srecord %d: status %s, want %s", what, i, statusName[r.Status], statusName[want])
		}
	}
}

// kcat reads a whole topic back with Debian's kcat (librdkafka): an
// independent client. It returns key<TAB>value lines.
func kcat(t *testing.T, broker, topic string) []string {
	t.Helper()
	out, err := exec.Command("timeout", "60", "kcat", "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-q",
		"-m", "10", "-f", "%k\t%s\n").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("kcat -C %s: %v %s", topic, err, stderr)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

func send(t *testing.T, s *Sink, recs []delivery.Record) {
	t.Helper()
	for len(recs) > 0 {
		n := min(len(recs), 1000)
		res := make([]delivery.Result, n)
		if err := s.Send(context.Background(), recs[:n], res); err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Status != delivery.Delivered {
				t.Fatalf("record %d: status %d %s", recs[i].Seq, r.Status, r.Reason)
			}
		}
		recs = recs[n:]
	}
}

// Documents go to the topic of their kind, keyed by host.name, each once;
// kcat reads back exactly what was sent.
func TestSendRoutesByKindAndKeysByHost(t *testing.T) {
	broker := needBroker(t)
	run := uniq(t)
	docs := testdocs.Docs("host-"+run, 3000)
	s, err := New(Options{Brokers: []string{broker}, AllowAutoTopicCreation: true, Compression: "zstd",
		Topics: Topics{Events: run + "-events", Alerts: run + "-alerts", Health: run + "-health"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	send(t, s, records(docs, "events"))

	want := map[string]map[string]bool{}
	for _, d := range docs {
		topic := s.Topic(d.Kind)
		if want[topic] == nil {
			want[topic] = map[string]bool{}
		}
		want[topic][d.ID] = true
	}
	if len(want) != 3 {
		t.Fatalf("test documents cover %d topics, want 3", len(want))
	}
	for topic, ids := range want {
		lines := kcat(t, broker, topic)
		if len(lines) != len(ids) {
			t.Errorf("%s: kcat read %d messages, sent %d", topic, len(lines), len(ids))
		}
		seen := map[string]bool{}
		for _, l := range lines {
			key, val, _ := strings.Cut(l, "\t")
			if key != "host-"+run {
				t.Fatalf("%s: key %q, want the host name", topic, key)
			}
			id := testdocs.EventID([]byte(val))
			if !ids[id] || seen[id] {
				t.Fatalf("%s: unexpected or repeated event.id %q", topic, id)
			}
			seen[id] = true
		}
	}
}

func TestEveryCodec(t *testing.T) {
	broker := needBroker(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			run := uniq(t)
			docs := testdocs.Docs("h", 200)
			s, err := New(Options{Brokers: []string{broker}, AllowAutoTopicCreation: true, Compression: codec,
				Topics: Topics{Events: run, Alerts: run, Health: run}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			send(t, s, records(docs, "events"))
			if got := kcat(t, broker, run); len(got) != len(docs) {
				t.Fatalf("kcat read %d of %d", len(got), len(docs))
			}
		})
	}
}

// A topic that does not exist, with auto-creation off: a clear error, and
// every record stays pending (nothing is lost or dead-lettered).
func TestMissingTopic(t *testing.T) {
	broker := needBroker(t)
	run := uniq(t)
	s, err := New(Options{Brokers: []string{broker}, MaxAttempts: 1, Topics: Topics{Events: run, Alerts: run, Health: run}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := records(testdocs.Docs("h", 10), "events")
	res := make([]delivery.Result, len(recs))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = s.Send(ctx, recs, res)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "outputs.kafka.allow_auto_topic_creation") || !strings.Contains(err.Error(), run) {
		t.Fatalf("error %v, want one naming the missing topic %s and allow_auto_topic_creation", err, run)
	}
	requireStatus(t, "", res, delivery.Pending)
}

func TestUnreachableBroker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s, err := New(Options{Brokers: []string{addr}, MaxAttempts: 1, WriteTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := records(testdocs.Docs("h", 5), "events")
	res := make([]delivery.Result, len(recs))
	err = s.Send(context.Background(), recs, res)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("error %v, want one saying %s is unreachable", err, addr)
	}
	requireStatus(t, "", res, delivery.Pending)
}

// A document larger than a produce request can carry is rejected for
// good (dead letter) with the reason; the others of the batch go through.
func TestOversizedDocumentRejected(t *testing.T) {
	broker := needBroker(t)
	run := uniq(t)
	s, err := New(Options{Brokers: []string{broker}, AllowAutoTopicCreation: true, BatchBytes: 64 << 10,
		Topics: Topics{Events: run, Alerts: run, Health: run}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := records(testdocs.Docs("h", 3), "events")
	big := append(bytes.Clone(recs[1].Doc[:len(recs[1].Doc)-1]), []byte(`,"bansho":{"pad":"`+strings.Repeat("x", 70<<10)+`"}}`)...)
	recs[1].Doc = big
	res := make([]delivery.Result, len(recs))
	if err := s.Send(context.Background(), recs, res); err != nil {
		t.Fatal(err)
	}
	if res[0].Status != delivery.Delivered || res[2].Status != delivery.Delivered {
		t.Fatalf("results %+v", res)
	}
	if res[1].Status != delivery.Rejected || !strings.Contains(res[1].Reason, "outputs.kafka.batch_bytes") {
		t.Fatalf("oversized: %+v, want rejected naming outputs.kafka.batch_bytes", res[1])
	}
	if got := kcat(t, broker, run); len(got) != 2 {
		t.Fatalf("kcat read %d messages, want 2", len(got))
	}
}

func TestHostKey(t *testing.T) {
	for doc, want := range map[string]string{
		`{"@timestamp":"x","host":{"name":"hr-db-01","id":"y"}}`: "hr-db-01",
		`{"host":{"name":"a\"b"}}`:                               `a\"b`,
		`{"host":{"name":""}}`:                                   "",
		`{"event":{}}`:                                           "",
		`{"host":{"name":"unterminated`:                          "",
	} {
		if got := string(HostKey([]byte(doc))); got != want {
			t.Errorf("HostKey(%s) = %q, want %q", doc, got, want)
		}
	}
}

// A topic whose max.message.bytes is below what a produce request carries:
// the refused requests are split until they fit, so every document is
// delivered (none is dropped, and the stream does not stall on a setting).
func TestProduceRequestTooLarge(t *testing.T) {
	broker := needBroker(t)
	run := uniq(t)
	cl := &kafkago.Client{Addr: kafkago.TCP(broker)}
	resp, err := cl.CreateTopics(context.Background(), &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: run, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: "20000"}}}}})
	if err != nil || resp.Errors[run] != nil {
		t.Fatalf("create topic: %v %v", err, resp)
	}
	s, err := New(Options{Brokers: []string{broker}, MaxAttempts: 1, Compression: "none", Topics: Topics{Events: run, Alerts: run, Health: run}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := records(testdocs.Docs("h", 100), "events")
	res := make([]delivery.Result, len(recs))
	if err := s.Send(context.Background(), recs, res); err != nil {
		t.Fatal(err)
	}
	requireStatus(t, "", res, delivery.Delivered)
	if got := kcat(t, broker, run); len(got) != 100 {
		t.Fatalf("kcat read %d messages, want 100", len(got))
	}
}
