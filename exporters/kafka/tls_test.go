package kafka

import (
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/exporters/delivery"
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
		return sendBatch(t, Options{Brokers: []string{addr}, Topics: Topics{Events: run, Alerts: run, Health: run}, TLS: tlsOpt})
	}
	res, err := try(TLS{Enabled: true, CAFile: cert})
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, "", res, delivery.Delivered)
	res, err = try(TLS{Enabled: true})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "is not trusted (check outputs.kafka.tls.ca_file") {
		t.Fatalf("error %v, want a certificate error", err)
	}
	requireStatus(t, "", res, delivery.Pending)
}
