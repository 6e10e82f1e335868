package delivery_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/elasticsearch"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
	"github.com/bansho-sec/bansho/exporters/kafka"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/test/backends"
)

var env *backends.Env

func TestMain(m *testing.M) {
	// The delivering process of TestKillDeliveringProcess: this binary,
	// run again.
	if os.Getenv("BANSHO_DELIVERY_HELPER") != "" {
		os.Exit(helper())
	}
	backends.Main(m, &env, "kafka", "es")
}

func needBackends(t *testing.T) {
	t.Helper()
	if env == nil {
		t.Skip("-short: no back ends started")
	}
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// writeDocs writes the documents' bodies to the store, 1000 at a time.
func writeDocs(tb testing.TB, st *store.Store, docs []testdocs.Doc) {
	tb.Helper()
	bodies := make([][]byte, 0, 1000)
	for i := 0; i < len(docs); i += 1000 {
		bodies = bodies[:0]
		for _, d := range docs[i:min(i+1000, len(docs))] {
			bodies = append(bodies, d.Body)
		}
		if err := st.Write(bodies); err != nil {
			tb.Fatal(err)
		}
	}
}

// fill writes the documents and flushes them, as the sensor's store does.
func fill(t *testing.T, st *store.Store, docs []testdocs.Doc) {
	t.Helper()
	writeDocs(t, st, docs)
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
}

// startLoop runs a delivery loop from st to sink; stop cancels it and
// returns what Run returned.
func startLoop(t *testing.T, st *store.Store, sink delivery.Sink, opt delivery.Options) (loop *delivery.Loop, stop func() error) {
	t.Helper()
	loop, err := delivery.New(delivery.Store{S: st}, sink, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()
	return loop, func() error {
		cancel()
		return <-done
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kcatIDs reads a topic with kcat and returns how often each event.id
// came, and the number of messages.
func kcatIDs(t *testing.T, topic string, ids map[string]int) int {
	t.Helper()
	cmd := exec.Command("timeout", "120", "kcat", "-C", "-b", env.Kafka, "-t", topic, "-o", "beginning", "-e", "-q", "-m", "10", "-f", "%s\n")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 1<<20), 4<<20)
	n := 0
	for sc.Scan() {
		n++
		ids[testdocs.EventID(sc.Bytes())]++
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kcat %s: %v", topic, err)
	}
	return n
}

// readAllTopics reads the events, alerts and health topics of run back
// with kcat into ids, and returns the number of messages.
func readAllTopics(t *testing.T, run string, ids map[string]int) int {
	t.Helper()
	read := 0
	for _, k := range []string{"events", "alerts", "health"} {
		read += kcatIDs(t, run+"-"+k, ids)
	}
	return read
}

// checkAll fails unless every document's event.id was read back.
func checkAll(t *testing.T, docs []testdocs.Doc, ids map[string]int, read int) {
	t.Helper()
	missing := 0
	for _, d := range docs {
		if ids[d.ID] == 0 {
			missing++
		}
	}
	dups := read - len(ids)
	t.Logf("read back %d messages, %d distinct event.id, %d duplicates (at least once), %d missing", read, len(ids), dups, missing)
	if missing > 0 || len(ids) != len(docs) {
		t.Fatalf("%d of %d documents missing (%d distinct read)", missing, len(docs), len(ids))
	}
}

func newKafka(run, codec string) (*kafka.Sink, error) {
	return kafka.New(kafka.Options{Brokers: []string{env.Kafka}, AllowAutoTopicCreation: true, Compression: codec,
		MaxAttempts: 2, WriteTimeout: 5 * time.Second,
		Topics: kafka.Topics{Events: run + "-events", Alerts: run + "-alerts", Health: run + "-health"}})
}

func kafkaSink(t *testing.T, run string) *kafka.Sink {
	s, err := newKafka(run, "lz4")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// 100k documents through the store to Kafka while the broker is stopped
// twice (SIGTERM, then SIGKILL) and restarted: every one arrives, read
// back by kcat, and the failures were counted.
func TestKafka100kAcrossBrokerRestarts(t *testing.T) {
	needBackends(t)
	const n = 100_000
	run := fmt.Sprintf("restart-%d", time.Now().UnixNano()%1e9)
	docs := testdocs.Docs("host-"+run, n)
	st := openStore(t, t.TempDir())
	defer st.Close()
	sink := kafkaSink(t, run)
	defer sink.Close()
	loop, stop := startLoop(t, st, sink, delivery.Options{BackoffMin: 50 * time.Millisecond, BackoffMax: time.Second, Log: testLog(t)})

	// The sensor keeps writing while the broker comes and goes.
	fill(t, st, docs[:n/4])
	waitFor(t, "a first part delivered", time.Minute, func() bool { return loop.Delivered() >= n/8 })
	if err := env.Down("kafka"); err != nil {
		t.Fatal(err)
	}
	fill(t, st, docs[n/4:n/2])
	waitFor(t, "failures counted while the broker is down", 30*time.Second, func() bool { return loop.Failed() > 0 })
	t.Logf("broker down: lag %d, failed %d, last error: %s", loop.Lag(), loop.Failed(), loop.LastError())
	if err := env.Up("kafka"); err != nil {
		t.Fatal(err)
	}
	fill(t, st, docs[n/2:3*n/4])
	waitFor(t, "more delivered after the restart", time.Minute, func() bool { return loop.Delivered() >= n/2 })
	if err := env.Down("kafka", "--kill"); err != nil {
		t.Fatal(err)
	}
	fill(t, st, docs[3*n/4:])
	failed := loop.Failed()
	waitFor(t, "failures counted after SIGKILL", 30*time.Second, func() bool { return loop.Failed() > failed })
	if err := env.Up("kafka"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "lag 0", 3*time.Minute, func() bool { return loop.Lag() == 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("delivered %d, failed %d, retried %d, dead-lettered %d", loop.Delivered(), loop.Failed(), loop.Retried(), loop.DeadLettered())
	if loop.Retried() == 0 || loop.DeadLettered() != 0 {
		t.Errorf("retried %d dead-lettered %d", loop.Retried(), loop.DeadLettered())
	}
	ids := map[string]int{}
	checkAll(t, docs, ids, readAllTopics(t, run, ids))
	// The cursor is committed: a new loop has nothing to send.
	c, err := st.LoadCursors("kafka")
	if err != nil {
		t.Fatal(err)
	}
	if c["events"] != st.Head("events")+1 {
		t.Errorf("committed cursor %d, head %d", c["events"], st.Head("events"))
	}
}

var countRE = regexp.MustCompile(`"n":"(\d+)"`)

func logsQL(t *testing.T, q string) int {
	t.Helper()
	resp, err := http.PostForm(env.ESQuery, url.Values{"query": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := countRE.FindSubmatch(b)
	if m == nil {
		return -1
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// 100k documents through the store to the Elasticsearch bulk API of
// VictoriaLogs, stopped and restarted in the middle: LogsQL counts every
// event.id.
func TestVictoriaLogs100kAcrossRestart(t *testing.T) {
	needBackends(t)
	const n = 100_000
	host := fmt.Sprintf("vl-restart-%d", time.Now().UnixNano()%1e9)
	docs := testdocs.Docs(host, n)
	st := openStore(t, t.TempDir())
	defer st.Close()
	sink, err := elasticsearch.New(elasticsearch.Options{Addresses: []string{env.ES},
		Headers:  []string{"VL-Time-Field: @timestamp", "VL-Stream-Fields: host.name", "VL-Msg-Field: message"},
		Template: elasticsearch.TemplateOptions{Install: true}, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	loop, stop := startLoop(t, st, sink, delivery.Options{BackoffMin: 50 * time.Millisecond, BackoffMax: time.Second, Log: testLog(t)})
	fill(t, st, docs[:n/2])
	waitFor(t, "a first part delivered", time.Minute, func() bool { return loop.Delivered() >= n/4 })
	if err := env.Down("es"); err != nil {
		t.Fatal(err)
	}
	fill(t, st, docs[n/2:])
	waitFor(t, "failures counted while the server is down", 30*time.Second, func() bool { return loop.Failed() > 0 })
	t.Logf("server down: lag %d, last error: %s", loop.Lag(), loop.LastError())
	if err := env.Up("es"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "lag 0", 3*time.Minute, func() bool { return loop.Lag() == 0 })
	stop()
	t.Logf("delivered %d, failed %d, retried %d", loop.Delivered(), loop.Failed(), loop.Retried())
	q := fmt.Sprintf(`host.name:=%q | stats count_uniq(event.id) n`, host)
	waitFor(t, "every event.id searchable", time.Minute, func() bool { return logsQL(t, q) == n })
	if total := logsQL(t, fmt.Sprintf(`host.name:=%q | stats count() n`, host)); total < n {
		t.Fatalf("LogsQL counts %d documents, want at least %d", total, n)
	}
}

// The delivering process is killed (SIGKILL) in the middle of delivery and
// started again: it goes on from its committed cursor and every document
// arrives.
func TestKillDeliveringProcess(t *testing.T) {
	needBackends(t)
	const n = 60_000
	run := fmt.Sprintf("kill-%d", time.Now().UnixNano()%1e9)
	docs := testdocs.Docs("host-"+run, n)
	dir := t.TempDir()
	st := openStore(t, dir)
	fill(t, st, docs)
	st.Close() // one writer at a time: the helper opens it

	start := func() (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "BANSHO_DELIVERY_HELPER=1", "HELPER_STORE="+dir, "HELPER_BROKER="+env.Kafka, "HELPER_RUN="+run)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, bufio.NewScanner(out)
	}
	cmd, sc := start()
	killed := false
	for sc.Scan() {
		d, _ := strconv.Atoi(strings.TrimPrefix(sc.Text(), "delivered "))
		if d >= n/3 {
			cmd.Process.Kill()
			killed = true
			t.Logf("killed the delivering process after %d delivered", d)
			break
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatal("helper ended before it could be killed")
	}
	cmd, sc = start()
	last := ""
	for sc.Scan() {
		last = sc.Text()
	}
	if err := cmd.Wait(); err != nil || last != "done" {
		t.Fatalf("restarted helper: %v, last line %q", err, last)
	}
	ids := map[string]int{}
	checkAll(t, docs, ids, readAllTopics(t, run, ids))
}

// helper delivers a store to Kafka, printing progress, until lag is 0.
func helper() int {
	st, err := store.Open(store.Options{Dir: os.Getenv("HELPER_STORE"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	run := os.Getenv("HELPER_RUN")
	sink, err := kafka.New(kafka.Options{Brokers: []string{os.Getenv("HELPER_BROKER")}, AllowAutoTopicCreation: true,
		Topics: kafka.Topics{Events: run + "-events", Alerts: run + "-alerts", Health: run + "-health"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Small batches, so the kill lands between commits.
	loop, err := delivery.New(delivery.Store{S: st}, sink, delivery.Options{BatchRecords: 500})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()
	for loop.Lag() > 0 {
		fmt.Printf("delivered %d\n", loop.Delivered())
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("done")
	return 0
}

// The "done when": the broker is down for a while under steady
// load and every event still arrives once it is back. BANSHO_TEST_OUTAGE
// sets how long (default 3s; the documented run used 10m) and
// BANSHO_TEST_OUTAGE_RATE the documents per second written meanwhile
// (default 2000).
func TestKafkaOutageUnderLoad(t *testing.T) {
	needBackends(t)
	outage := 3 * time.Second
	if v := os.Getenv("BANSHO_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("BANSHO_TEST_OUTAGE: %v", err)
		}
		outage = d
	}
	rate := 2000
	if v := os.Getenv("BANSHO_TEST_OUTAGE_RATE"); v != "" {
		rate, _ = strconv.Atoi(v)
	}
	const before, after = 2 * time.Second, 2 * time.Second
	total := int((before + outage + after).Seconds() * float64(rate))
	run := fmt.Sprintf("outage-%d", time.Now().UnixNano()%1e9)
	docs := testdocs.Docs("host-"+run, total)
	st := openStore(t, t.TempDir())
	defer st.Close()
	sink := kafkaSink(t, run)
	defer sink.Close()
	loop, stop := startLoop(t, st, sink, delivery.Options{BackoffMax: 5 * time.Second, Log: testLog(t)})

	// The sensor writes a steady 1/10 s slice of the rate, all along.
	written := make(chan error, 1)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		per := max(rate/10, 1)
		for i := 0; i < len(docs); i += per {
			<-tick.C
			var bodies [][]byte
			for _, d := range docs[i:min(i+per, len(docs))] {
				bodies = append(bodies, d.Body)
			}
			if err := st.Write(bodies); err != nil {
				written <- err
				return
			}
		}
		written <- nil
	}()
	time.Sleep(before)
	if err := env.Down("kafka"); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	time.Sleep(outage)
	lagAtRestart := loop.Lag()
	if err := env.Up("kafka"); err != nil {
		t.Fatal(err)
	}
	t.Logf("broker down for %s; lag at restart %d, failed %d", time.Since(down).Round(time.Second), lagAtRestart, loop.Failed())
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	caught := time.Now()
	waitFor(t, "lag 0 after the broker came back", 5*time.Minute+outage, func() bool { return loop.Lag() == 0 })
	t.Logf("lag 0 %s after the last write", time.Since(caught).Round(100*time.Millisecond))
	stop()
	if lagAtRestart == 0 || loop.Failed() == 0 {
		t.Errorf("lag %d at restart, failed %d: the outage was not felt", lagAtRestart, loop.Failed())
	}
	ids := map[string]int{}
	checkAll(t, docs, ids, readAllTopics(t, run, ids))
}

// A topic that does not exist, auto-creation off: the loop counts the
// failures and keeps the records; once the topic is created they all go.
func TestMissingTopicThenCreated(t *testing.T) {
	needBackends(t)
	run := fmt.Sprintf("missing-%d", time.Now().UnixNano()%1e9)
	docs := testdocs.Docs("host-"+run, 2000)
	st := openStore(t, t.TempDir())
	defer st.Close()
	fill(t, st, docs)
	sink, err := kafka.New(kafka.Options{Brokers: []string{env.Kafka}, MaxAttempts: 1,
		Topics: kafka.Topics{Events: run, Alerts: run, Health: run}})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	loop, stop := startLoop(t, st, sink, delivery.Options{BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond})
	waitFor(t, "failures counted", 30*time.Second, func() bool { return loop.Failed() > 0 })
	if loop.Delivered() != 0 || loop.Lag() != uint64(len(docs)) || !strings.Contains(loop.LastError(), "does not exist") {
		t.Fatalf("delivered %d lag %d error %q", loop.Delivered(), loop.Lag(), loop.LastError())
	}
	t.Logf("while missing: failed %d, lag %d, error: %s", loop.Failed(), loop.Lag(), loop.LastError())
	cl := &kafkago.Client{Addr: kafkago.TCP(env.Kafka)}
	if _, err := cl.CreateTopics(context.Background(), &kafkago.CreateTopicsRequest{
		Topics: []kafkago.TopicConfig{{Topic: run, NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	waitFor(t, "lag 0 once the topic exists", 2*time.Minute, func() bool { return loop.Lag() == 0 })
	t.Logf("delivered %s after the topic was created", time.Since(created).Round(100*time.Millisecond))
	stop()
	ids := map[string]int{}
	checkAll(t, docs, ids, kcatIDs(t, run, ids))
}
