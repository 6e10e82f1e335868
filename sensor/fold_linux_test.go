//go:build linux

package sensor

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/testutil"
)

func foldConfig(window time.Duration) Config {
	cfg := DefaultConfig()
	cfg.FoldWindow = window
	return cfg
}

// calls is how many calls the events stand for: each event itself plus
// the calls a summary says were folded into it.
func calls(evs []*event.Event) (n, summaries uint64, bytes int64) {
	for _, ev := range evs {
		if ev.Repeat != nil {
			n += ev.Repeat.Count
			summaries++
			bytes += int64(ev.Repeat.Bytes)
			continue
		}
		n++
		if ev.File != nil && ev.Op == event.OpFileWrite && ev.File.Ret > 0 {
			bytes += ev.File.Ret
		}
	}
	return n, summaries, bytes
}

// A shell appending to a protected file 50 times: one open and one write
// are reported, and a summary of each says 49 more happened, with the bytes.
func TestFoldRepeatedCalls(t *testing.T) {
	dir, _ := protectedDir(t)
	h := startSensorWith(t, foldConfig(time.Second), dir)
	target := filepath.Join(dir, "append.log")
	pid := run(t, "/", "/bin/sh", "-c", fmt.Sprintf("i=0; while [ $i -lt 50 ]; do echo x >> %s; i=$((i+1)); done", target))

	isOpen := fileEv(event.OpFileOpen, pid, target)
	isWrite := fileEv(event.OpFileWrite, pid, target)
	sum := h.WaitFor("summary of the opens", func(ev *event.Event) bool { return isOpen(ev) && ev.Repeat != nil })
	h.WaitFor("summary of the writes", func(ev *event.Event) bool { return isWrite(ev) && ev.Repeat != nil })

	opens := h.All(isOpen)
	n, summaries, _ := calls(opens)
	if n != 50 || len(opens) != 2 || summaries != 1 {
		t.Errorf("opens: %d events (%d summaries) standing for %d calls, want 2 events for 50 calls\n%s", len(opens), summaries, n, h.Dump())
	}
	if !opens[0].Has(event.FlagFoldHead) || opens[0].Repeat != nil {
		t.Errorf("first open is not a plain fold head: flags %#x repeat %+v", opens[0].Flags, opens[0].Repeat)
	}
	r := sum.Repeat
	if r.HeadMissing || r.Count != 49 || r.First.Before(opens[0].Time) || r.Last.Before(r.First) || sum.File.Path != target {
		t.Errorf("summary %+v path %q, head at %v", r, sum.File.Path, opens[0].Time)
	}
	if sum.Has(event.FlagFoldHead) || !sum.Has(event.FlagProtected) || sum.Proc.Comm != opens[0].Proc.Comm {
		t.Errorf("summary flags %#x comm %q", sum.Flags, sum.Proc.Comm)
	}
	writes := h.All(isWrite)
	if n, _, bytes := calls(writes); n != 50 || bytes != 100 || len(writes) != 2 {
		t.Errorf("writes: %d events for %d calls and %d bytes, want 2 events, 50 calls, 100 bytes", len(writes), n, bytes)
	}
	st, err := h.s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Counters["fold_folded"] < 98 || st.Counters["fold_summaries"] < 2 || st.Counters["fold_heads_missing"] != 0 {
		t.Errorf("fold counters %v", st.Counters)
	}
}

// Counts of windows still open when the sensor stops are reported too.
func TestFoldReportedAtStop(t *testing.T) {
	dir, _ := protectedDir(t)
	h := startSensorWith(t, foldConfig(time.Minute), dir)
	target := filepath.Join(dir, "stop.log")
	pid := run(t, "/", "/bin/sh", "-c", fmt.Sprintf("i=0; while [ $i -lt 20 ]; do : > %s; i=$((i+1)); done", target))
	h.WaitFor("first open", fileEv(event.OpFileOpen, pid, target))
	h.Stop()
	opens := h.All(fileEv(event.OpFileOpen, pid, target))
	if n, summaries, _ := calls(opens); n != 20 || summaries != 1 {
		t.Errorf("after stop: %d events for %d calls (%d summaries), want 20 calls in one summary", len(opens), n, summaries)
	}
}

// What the content detector needs is never folded: every write of a
// tainted process outside the protected directories carries its sample.
func TestFoldKeepsSampledWrites(t *testing.T) {
	dir, roster := protectedDir(t)
	out := filepath.Join(t.TempDir(), "copy.txt")
	h := startSensorWith(t, foldConfig(time.Second), dir)
	script := fmt.Sprintf(`
import os
open(%q).read()
fd = os.open(%q, os.O_WRONLY | os.O_CREAT, 0o600)
for i in range(20):
    os.write(fd, b"line %%d\n" %% i)
`, roster, out)
	pid := run(t, "/", "python3", "-c", script)
	h.Settle()
	writes := h.All(fileEv(event.OpFileWrite, pid, out))
	if len(writes) != 20 {
		t.Fatalf("%d write events, want 20 (sampled writes are never folded)\n%s", len(writes), h.Dump())
	}
	for _, w := range writes {
		if w.Repeat != nil || len(w.Sample) == 0 || !w.Has(event.FlagTainted) {
			t.Fatalf("write not reported with its sample: repeat %+v sample %d flags %#x", w.Repeat, len(w.Sample), w.Flags)
		}
	}
}

// Connects to one destination fold; the summary names the destination.
func TestFoldConnects(t *testing.T) {
	ln := testutil.Listen(t, "tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	h := startSensorWith(t, foldConfig(time.Second), t.TempDir())
	script := fmt.Sprintf(`
import socket
for i in range(30):
    s = socket.create_connection(("127.0.0.1", %d))
    s.close()
`, port)
	pid := run(t, "/", "python3", "-c", script)
	isConnect := func(ev *event.Event) bool {
		return ev.Op == event.OpNetConnect && int(ev.Proc.PID) == pid && ev.Net.Dst.Port() == uint16(port)
	}
	sum := h.WaitFor("summary of the connects", func(ev *event.Event) bool { return isConnect(ev) && ev.Repeat != nil })
	if n, summaries, _ := calls(h.All(isConnect)); n != 30 || summaries != 1 {
		t.Errorf("%d connects reported, want 30 in a head and one summary", n)
	}
	if sum.Net.Dst.Addr().String() != "127.0.0.1" || sum.Net.Ret != 0 || sum.Repeat.HeadMissing {
		t.Errorf("summary %+v %+v", sum.Net, sum.Repeat)
	}
}

// Under load with folding, every call is accounted for: reported, counted
// in a summary, or dropped and counted.
func TestFoldLoadNoSilentLoss(t *testing.T) {
	dir, _ := protectedDir(t)
	h := startSensorWith(t, foldConfig(200*time.Millisecond), dir)
	const n = 100000
	target := filepath.Join(dir, "load")
	start := time.Now()
	pid := run(t, "/", "/bin/sh", "-c", fmt.Sprintf("i=0; while [ $i -lt %d ]; do : > %s; i=$((i+1)); done", n, target))
	elapsed := time.Since(start)
	h.Stop() // reports the last window
	got, summaries, _ := calls(h.All(fileEv(event.OpFileOpen, pid, target)))
	st, err := h.s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	dropped := st.Drops["ringbuf_full"] + st.Drops["queue_full"]
	t.Logf("%d opens in %v (%.0f/s): %d calls in %d summaries and heads, dropped %d", n, elapsed, n/elapsed.Seconds(), got, summaries, dropped)
	if got+dropped != n || dropped != 0 {
		t.Errorf("accounted %d + dropped %d != generated %d", got, dropped, n)
	}
	if summaries < uint64(elapsed/(200*time.Millisecond))/2 {
		t.Errorf("only %d summaries over %v with a 200ms window", summaries, elapsed)
	}
	_ = os.Remove(target)
}

// A tainted writer faster than the reader: once the ring is half full,
// samples shrink to 256 bytes (past three quarters, to none) instead of
// records being lost, and every write is still received or counted.
func TestSamplesShedUnderPressure(t *testing.T) {
	dir, roster := protectedDir(t)
	out := filepath.Join(t.TempDir(), "burst.txt")
	cfg := foldConfig(0)
	cfg.RingBufferBytes = 64 << 10
	cfg.WakeupBytes = 48 << 10
	h := startSensorWith(t, cfg, dir)
	const n = 400
	script := fmt.Sprintf(`
import os
open(%q).read()
fd = os.open(%q, os.O_WRONLY | os.O_CREAT, 0o600)
buf = b"plain text without digits\n" * 400
for i in range(%d):
    os.pwrite(fd, buf, 0)
`, roster, out, n)
	pid := run(t, "/", "python3", "-c", script)
	h.Settle()
	writes := h.All(fileEv(event.OpFileWrite, pid, out))
	st, err := h.s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	shed := 0
	for _, w := range writes {
		switch len(w.Sample) {
		case 4096:
		case 256, 0:
			shed++
			if !w.Has(event.FlagTruncated) {
				t.Errorf("a shed sample without the truncated flag")
			}
		default:
			t.Fatalf("sample of %d bytes, want 4096, 256 or none", len(w.Sample))
		}
	}
	dropped := st.Drops["ringbuf_full"]
	t.Logf("%d writes: %d received (%d with shed samples), %d dropped, content_sample_shed %d",
		n, len(writes), shed, dropped, st.Counters["content_sample_shed"])
	if uint64(len(writes))+dropped < n {
		t.Errorf("received %d + dropped %d < %d written", len(writes), dropped, n)
	}
	if shed == 0 || st.Counters["content_sample_shed"] == 0 {
		t.Errorf("no sample was shed with a 64 KiB ring")
	}
}

// Accepts from one peer address on one port fold; the listener is a real
// program (the test process itself is never traced).
func TestFoldAccepts(t *testing.T) {
	h := startSensorWith(t, foldConfig(time.Second), t.TempDir())
	script := `
import socket, threading
ln = socket.socket()
ln.bind(("127.0.0.1", 0))
ln.listen(64)
port = ln.getsockname()[1]
def client():
    for i in range(25):
        socket.create_connection(("127.0.0.1", port)).close()
t = threading.Thread(target=client)
t.start()
for i in range(25):
    c, _ = ln.accept()
    c.close()
t.join()
print(port)
`
	cmd := exec.Command("python3", "-c", script)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	pid := cmd.Process.Pid
	port, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	isAccept := func(ev *event.Event) bool {
		return ev.Op == event.OpNetAccept && int(ev.Proc.PID) == pid && ev.Net.Src.Port() == uint16(port)
	}
	sum := h.WaitFor("summary of the accepts", func(ev *event.Event) bool { return isAccept(ev) && ev.Repeat != nil })
	if n, summaries, _ := calls(h.All(isAccept)); n != 25 || summaries != 1 {
		t.Errorf("%d accepts in %d summaries, want 25 in a head and one summary\n%s", n, summaries, h.Dump())
	}
	if sum.Net.Dst.Addr().String() != "127.0.0.1" || sum.Repeat.HeadMissing {
		t.Errorf("summary %+v %+v", sum.Net, sum.Repeat)
	}
	// The connects of the same process fold too, under their own key.
	isConnect := func(ev *event.Event) bool {
		return ev.Op == event.OpNetConnect && int(ev.Proc.PID) == pid && ev.Net.Dst.Port() == uint16(port)
	}
	h.WaitFor("summary of the connects", func(ev *event.Event) bool { return isConnect(ev) && ev.Repeat != nil })
	if n, _, _ := calls(h.All(isConnect)); n != 25 {
		t.Errorf("%d connects accounted for, want 25", n)
	}
}
