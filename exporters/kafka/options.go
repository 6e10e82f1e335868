package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Options configure the Kafka exporter (configuration section
// outputs.kafka; the keys are named in errors).
type Options struct {
	Brokers []string // host:port seed brokers
	Topics  Topics
	// Compression: none, gzip, snappy, lz4, zstd.
	Compression  string
	BatchSize    int           // messages per produce request and partition
	BatchBytes   int64         // bytes per produce request and partition; larger documents are dead-lettered
	BatchTimeout time.Duration // how long a partial batch waits for more
	WriteTimeout time.Duration // one produce request
	// MaxAttempts the client makes for one batch before the delivery loop
	// takes over (and backs off).
	MaxAttempts int
	// AllowAutoTopicCreation asks the brokers to create missing topics.
	// Off: a missing topic is an error (counted, retried, nothing lost).
	AllowAutoTopicCreation bool
	ClientID               string
	TLS                    TLS
	SASL                   SASL
	// Key is the message key of documents that carry no host.name.
	Key string
}

// Topics name the topic of each kind of document.
type Topics struct {
	Events string // event.kind event
	Alerts string // event.kind alert
	Health string // event.kind metric and state: sensor health and lifecycle
}

// TLS configures encryption to the brokers.
type TLS struct {
	Enabled            bool
	CAFile             string // PEM bundle; empty: the system roots
	CertFile, KeyFile  string // client certificate (both or neither)
	ServerName         string // expected name in the brokers' certificates
	InsecureSkipVerify bool   // never in production
}

// SASL configures authentication.
type SASL struct {
	Mechanism string // "", plain, scram-sha-256, scram-sha-512
	Username  string
	Password  string
}

// DefaultOptions are the exporter's defaults, the one place they are
// written: zero fields of Options get them, and the configuration's
// defaults (outputs.kafka.*) are read from here.
func DefaultOptions() Options {
	return Options{
		Topics:       Topics{Events: "bansho-events", Alerts: "bansho-alerts", Health: "bansho-health"},
		Compression:  "snappy",
		BatchSize:    1000,
		BatchBytes:   1 << 20,
		BatchTimeout: 10 * time.Millisecond,
		WriteTimeout: 10 * time.Second,
		MaxAttempts:  3,
		ClientID:     "bansho",
	}
}

// defaults fill zero fields.
func (o *Options) defaults() {
	d := DefaultOptions()
	if o.Topics.Events == "" {
		o.Topics.Events = d.Topics.Events
	}
	if o.Topics.Alerts == "" {
		o.Topics.Alerts = d.Topics.Alerts
	}
	if o.Topics.Health == "" {
		o.Topics.Health = d.Topics.Health
	}
	if o.Compression == "" {
		o.Compression = d.Compression
	}
	if o.BatchSize <= 0 {
		o.BatchSize = d.BatchSize
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = d.BatchBytes
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = d.BatchTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = d.WriteTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = d.MaxAttempts
	}
	if o.ClientID == "" {
		o.ClientID = d.ClientID
	}
}

func keyErr(key, format string, args ...any) error {
	return fmt.Errorf("outputs.kafka.%s: %s", key, fmt.Sprintf(format, args...))
}

func compression(name string) (compress.Compression, error) {
	switch strings.ToLower(name) {
	case "none":
		return 0, nil
	case "gzip":
		return kafkago.Gzip, nil
	case "snappy":
		return kafkago.Snappy, nil
	case "lz4":
		return kafkago.Lz4, nil
	case "zstd":
		return kafkago.Zstd, nil
	}
	return 0, keyErr("compression", "%q is not one of none, gzip, snappy, lz4, zstd", name)
}

// validTopic follows Kafka's rule: 1 to 249 of [a-zA-Z0-9._-].
func validTopic(key, t string) error {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return keyErr(key, "%q is not a valid topic name", t)
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return keyErr(key, "%q is not a valid topic name (letters, digits, '.', '_', '-')", t)
		}
	}
	return nil
}

// validate checks everything that can be checked before a broker is
// contacted, and builds the transport.
func (o *Options) validate() (*kafkago.Transport, compress.Compression, error) {
	if len(o.Brokers) == 0 {
		return nil, 0, keyErr("brokers", "at least one broker (host:port) is required")
	}
	for i, b := range o.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			if j := strings.LastIndex(b, "@"); j >= 0 {
				b = "xxxxx" + b[j:] // user info, perhaps a password
			}
			return nil, 0, keyErr(fmt.Sprintf("brokers[%d]", i), "%q is not host:port", b)
		}
	}
	for key, t := range map[string]string{"topics.events": o.Topics.Events, "topics.alerts": o.Topics.Alerts, "topics.health": o.Topics.Health} {
		if err := validTopic(key, t); err != nil {
			return nil, 0, err
		}
	}
	codec, err := compression(o.Compression)
	if err != nil {
		return nil, 0, err
	}
	tr := &kafkago.Transport{ClientID: o.ClientID, DialTimeout: 5 * time.Second, MetadataTTL: 30 * time.Second}
	if tr.TLS, err = o.TLS.config(); err != nil {
		return nil, 0, err
	}
	if tr.SASL, err = o.SASL.mechanism(); err != nil {
		return nil, 0, err
	}
	return tr, codec, nil
}

func (t *TLS) config() (*tls.Config, error) {
	if !t.Enabled {
		if t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify {
			return nil, keyErr("tls.enabled", "TLS files or options are set but outputs.kafka.tls.enabled is false")
		}
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, keyErr("tls.ca_file", "%v", errors.Unwrap(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, keyErr("tls.ca_file", "%s holds no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, keyErr("tls.cert_file", "client certificate %s with key %s: %v", t.CertFile, t.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	case t.CertFile != "":
		return nil, keyErr("tls.key_file", "required with outputs.kafka.tls.cert_file")
	case t.KeyFile != "":
		return nil, keyErr("tls.cert_file", "required with outputs.kafka.tls.key_file")
	}
	return c, nil
}

func (s *SASL) mechanism() (sasl.Mechanism, error) {
	m := strings.ToLower(s.Mechanism)
	if m == "" || m == "none" {
		if s.Username != "" || s.Password != "" {
			return nil, keyErr("sasl.mechanism", "a SASL user or password is set but no mechanism (plain, scram-sha-256, scram-sha-512)")
		}
		return nil, nil
	}
	if s.Username == "" {
		return nil, keyErr("sasl.username", "required with outputs.kafka.sasl.mechanism %s", m)
	}
	if s.Password == "" {
		return nil, keyErr("sasl.password", "required with outputs.kafka.sasl.mechanism %s", m)
	}
	switch m {
	case "plain":
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if m == "scram-sha-512" {
			algo = scram.SHA512
		}
		mech, err := scram.Mechanism(algo, s.Username, s.Password)
		if err != nil {
			return nil, keyErr("sasl.username", "%v", err)
		}
		return mech, nil
	}
	return nil, keyErr("sasl.mechanism", "%q is not one of plain, scram-sha-256, scram-sha-512", s.Mechanism)
}
