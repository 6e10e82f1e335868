package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMain lets a test start this package's main as a child process
// (BANSHO_KFAKE_CHILD=1 and the flags after "--"), so it can kill a real
// broker process with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("BANSHO_KFAKE_CHILD") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"kfake"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		return
	}
	os.Exit(m.Run())
}

// startChild runs the broker as its own process on dataDir and returns its
// address.
func startChild(t *testing.T, dataDir string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "-port", "0", "-data-dir", dataDir, "-log-level", "error")
	cmd.Env = append(os.Environ(), "BANSHO_KFAKE_CHILD=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "kfake ready brokers=") {
		t.Fatalf("child broker did not start: %q %v", line, err)
	}
	addr, _, _ := strings.Cut(strings.TrimPrefix(line, "kfake ready brokers="), " ")
	return addr, cmd
}

// TestSIGKILLKeepsAcknowledged kills the broker process with SIGKILL right
// after it acknowledged records to an auto-created topic: a restart on the
// same data directory must serve every acknowledged record, readable from
// the start (the fault tests count losses against what the broker gives
// back, so a broker that loses records would hide or fake a loss).
func TestSIGKILLKeepsAcknowledged(t *testing.T) {
	dataDir := t.TempDir()
	const topic, records = "auto-created", 20000
	addr, cmd := startChild(t, dataDir)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < records; start += 1000 {
		rs := make([]*kgo.Record, 1000)
		for i := range rs {
			rs[i] = &kgo.Record{Value: fmt.Appendf(nil, "record-%06d", start+i)}
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	cl.Close()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	addr, _ = startChild(t, dataDir)
	cl, err = kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for len(seen) < records && ctx.Err() == nil {
		f := cl.PollFetches(ctx)
		f.EachError(func(tp string, p int32, err error) {
			if ctx.Err() == nil {
				t.Fatalf("after SIGKILL and restart, fetch %s[%d]: %v", tp, p, err)
			}
		})
		f.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	if len(seen) != records {
		t.Fatalf("after SIGKILL and restart: %d of %d acknowledged records readable", len(seen), records)
	}
}
