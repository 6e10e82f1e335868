// Package kafka ships stored documents to Kafka with segmentio/kafka-go:
// acks from all in-sync replicas, batching and compression, one topic per
// kind of document, and host.name as the message key so one host's
// documents stay in order in one partition. It is a delivery.Sink: the
// delivery loop commits only what the brokers acknowledged.
package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/bansho-sec/bansho/exporters/delivery"
)

// Sink is the Kafka exporter.
type Sink struct {
	opt Options
	w   *kafkago.Writer
	tr  *kafkago.Transport
	tls *tls.Config // nil: plain; the dialer does the handshake

	msgs []kafkago.Message
	idx  []int

	tlsBroker string // set by anySpeaksTLS
}

// recordOverhead bounds what kafka-go adds to key and value when it sizes
// a message against BatchBytes (Message.totalSize: 23 bytes plus headers,
// which we do not send), so kafka-go never refuses a whole call with
// MessageTooLargeError for a document this check let through.
const recordOverhead = 64

// New validates the options (errors name the outputs.kafka key) and
// prepares a writer; no broker is contacted until the first Send.
func New(opt Options) (*Sink, error) {
	opt.defaults()
	tr, codec, err := opt.validate()
	if err != nil {
		return nil, err
	}
	// The exporter's dialer does the TLS handshake, so a broker that
	// does not speak TLS is named as such instead of a timeout.
	tlsCfg := tr.TLS
	tr.TLS = nil
	tr.Dial = (&dialer{net: net.Dialer{Timeout: tr.DialTimeout}, tls: tlsCfg}).dial
	w := &kafkago.Writer{
		Addr:                   kafkago.TCP(opt.Brokers...),
		Balancer:               &kafkago.Murmur2Balancer{Consistent: true}, // the Java client's partitioner: same key, same partition
		RequiredAcks:           kafkago.RequireAll,
		BatchSize:              opt.BatchSize,
		BatchBytes:             opt.BatchBytes,
		BatchTimeout:           opt.BatchTimeout,
		WriteTimeout:           opt.WriteTimeout,
		ReadTimeout:            opt.WriteTimeout,
		MaxAttempts:            opt.MaxAttempts,
		Compression:            codec,
		Transport:              tr,
		AllowAutoTopicCreation: opt.AllowAutoTopicCreation,
	}
	return &Sink{opt: opt, w: w, tr: tr, tls: tlsCfg}, nil
}

// Name implements delivery.Sink.
func (s *Sink) Name() string { return "kafka" }

// Topic is where a document of this event.kind goes.
func (s *Sink) Topic(kind string) string {
	switch kind {
	case "alert":
		return s.opt.Topics.Alerts
	case "metric", "state":
		return s.opt.Topics.Health
	}
	return s.opt.Topics.Events
}

// Send implements delivery.Sink: it produces the batch and waits for the
// brokers' acknowledgement of every message (acks=all).
func (s *Sink) Send(ctx context.Context, batch []delivery.Record, res []delivery.Result) error {
	s.msgs, s.idx = s.msgs[:0], s.idx[:0]
	for i := range batch {
		r := &batch[i]
		key := HostKey(r.Doc)
		if key == nil && s.opt.Key != "" {
			key = []byte(s.opt.Key)
		}
		if n := len(key) + len(r.Doc) + recordOverhead; int64(n) > s.opt.BatchBytes {
			res[i] = delivery.Result{Status: delivery.Rejected,
				Reason: fmt.Sprintf("document of %d bytes does not fit outputs.kafka.batch_bytes (%d)", len(r.Doc), s.opt.BatchBytes)}
			continue
		}
		s.msgs = append(s.msgs, kafkago.Message{Topic: s.Topic(r.Kind), Key: key, Value: r.Doc})
		s.idx = append(s.idx, i)
	}
	if len(s.msgs) == 0 {
		return nil
	}
	err := s.w.WriteMessages(ctx, s.msgs...)
	if err == nil {
		for _, i := range s.idx {
			res[i].Status = delivery.Delivered
		}
		return nil
	}
	errs := make([]error, len(s.msgs))
	var werr kafkago.WriteErrors
	switch {
	case errors.As(err, &werr) && len(werr) == len(s.msgs):
		copy(errs, werr)
	default:
		for j := range errs {
			errs[j] = err
		}
	}
	var first error
	var large []int
	for j, e := range errs {
		switch {
		case e == nil:
			res[s.idx[j]].Status = delivery.Delivered
		case errors.Is(e, kafkago.MessageSizeTooLarge):
			large = append(large, j)
		case first == nil:
			first = e
		}
	}
	if len(large) > 0 {
		// The broker refused a record batch as too large: one of its
		// messages is too large for the topic, or the batch is. Split
		// until each is accepted or refused alone, so one large
		// document cannot stall the stream.
		if e := s.split(ctx, large, res); e != nil && first == nil {
			first = e
		}
	}
	if first == nil {
		return nil
	}
	return s.explain(first)
}

// split produces the messages js of s.msgs (refused together as too
// large) in halves, down to single messages; a message refused alone is
// rejected for good (dead-lettered with the reason). It returns an error
// that left messages pending, if any.
func (s *Sink) split(ctx context.Context, js []int, res []delivery.Result) error {
	if len(js) == 1 {
		j := js[0]
		m := s.msgs[j]
		err := s.w.WriteMessages(ctx, m)
		var werr kafkago.WriteErrors
		if errors.As(err, &werr) && len(werr) == 1 {
			err = werr[0]
		}
		switch {
		case err == nil:
			res[s.idx[j]].Status = delivery.Delivered
			return nil
		case errors.Is(err, kafkago.MessageSizeTooLarge):
			res[s.idx[j]] = delivery.Result{Status: delivery.Rejected,
				Reason: fmt.Sprintf("document of %d bytes refused by the broker as too large for topic %s (its max.message.bytes, or the broker's message.max.bytes): %v",
					len(m.Value), m.Topic, err)}
			return nil
		}
		return err
	}
	var first error
	for _, half := range [][]int{js[:len(js)/2], js[len(js)/2:]} {
		msgs := make([]kafkago.Message, len(half))
		for k, j := range half {
			msgs[k] = s.msgs[j]
		}
		err := s.w.WriteMessages(ctx, msgs...)
		if err == nil {
			for _, j := range half {
				res[s.idx[j]].Status = delivery.Delivered
			}
			continue
		}
		var werr kafkago.WriteErrors
		if !errors.As(err, &werr) || len(werr) != len(half) {
			werr = make(kafkago.WriteErrors, len(half))
			for k := range werr {
				werr[k] = err
			}
		}
		var again []int
		for k, e := range werr {
			switch {
			case e == nil:
				res[s.idx[half[k]]].Status = delivery.Delivered
			case errors.Is(e, kafkago.MessageSizeTooLarge):
				again = append(again, half[k])
			case first == nil:
				first = e
			}
		}
		if len(again) > 0 {
			if e := s.split(ctx, again, res); e != nil && first == nil {
				first = e
			}
		}
	}
	return first
}

// explain turns kafka-go's errors into ones that say what to fix.
func (s *Sink) explain(err error) error {
	brokers := strings.Join(s.opt.Brokers, ",")
	var kerr kafkago.Error
	var nerr net.Error
	var cerr *tls.CertificateVerificationError
	var mis *tlsMismatchError
	var herr *tlsHandshakeError
	switch {
	case errors.As(err, &mis):
		return fmt.Errorf("kafka: %w", mis)
	case s.tls == nil && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) &&
		s.anySpeaksTLS():
		// A TLS listener closes a connection whose first bytes are no
		// TLS handshake.
		return fmt.Errorf("kafka: %w", &tlsMismatchError{addr: s.tlsBroker, brokerTLS: true, err: err})
	case errors.As(err, &herr):
		return fmt.Errorf("kafka: %w", herr)
	case errors.As(err, &cerr):
		return fmt.Errorf("kafka: the certificate of %s is not trusted (check outputs.kafka.tls.ca_file and tls.server_name): %w", brokers, err)
	case errors.As(err, &kerr) && kerr == kafkago.UnknownTopicOrPartition && !s.opt.AllowAutoTopicCreation:
		return fmt.Errorf("kafka: a topic (%s) does not exist on %s and outputs.kafka.allow_auto_topic_creation is off: create it: %w",
			s.topics(), brokers, err)
	case errors.As(err, &kerr) && kerr == kafkago.UnknownTopicOrPartition:
		return fmt.Errorf("kafka: a topic (%s) does not exist on %s, which did not create it although outputs.kafka.allow_auto_topic_creation is on (auto.create.topics.enable is off on the brokers?): create it: %w",
			s.topics(), brokers, err)
	case errors.As(err, &kerr) && (kerr == kafkago.SASLAuthenticationFailed || kerr == kafkago.UnsupportedSASLMechanism || kerr == kafkago.IllegalSASLState):
		return fmt.Errorf("kafka: SASL authentication as %q with %s failed at %s (check outputs.kafka.sasl.*): %w",
			s.opt.SASL.Username, s.opt.SASL.Mechanism, brokers, err)
	case errors.As(err, &kerr) && kerr == kafkago.MessageSizeTooLarge:
		return fmt.Errorf("kafka: %s refuses a produce request of %s as too large: set outputs.kafka.batch_bytes below the topic's max.message.bytes: %w",
			brokers, s.topics(), err)
	case errors.As(err, &kerr) && (kerr == kafkago.TopicAuthorizationFailed || kerr == kafkago.ClusterAuthorizationFailed):
		return fmt.Errorf("kafka: %s refuses to let %q write to %s: %w", brokers, s.opt.SASL.Username, s.topics(), err)
	case errors.As(err, &nerr):
		return fmt.Errorf("kafka: brokers %s unreachable: %w", brokers, err)
	case s.opt.SASL.Mechanism != "" && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		// Brokers may close the connection on a failed SASL exchange
		// instead of answering it.
		return fmt.Errorf("kafka: %s closed the connection during or after SASL authentication as %q with %s: wrong password or mechanism? (check outputs.kafka.sasl.*): %w",
			brokers, s.opt.SASL.Username, s.opt.SASL.Mechanism, err)
	}
	return fmt.Errorf("kafka: produce to %s: %w", brokers, err)
}

// anySpeaksTLS asks each broker whether it speaks TLS, and remembers the
// first that does in s.tlsBroker.
func (s *Sink) anySpeaksTLS() bool {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	for _, b := range s.opt.Brokers {
		if speaksTLS(ctx, "tcp", b) {
			s.tlsBroker = b
			return true
		}
	}
	return false
}

func (s *Sink) topics() string {
	seen := map[string]bool{}
	var out []string
	for _, m := range s.msgs {
		if !seen[m.Topic] {
			seen[m.Topic] = true
			out = append(out, m.Topic)
		}
	}
	return strings.Join(out, ",")
}

// Close implements delivery.Sink.
func (s *Sink) Close() error {
	err := s.w.Close()
	s.tr.CloseIdleConnections()
	return err
}

var hostName = []byte(`"host":{"name":"`)

// HostKey returns the host.name of an encoded document (its JSON string
// as written, escapes included), or nil. The encoder writes host.name
// first in the host object, so a search for that prefix finds it without
// parsing the document.
func HostKey(doc []byte) []byte {
	i := bytes.Index(doc, hostName)
	if i < 0 {
		return nil
	}
	v := doc[i+len(hostName):]
	for j := 0; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++
		case '"':
			if j == 0 {
				return nil
			}
			return v[:j]
		}
	}
	return nil
}
