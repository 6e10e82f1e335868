package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseFlagsDefaults(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags(nil): %v", err)
	}
	want := config{
		port: 19092, brokers: 1, partitions: 1, autoCreate: true,
		clusterID: "bansho-kfake", logLevel: kfake.LogLevelWarn,
	}
	if fmt.Sprint(cfg) != fmt.Sprint(want) {
		t.Errorf("defaults = %+v, want %+v", cfg, want)
	}
}

func TestParseFlagsTopics(t *testing.T) {
	cfg, err := parseFlags([]string{
		"-topic", "events,alerts:3", "-topic", "audit.log_v2-x:12",
		"-data-dir", "/tmp/x", "-sync", "-auto-create-topics=false", "-log-level", "DEBUG",
	}, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	want := []seedTopic{{"events", 0}, {"alerts", 3}, {"audit.log_v2-x", 12}}
	if fmt.Sprint(cfg.topics) != fmt.Sprint(want) {
		t.Errorf("topics = %v, want %v", cfg.topics, want)
	}
	if cfg.autoCreate || !cfg.syncWrites || cfg.dataDir != "/tmp/x" || cfg.logLevel != kfake.LogLevelDebug {
		t.Errorf("flags not applied: %+v", cfg)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // substring of the error
	}{
		{[]string{"-brokers", "0"}, "-brokers 0"},
		{[]string{"-port", "70000"}, "out of range"},
		{[]string{"-port", "-1"}, "out of range"},
		{[]string{"-port", "65535", "-brokers", "2"}, "last broker port 65536"},
		{[]string{"-partitions", "0"}, "-partitions 0"},
		{[]string{"-sync"}, "-sync needs -data-dir"},
		{[]string{"-log-level", "loud"}, `-log-level "loud"`},
		{[]string{"-topic", ""}, "empty topic name"},
		{[]string{"-topic", "a,,b"}, "empty topic name"},
		{[]string{"-topic", ".."}, `cannot be "." or ".."`},
		{[]string{"-topic", "bad/name"}, `'/'`},
		{[]string{"-topic", "t:0"}, "not a positive integer"},
		{[]string{"-topic", "t:x"}, "not a positive integer"},
		{[]string{"-topic", strings.Repeat("t", 250)}, "limit is 249"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-sasl", "PLAIN:user"}, "want MECHANISM:USER:PASSWORD"},
		{[]string{"-sasl", "GSSAPI:u:p"}, "mechanism GSSAPI is not"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if err == nil {
				t.Fatalf("parseFlags(%q) succeeded, want error containing %q", tt.args, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseFlags(%q) error = %q, want it to contain %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestListenLoopbackIgnoresHost(t *testing.T) {
	ln, err := listenLoopback("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatalf("listenLoopback: %v", err)
	}
	defer ln.Close()
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		t.Errorf("listening on %v, want a loopback address", ip)
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t, "")
	cfg.port = busy.Addr().(*net.TCPAddr).Port

	var stdout, stderr bytes.Buffer
	if code := run(cfg, make(chan os.Signal), &stdout, &stderr); code != exitStart {
		t.Errorf("run on a busy port returned %d, want %d", code, exitStart)
	}
	if stdout.Len() != 0 {
		t.Errorf("printed %q on stdout, want no ready line", stdout.String())
	}
	if !strings.Contains(stderr.String(), "start cluster") {
		t.Errorf("stderr = %q, want it to say the cluster did not start", stderr.String())
	}
}

// TestServeAndRestart runs the broker as up.sh does, talks to it with a real
// Kafka client, stops it with SIGTERM and checks that a restart on the same
// data directory still has the seeded topic and the produced records: fault
// tests depend on that.
func TestServeAndRestart(t *testing.T) {
	dataDir := t.TempDir()
	const topic, records = "bansho-events", 200

	b := startBroker(t, dataDir)
	if got := b.metadataPartitions(t, "seeded"); got != 3 {
		t.Errorf("seeded topic has %d partitions, want 3", got)
	}
	cl := b.client(t, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	for i := range records {
		r := &kgo.Record{Value: fmt.Appendf(nil, "event-%d", i)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatalf("produce record %d: %v", i, err)
		}
	}
	cl.Close()
	b.stop(t)

	b = startBroker(t, dataDir)
	if got := b.metadataPartitions(t, "seeded"); got != 3 {
		t.Errorf("after restart, seeded topic has %d partitions, want 3", got)
	}
	cl = b.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	seen := make(map[string]bool)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(seen) < records {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("after restart, consumed %d of %d records before timeout", len(seen), records)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s[%d]: %v", topic, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	for i := range records {
		if v := fmt.Sprintf("event-%d", i); !seen[v] {
			t.Errorf("after restart, record %q is missing", v)
		}
	}
	b.stop(t)
}

func testConfig(t *testing.T, dataDir string) config {
	t.Helper()
	cfg, err := parseFlags([]string{"-port", "0", "-topic", "seeded:3", "-log-level", "error"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.dataDir = dataDir
	return cfg
}

type broker struct {
	addr   string
	sigs   chan os.Signal
	exit   chan int
	stderr *syncBuffer
}

func startBroker(t *testing.T, dataDir string) *broker {
	t.Helper()
	b := &broker{
		sigs:   make(chan os.Signal, 2),
		exit:   make(chan int, 1),
		stderr: new(syncBuffer),
	}
	pr, pw := io.Pipe()
	go func() {
		b.exit <- run(testConfig(t, dataDir), b.sigs, pw, b.stderr)
		pw.Close()
	}()

	lines := make(chan string, 1)
	go func() {
		line, _ := readLine(pr)
		lines <- line
		io.Copy(io.Discard, pr) // nothing else may be printed, but never block run
	}()
	var line string
	select {
	case line = <-lines:
	case code := <-b.exit:
		t.Fatalf("broker exited with %d before it was ready; stderr: %s", code, b.stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("no ready line within 10s; stderr: %s", b.stderr)
	}

	fields := strings.Fields(line)
	if len(fields) < 3 || fields[0] != "kfake" || fields[1] != "ready" || !strings.HasPrefix(fields[2], "brokers=") {
		t.Fatalf("ready line %q does not start with \"kfake ready brokers=\"", line)
	}
	b.addr = strings.TrimPrefix(fields[2], "brokers=")
	host, _, err := net.SplitHostPort(b.addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("ready line %q: broker address %q is not on 127.0.0.1", line, b.addr)
	}
	if !strings.Contains(line, "topics=seeded:3") || !strings.Contains(line, "data_dir="+dataDir) {
		t.Errorf("ready line %q lacks the seed topics or the data dir", line)
	}
	return b
}

func (b *broker) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.addr)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo client for %s: %v", b.addr, err)
	}
	return cl
}

func (b *broker) metadataPartitions(t *testing.T, topic string) int {
	t.Helper()
	cl := b.client(t)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("metadata request to %s: %v", b.addr, err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata for %q: %+v", topic, resp.Topics)
	}
	return len(resp.Topics[0].Partitions)
}

func (b *broker) stop(t *testing.T) {
	t.Helper()
	b.sigs <- syscall.SIGTERM
	select {
	case code := <-b.exit:
		if code != 0 {
			t.Fatalf("broker exited with %d after SIGTERM, want 0; stderr: %s", code, b.stderr)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("broker did not stop after SIGTERM")
	}
	if !strings.Contains(b.stderr.String(), "SIGTERM received, shutting down") ||
		!strings.Contains(b.stderr.String(), "kfake: stopped") {
		t.Errorf("stderr %q lacks the shutdown messages", b.stderr)
	}
}

func readLine(r io.Reader) (string, error) {
	var line []byte
	buf := make([]byte, 1)
	for {
		if _, err := r.Read(buf); err != nil {
			return string(line), err
		}
		if buf[0] == '\n' {
			return string(line), nil
		}
		line = append(line, buf[0])
	}
}

// syncBuffer is a bytes.Buffer safe for the broker goroutines and the test
// to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
