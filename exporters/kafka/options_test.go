package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert makes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bansho-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestOptionsErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	notPEM := filepath.Join(dir, "notpem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	ok := func(o Options) Options {
		if o.Brokers == nil {
			o.Brokers = []string{"127.0.0.1:9092"}
		}
		return o
	}
	for _, c := range []struct {
		name string
		opt  Options
		want string
	}{
		{"no brokers", Options{}, "outputs.kafka.brokers: at least one broker"},
		{"bad broker", Options{Brokers: []string{"kafka1"}}, `outputs.kafka.brokers[0]: "kafka1" is not host:port`},
		{"broker with a password", Options{Brokers: []string{"u:pw-in-url@kafka1:9092"}}, `outputs.kafka.brokers[0]: "xxxxx@kafka1:9092" is not host:port`},
		{"bad topic", ok(Options{Topics: Topics{Alerts: "my alerts"}}), `outputs.kafka.topics.alerts: "my alerts" is not a valid topic name`},
		{"bad codec", ok(Options{Compression: "brotli"}), `outputs.kafka.compression: "brotli" is not one of none, gzip, snappy, lz4, zstd`},
		{"tls files without tls", ok(Options{TLS: TLS{CAFile: cert}}), "outputs.kafka.tls.enabled: TLS files or options are set"},
		{"missing ca", ok(Options{TLS: TLS{Enabled: true, CAFile: filepath.Join(dir, "nope.pem")}}), "outputs.kafka.tls.ca_file: no such file or directory"},
		{"ca not pem", ok(Options{TLS: TLS{Enabled: true, CAFile: notPEM}}), "outputs.kafka.tls.ca_file: " + notPEM + " holds no PEM certificate"},
		{"cert without key", ok(Options{TLS: TLS{Enabled: true, CertFile: cert}}), "outputs.kafka.tls.key_file: required"},
		{"key without cert", ok(Options{TLS: TLS{Enabled: true, KeyFile: key}}), "outputs.kafka.tls.cert_file: required"},
		{"cert is not a key", ok(Options{TLS: TLS{Enabled: true, CertFile: cert, KeyFile: cert}}), "outputs.kafka.tls.cert_file: client certificate"},
		{"bad mechanism", ok(Options{SASL: SASL{Mechanism: "gssapi", Username: "u", Password: "p"}}), `outputs.kafka.sasl.mechanism: "gssapi" is not one of plain, scram-sha-256, scram-sha-512`},
		{"user without mechanism", ok(Options{SASL: SASL{Username: "u"}}), "outputs.kafka.sasl.mechanism: a SASL user or password is set"},
		{"no user", ok(Options{SASL: SASL{Mechanism: "SCRAM-SHA-512", Password: "p"}}), "outputs.kafka.sasl.username: required"},
		{"no password", ok(Options{SASL: SASL{Mechanism: "plain", Username: "u"}}), "outputs.kafka.sasl.password: required"},
	} {
		_, err := New(c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	// And correct settings pass: TLS with CA and client certificate, each
	// SASL mechanism.
	for _, m := range []string{"plain", "scram-sha-256", "SCRAM-SHA-512"} {
		s, err := New(ok(Options{TLS: TLS{Enabled: true, CAFile: cert, CertFile: cert, KeyFile: key},
			SASL: SASL{Mechanism: m, Username: "bansho", Password: "secret"}}))
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if s.tls == nil || s.tls.RootCAs == nil || len(s.tls.Certificates) != 1 || s.tls.InsecureSkipVerify {
			t.Errorf("%s: TLS config %+v", m, s.tls)
		}
		if s.tr.SASL == nil || !strings.EqualFold(s.tr.SASL.Name(), m) {
			t.Errorf("%s: SASL mechanism %v", m, s.tr.SASL)
		}
		s.Close()
	}
}

func TestDefaults(t *testing.T) {
	s, err := New(Options{Brokers: []string{"127.0.0.1:9092"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.w.RequiredAcks != -1 || s.w.AllowAutoTopicCreation || s.tls != nil {
		t.Errorf("acks %d auto-create %v tls %v: want acks=all, no auto-create, no TLS by default",
			s.w.RequiredAcks, s.w.AllowAutoTopicCreation, s.tls)
	}
	for kind, want := range map[string]string{"event": "bansho-events", "alert": "bansho-alerts", "metric": "bansho-health", "state": "bansho-health", "": "bansho-events"} {
		if got := s.Topic(kind); got != want {
			t.Errorf("Topic(%q) = %s, want %s", kind, got, want)
		}
	}
}
