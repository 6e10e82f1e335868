package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
	"github.com/bansho-sec/bansho/test/backends"
)

// A TLS client against a plain broker, and a plain client against a TLS
// broker: the error says TLS is the likely cause and names
// outputs.kafka.tls, quickly (not after the 5 s write timeout), and
// nothing is acknowledged or lost.
func TestTLSMismatch(t *testing.T) {
	plain := needBroker(t)
	cert, key := writeCert(t, t.TempDir())
	tlsAddr, stop, err := backends.Kfake("-tls-cert", cert, "-tls-key", key)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	run := uniq(t)
	for _, c := range []struct {
		name, addr string
		tls        TLS
		want       []string
	}{
		{"tls client, plain broker", plain, TLS{Enabled: true, CAFile: cert},
			[]string{"TLS handshake with " + plain + " failed", "does not speak TLS", "outputs.kafka.tls"}},
		{"plain client, tls broker", tlsAddr, TLS{},
			[]string{tlsAddr + " speaks TLS", "outputs.kafka.tls.enabled"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			res, err := sendBatch(t, Options{Brokers: []string{c.addr}, Topics: Topics{Events: run, Alerts: run, Health: run}, TLS: c.tls})
			took := time.Since(start)
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
			if err == nil {
				t.Fatal("delivered")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if took > 4*time.Second {
				t.Errorf("took %v to fail, want under 4 s", took)
			}
			requireStatus(t, "", res, delivery.Pending)
		})
	}
}

// A missing topic says whether auto-creation was asked for: "is off: create
// it" only when it is off.
func TestExplainUnknownTopic(t *testing.T) {
	for _, auto := range []bool{false, true} {
		s, err := New(Options{Brokers: []string{"127.0.0.1:1"}, AllowAutoTopicCreation: auto})
		if err != nil {
			t.Fatal(err)
		}
		s.msgs = []kafkago.Message{{Topic: "bansho-events"}}
		msg := s.explain(kafkago.UnknownTopicOrPartition).Error()
		t.Log(msg)
		if off := strings.Contains(msg, "allow_auto_topic_creation is off"); off == auto {
			t.Errorf("allow_auto_topic_creation %v: %q", auto, msg)
		}
		if !errors.Is(s.explain(kafkago.UnknownTopicOrPartition), kafkago.UnknownTopicOrPartition) {
			t.Error("the broker's error is not wrapped")
		}
		s.Close()
	}
}

// A document the broker refuses as too large (the topic's
// max.message.bytes is below batch_bytes) is dead-lettered with a reason;
// the documents that shared its produce request are delivered, so the
// stream does not stall on it.
func TestBrokerRefusesLargeDocument(t *testing.T) {
	broker := needBroker(t)
	run := uniq(t)
	conn, err := kafkago.Dial("tcp", broker)
	if err != nil {
		t.Fatal(err)
	}
	err = conn.CreateTopics(kafkago.TopicConfig{Topic: run, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: "65536"}}})
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Brokers: []string{broker}, Topics: Topics{Events: run, Alerts: run, Health: run}, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := records(testdocs.Docs("h", 40), "events")
	big := append(append([]byte(`{"host":{"name":"h"},"message":"`), hexNoise(300<<10)...), `"}`...)
	recs[20].Doc = big
	res := make([]delivery.Result, len(recs))
	err = s.Send(context.Background(), recs, res)
	t.Log(err)
	for i, r := range res {
		want := delivery.Delivered
		if i == 20 {
			want = delivery.Rejected
		}
		if r.Status != want {
			t.Errorf("record %d: %s (%s), want %s", i, statusName[r.Status], r.Reason, statusName[want])
		}
	}
	if !strings.Contains(res[20].Reason, "max.message.bytes") {
		t.Errorf("reason %q does not name max.message.bytes", res[20].Reason)
	}
}

func hexNoise(n int) []byte {
	b := make([]byte, n/2)
	rand.Read(b)
	return []byte(hex.EncodeToString(b))
}
