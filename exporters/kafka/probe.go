package kafka

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// A TLS client and a plain broker, or a plain client and a TLS broker, do
// not fail clearly on their own: a TLS ClientHello sent to a plain Kafka
// listener is read as a request of some hundred megabytes, so the client
// waits for an answer until its timeout ("i/o timeout"), and a Kafka request
// sent to a TLS listener gets the connection closed ("unexpected EOF").
// The exporter therefore does the TLS handshake itself when it dials, and
// when a handshake stalls or fails, or a plain connection is closed on it,
// it asks the broker the other way round to name the likely cause.

// tlsMismatchError says that the client and a broker disagree on TLS.
type tlsMismatchError struct {
	addr      string
	brokerTLS bool  // the broker speaks TLS and the client does not
	err       error // what the client saw
}

func (e *tlsMismatchError) Error() string {
	if e.brokerTLS {
		return fmt.Sprintf("%s speaks TLS but the client does not: set outputs.kafka.tls.enabled (%v)", e.addr, e.err)
	}
	return fmt.Sprintf("TLS handshake with %s failed: the broker does not speak TLS? it answers plain Kafka requests (outputs.kafka.tls): %v", e.addr, e.err)
}

func (e *tlsMismatchError) Unwrap() error { return e.err }

// tlsHandshakeError is a handshake that failed for another reason.
type tlsHandshakeError struct {
	addr string
	err  error
}

func (e *tlsHandshakeError) Error() string {
	return fmt.Sprintf("TLS handshake with %s failed (outputs.kafka.tls): %v", e.addr, e.err)
}

func (e *tlsHandshakeError) Unwrap() error { return e.err }

// probeAfter is how long a TLS handshake may stay unanswered before the
// dialer checks whether the broker speaks plain Kafka instead; a real TLS
// handshake on a network that carries Kafka takes a few milliseconds.
const probeAfter = 500 * time.Millisecond

// probeTimeout bounds one diagnostic connection.
const probeTimeout = 2 * time.Second

// dialer connects to brokers for kafka-go's Transport and, with TLS,
// completes the handshake before handing the connection over.
type dialer struct {
	net net.Dialer
	tls *tls.Config // nil: plain
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := d.net.DialContext(ctx, network, addr)
	if err != nil || d.tls == nil {
		return conn, err
	}
	cfg := d.tls
	if cfg.ServerName == "" {
		host, _, _ := net.SplitHostPort(addr)
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(conn, cfg)
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tc.HandshakeContext(hctx) }()
	timer := time.NewTimer(probeAfter)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		// Silence: a plain broker waits for the rest of what it took
		// for a huge request.
		if speaksKafka(ctx, network, addr) {
			cancel()
			<-done
			conn.Close()
			return nil, &tlsMismatchError{addr: addr, err: errors.New("no answer to the TLS handshake")}
		}
		err = <-done
	}
	if err == nil {
		return tc, nil
	}
	conn.Close()
	var cerr *tls.CertificateVerificationError
	if errors.As(err, &cerr) {
		return nil, err // explain names tls.ca_file
	}
	if speaksKafka(ctx, network, addr) {
		return nil, &tlsMismatchError{addr: addr, err: err}
	}
	return nil, &tlsHandshakeError{addr: addr, err: err}
}

// speaksKafka reports whether addr answers a plain ApiVersions request.
func speaksKafka(ctx context.Context, network, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return false
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	const clientID = "bansho-probe"
	const corr = 0x62616e73
	req := make([]byte, 0, 64)
	req = binary.BigEndian.AppendUint32(req, uint32(2+2+4+2+len(clientID)))
	req = binary.BigEndian.AppendUint16(req, 18) // ApiVersions
	req = binary.BigEndian.AppendUint16(req, 0)  // version 0
	req = binary.BigEndian.AppendUint32(req, corr)
	req = binary.BigEndian.AppendUint16(req, uint16(len(clientID)))
	req = append(req, clientID...)
	if _, err := c.Write(req); err != nil {
		return false
	}
	var resp [8]byte
	if _, err := io.ReadFull(c, resp[:]); err != nil {
		return false
	}
	size := binary.BigEndian.Uint32(resp[:4])
	return size >= 4 && size < 1<<20 && binary.BigEndian.Uint32(resp[4:]) == corr
}

// speaksTLS reports whether addr completes a TLS handshake (the
// certificate is not checked: this only asks which protocol it speaks). A
// TLS listener answers a ClientHello at once; a plain Kafka broker waits
// for the rest of what it takes for a huge request, so silence for
// probeAfter means no.
func speaksTLS(ctx context.Context, network, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeAfter)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a protocol probe; nothing is sent over it
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
