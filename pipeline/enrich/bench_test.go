package enrich

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// mixFile is an event stream recorded from the real sensor (see
// TestRecordMix): execs, forks, exits, opens, writes, renames, connects
// and sends of a shell workload.
const mixFile = "testdata/event-mix.json.gz"

func loadMix(tb testing.TB) []*event.Event {
	tb.Helper()
	f, err := os.Open(mixFile)
	if err != nil {
		tb.Fatalf("%v (record it with BANSHO_RECORD_MIX=1 go test -run TestRecordMix)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var evs []*event.Event
	if err := json.NewDecoder(zr).Decode(&evs); err != nil {
		tb.Fatal(err)
	}
	return evs
}

// replay prepares a recorded stream for repeated replay: processes that
// start in the recording get new start times each round (they are new
// processes, as on a real host), processes that were already running are
// put in the table first (as seeding would).
type replay struct {
	evs   []*event.Event
	born  map[uint32]bool
	round uint64
	buf   []event.Event
}

func newReplay(s *Stage, evs []*event.Event) *replay {
	r := &replay{evs: evs, born: map[uint32]bool{}, buf: make([]event.Event, len(evs))}
	seen := map[uint32]bool{}
	for _, ev := range evs {
		pid := ev.Proc.PID
		if ev.Op == event.OpFork && !seen[pid] {
			r.born[pid] = true
		}
		if !seen[pid] && !r.born[pid] {
			// Already running when the recording started: seed it.
			k := ev.Proc
			s.table.Apply(&event.Event{Op: event.OpExec, Proc: k, Exec: &event.Exec{Executable: "/usr/bin/" + k.Comm,
				Args: []string{k.Comm}}})
		}
		seen[pid] = true
	}
	return r
}

// next returns the stream for the next round (copies: the stage writes
// Enriched).
func (r *replay) next() []event.Event {
	r.round++
	shift := r.round * 1_000_000_000_000
	for i, ev := range r.evs {
		e := *ev
		if r.born[e.Proc.PID] {
			e.Proc.StartBoot += shift
		}
		if r.born[e.Proc.PPID] {
			e.Proc.ParentStartBoot += shift
		}
		e.Enriched = nil
		r.buf[i] = e
	}
	return r.buf
}

// liveProcesses puts n live processes (a shell's children) in the table.
func liveProcesses(s *Stage, n int) {
	sh := event.Process{PID: 3_000_000, TID: 3_000_000, PPID: 1, StartBoot: 10, SID: 3_000_000, PGID: 3_000_000,
		Comm: "bash", AUID: 1000, TTY: 136 << 20}
	s.table.Apply(&event.Event{Op: event.OpExec, Proc: sh, Exec: &event.Exec{Executable: "/usr/bin/bash", Args: []string{"-bash"}}})
	for i := 0; i < n; i++ {
		k := sh
		k.PID, k.TID, k.PPID, k.ParentStartBoot, k.StartBoot, k.Comm = uint32(3_000_001+i), uint32(3_000_001+i), sh.PID, sh.StartBoot, uint64(100+i), "sleep"
		s.table.Apply(&event.Event{Op: event.OpFork, Proc: k})
		s.table.Apply(&event.Event{Op: event.OpExec, Proc: k, Exec: &event.Exec{Executable: "/usr/bin/sleep",
			Args: []string{"sleep", "600"}, Cwd: "/home/tanaka"}})
	}
}

func benchStage(b *testing.B) *Stage {
	host, _ := ecs.LocalHost()
	var st syscall.Stat_t
	syscall.Stat("/proc/self/ns/mnt", &st)
	opt := Options{Host: host, Proc: b.TempDir(), Users: &Users{HostMntNS: uint32(st.Ino)}}
	if m, err := NewMounts("/proc/self/mountinfo", "/sys"); err == nil {
		opt.Mounts = m
	}
	if n, err := NewNet(netns.None(), nil); err == nil {
		opt.Net = n
		b.Cleanup(n.Close)
	}
	return New(opt)
}

// BenchmarkEnrich replays the recorded mix through the stage with 10k
// live processes in the table: events/s on one core, and allocations per
// event.
func BenchmarkEnrich(b *testing.B) {
	evs := loadMix(b)
	s := benchStage(b)
	liveProcesses(s, 10_000)
	r := newReplay(s, evs)
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		round := r.next()
		for i := range round {
			if !s.Enrich(&round[i]) {
				b.Fatalf("event held: %+v", round[i].Proc)
			}
		}
		n += len(round)
	}
	reportRates(b, n, cpu0)
	st := s.Stats()
	if st.Unknown > 0 {
		b.Errorf("%d events without their process: the replay is not representative", st.Unknown)
	}
	b.ReportMetric(float64(s.table.Len()), "procs")
}

// BenchmarkEnrichFileNet is the steady state of a busy server: only the
// recorded file and network events, of processes the table knows.
func BenchmarkEnrichFileNet(b *testing.B) {
	all := loadMix(b)
	s := benchStage(b)
	liveProcesses(s, 10_000)
	// The recorded file and network events, as if done by the live
	// processes (the recording's own processes have ended).
	var evs []event.Event
	for _, ev := range all {
		if ev.File != nil || ev.Net != nil {
			e := *ev
			i := uint32(len(evs) % 10_000)
			e.Proc.PID, e.Proc.TID, e.Proc.StartBoot = 3_000_001+i, 3_000_001+i, 100+uint64(i)
			e.Proc.PPID, e.Proc.ParentStartBoot, e.Proc.SID, e.Proc.PGID = 3_000_000, 10, 3_000_000, 3_000_001+i
			evs = append(evs, e)
		}
	}
	unknown := s.Stats().Unknown
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		for i := range evs {
			s.Enrich(&evs[i]) // Enriched is replaced each time
		}
		n += len(evs)
	}
	reportRates(b, n, cpu0)
	if st := s.Stats(); st.Unknown > unknown {
		b.Errorf("%d events without their process", st.Unknown-unknown)
	}
}

// cpuTime is the process's user and system CPU time: events per CPU
// second is the rate per core even when other work shares the CPUs
// (wall-clock rates on a shared machine measure the neighbours too).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B, n int, cpu0 time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/event")
	}
}

// TestRecordMix records the benchmark's event stream from the real
// sensor running a shell workload (as root, BANSHO_RECORD_MIX=1).
func TestRecordMix(t *testing.T) {
	if os.Getenv("BANSHO_RECORD_MIX") != "1" {
		t.Skip("set BANSHO_RECORD_MIX=1 to re-record " + mixFile)
	}
	l := startLive(t)
	script := fmt.Sprintf(`
cd %[1]s
for i in $(seq 1 40); do
  cat roster.csv > /dev/null
  cp roster.csv /tmp/bansho-mix-$i.csv
  mv /tmp/bansho-mix-$i.csv /tmp/bansho-mix-$i.old
  rm -f /tmp/bansho-mix-$i.old
  ls -l > /dev/null
  (echo x > /dev/tcp/127.0.0.1/9) 2>/dev/null
  date > /dev/null | true
  sh -c 'id -un >/dev/null'
done`, l.dir)
	if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	time.Sleep(500 * time.Millisecond)
	var evs []*event.Event
	for _, ev := range l.All(func(ev *event.Event) bool { return ev.Op < event.OpHealth }) {
		e := *ev
		e.Enriched, e.Sample, e.Content = nil, nil, nil
		evs = append(evs, &e)
	}
	f, err := os.Create(mixFile)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if err := json.NewEncoder(zw).Encode(evs); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	f.Close()
	counts := map[event.Op]int{}
	for _, ev := range evs {
		counts[ev.Op]++
	}
	t.Logf("recorded %d events: %v", len(evs), counts)
}
