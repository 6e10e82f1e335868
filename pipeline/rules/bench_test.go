package rules

import (
	"fmt"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

var benchHost = ecs.Host{Name: "hr-db-01", ID: "3d1219c7e0a04c5f9a6a1b2c3d4e5f60", BootID: "e57fd618", PidNSIno: 4026531836}

// recordedMix is a server's typical event mix, as the kernel side sends
// it: process lifecycle, network, opens and writes of protected data by
// the application; one event in a hundred is a person reading a
// protected file, which alerts.
func recordedMix(n int) []*event.Event {
	t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	var evs []*event.Event
	proc := func(pid uint32, comm string, auid uint32) event.Process {
		return event.Process{PID: pid, TID: pid, PPID: 1, UID: 1000, EUID: 1000, AUID: auid, Comm: comm,
			StartBoot: uint64(pid) * 1000, ParentStartBoot: 1000}
	}
	for i := 0; len(evs) < n; i++ {
		pid := uint32(2000 + (i/10)%50)
		t := t0.Add(time.Duration(i) * time.Millisecond)
		app := proc(pid, "app", event.NoUID)
		user := proc(pid+1000, "cat", 1000)
		switch i % 10 {
		case 0:
			evs = append(evs, &event.Event{Op: event.OpExec, Time: t, Proc: app,
				Exec: &event.Exec{Filename: "/opt/mynumber/bin/app", Executable: "/opt/mynumber/bin/app", Args: []string{"app", "--serve"}}})
		case 1:
			evs = append(evs, &event.Event{Op: event.OpFork, Time: t, Proc: app, Fork: &event.Fork{ParentPID: 1}})
		case 2, 3:
			evs = append(evs, &event.Event{Op: event.OpFileOpen, Flags: event.FlagProtected, Time: t, Proc: app,
				File: &event.File{Syscall: 257, Ret: 3, Flags: 0, Path: fmt.Sprintf("/srv/mynumber/p%d.csv", i%50), Ino: uint64(i), IMode: 0o100640}})
		case 4:
			evs = append(evs, &event.Event{Op: event.OpFileWrite, Flags: event.FlagProtected | event.FlagTainted, Time: t, Proc: app,
				File: &event.File{Syscall: 1, Ret: 512, Path: "/srv/mynumber/out.csv", Ino: 9, IMode: 0o100640}})
		case 5, 6:
			evs = append(evs, &event.Event{Op: event.OpNetConnect, Time: t, Proc: app,
				Net: &event.Net{Syscall: 42, Ret: 0, Family: 2, Protocol: 6, Src: netip.MustParseAddrPort("10.0.0.5:40000"), Dst: netip.MustParseAddrPort("10.0.0.9:5432")}})
		case 7:
			evs = append(evs, &event.Event{Op: event.OpNetSend, Flags: event.FlagTainted, Time: t, Proc: app,
				Net:     &event.Net{Syscall: 44, Ret: 100, Family: 2, Protocol: 6, Src: netip.MustParseAddrPort("127.0.0.1:40000"), Dst: netip.MustParseAddrPort("127.0.0.1:5432"), Bytes: 100},
				Content: &event.Content{}})
		case 8:
			evs = append(evs, &event.Event{Op: event.OpExit, Time: t, Proc: app, Exit: &event.Exit{}})
		case 9:
			if i%100 != 99 {
				evs = append(evs, &event.Event{Op: event.OpNetAccept, Time: t, Proc: app,
					Net: &event.Net{Syscall: 288, Ret: 5, Family: 2, Protocol: 6, Src: netip.MustParseAddrPort("10.0.0.5:443"), Dst: netip.MustParseAddrPort("10.0.0.7:50000")}})
				continue
			}
			// One in a hundred: a person reads a protected file (an alert).
			evs = append(evs, &event.Event{Op: event.OpFileOpen, Flags: event.FlagProtected, Time: t, Proc: user,
				File: &event.File{Syscall: 257, Ret: 3, Path: fmt.Sprintf("/srv/mynumber/roster-%d.csv", i), Ino: 7, IMode: 0o100640}})
		}
	}
	return evs
}

func benchEngine(b testing.TB) (*Engine, []*event.Event, [][]byte) {
	// No dedupe: the mix repeats, and its alerts should cost what alerts cost.
	set, err := Load(packDir, Options{Calendar: DefaultCalendar(), Dedupe: -1, Lists: map[string][]string{
		"protected_data_readers": {"/opt/mynumber/bin/app"}}})
	if err != nil {
		b.Fatal(err)
	}
	evs := recordedMix(10000)
	enc := &ecs.Encoder{Host: benchHost}
	docs := make([][]byte, len(evs))
	for i, ev := range evs {
		docs[i] = enc.Append(nil, ev)
	}
	return NewEngine(set, EngineOptions{Host: benchHost}), evs, docs
}

// BenchmarkEvalDefaultPack is the rule engine's cost per event over the
// recorded mix with the default pack (target: 1M events/s on one core).
func BenchmarkEvalDefaultPack(b *testing.B) {
	e, evs, docs := benchEngine(b)
	evalLoop(b, e, evs, docs)
}

// evalLoop evaluates the events round robin b.N times and reports CPU time
// (this process, GC included) rather than wall time: on a shared machine
// the wall clock also counts waiting for a core.
func evalLoop(b *testing.B, e *Engine, evs []*event.Event, docs [][]byte) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	alerts := 0
	for i := 0; i < b.N; i++ {
		j := i % len(evs)
		alerts += len(e.Eval(evs[j], docs[j]))
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(alerts)/float64(b.N), "alerts/event")
}

// BenchmarkStateFlood feeds a threshold and a sequence rule events with
// a new key each time and reports the heap they hold: it stays at the
// cap however many keys arrive.
func BenchmarkStateFlood(b *testing.B) {
	for _, maxKeys := range []int{4096, 65536} {
		b.Run(fmt.Sprintf("max_keys=%d", maxKeys), func(b *testing.B) {
			set, err := Load(packDir, Options{Calendar: DefaultCalendar(), MaxKeys: maxKeys})
			if err != nil {
				b.Fatal(err)
			}
			e := NewEngine(set, EngineOptions{Host: benchHost, MaxProcesses: 1024})
			t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
			ev := &event.Event{Op: event.OpFileOpen, Flags: event.FlagProtected,
				File: &event.File{Syscall: 257, Ret: 3, Path: "/srv/mynumber/roster.csv", Ino: 7, IMode: 0o100640}}
			doc := []byte(`{"event":{"id":"AAAAAAAAAAAAAAAAAAAAAA"},"bansho":{}}`)
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A new login user and a new process every event.
				ev.Time = t0.Add(time.Duration(i) * time.Microsecond)
				ev.Proc = event.Process{PID: uint32(i), AUID: uint32(i), EUID: uint32(i), Comm: "cat", StartBoot: uint64(i) + 1}
				e.Eval(ev, doc)
			}
			b.StopTimer()
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			keys, evicted := e.stateNow()
			b.ReportMetric(float64(keys), "keys")
			b.ReportMetric(float64(evicted), "evicted")
			b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20), "heap-MiB")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
