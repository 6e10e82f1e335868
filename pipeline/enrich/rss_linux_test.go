//go:build linux

package enrich

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/exporters/stdout"
	"github.com/bansho-sec/bansho/pipeline"
)

// TestRSSWith10kProcesses measures the memory of the whole sensor (this
// test process: kernel programs loaded, reader, enrichment stage, encoder
// writing every document) while 10,000 processes live, started after the
// sensor so that every one went through fork and exec events. Opt-in
// (BANSHO_MEASURE_RSS=1): it starts 10k processes.
func TestRSSWith10kProcesses(t *testing.T) {
	if os.Getenv("BANSHO_MEASURE_RSS") != "1" {
		t.Skip("set BANSHO_MEASURE_RSS=1 to measure (starts 10,000 processes)")
	}
	const n = 10_000
	l := startLive(t)
	// Encode every document, as the sensor does, to a discarding output.
	p := &pipeline.Pipeline{Encoder: l.enc, Exporters: []exporters.Exporter{stdout.New(io.Discard)}}
	enc := make(chan struct{})
	go func() {
		defer close(enc)
		for {
			for _, ev := range l.Take() {
				p.Emit(ev)
			}
			select {
			case <-l.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	before := rss(t)
	cmd := exec.Command("bash", "-c", `for i in $(seq 1 `+strconv.Itoa(n)+`); do sleep 600 & done; wait`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	deadline := time.Now().Add(3 * time.Minute)
	for l.stage.Stats().LiveProcs < n && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	st := l.stage.Stats()
	runtime.GC()
	after := rss(t)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("live processes in the table %d (events %d, unknown %d); RSS before %d MiB, with %d processes %d MiB (peak %d MiB); Go heap in use %d MiB",
		st.LiveProcs, st.Events, st.Unknown, before>>20, n, after>>20, hwm(t)>>20, ms.HeapInuse>>20)
	if st.LiveProcs < n {
		t.Fatalf("only %d live processes in the table", st.LiveProcs)
	}
	if after > 100<<20 {
		t.Errorf("RSS %d MiB with %d live processes, want under 100 MiB", after>>20, n)
	}
}

func rss(t *testing.T) uint64 { return status(t, "VmRSS:") }
func hwm(t *testing.T) uint64 { return status(t, "VmHWM:") }

func status(t *testing.T, key string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if s, ok := bytes.CutPrefix(line, []byte(key)); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(string(s)), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
