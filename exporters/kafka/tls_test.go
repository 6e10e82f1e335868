package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
	"github.com/bansho-sec/bansho/test/backends"
)

// TLS against a real broker serving it (kfake with -tls-cert): with the CA
// in tls.ca_file the batch is delivered; with the system roots the
// certificate is refused, nothing is acknowledged, nothing lost.
func TestTLSAgainstBroker(t *testing.T) {
	needBroker(t)
	cert, key := writeCert(t, t.TempDir())
	addr, stop, err := backends.Kfake("-tls-cert", cert, "-tls-key", key)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	run := uniq(t)
	try := func(tlsOpt TLS) ([]delivery.Result, error) {
		s, err := New(Options{Brokers: []string{addr}, AllowAutoTopicCreation: true, MaxAttempts: 1, WriteTimeout: 5 * time.Second,
			Topics: Topics{Events: run, Alerts: run, Health: run}, TLS: tlsOpt})
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
	res, err := try(TLS{Enabled: true, CAFile: cert})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Status != delivery.Delivered {
			t.Fatalf("record %d status %d", i, r.Status)
		}
	}
	res, err = try(TLS{Enabled: true})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "is not trusted (check outputs.kafka.tls.ca_file") {
		t.Fatalf("error %v, want a certificate error", err)
	}
	for i, r := range res {
		if r.Status != delivery.Pending {
			t.Fatalf("record %d status %d, want pending", i, r.Status)
		}
	}
}
