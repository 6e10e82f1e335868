package enrich

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bansho-sec/bansho/internal/event"
)

// An event whose process the table does not know (its fork was lost, it
// is gone from /proc) is held; when the process's fork arrives the event
// follows it, enriched. One whose process never appears goes out after
// HoldFor with what the kernel record has, counted. Nothing is dropped.
func TestHoldAndRetry(t *testing.T) {
	s := New(Options{Proc: t.TempDir(), HoldFor: 40 * time.Millisecond, HoldMax: 2})
	in := make(chan *event.Event, 16)
	out := make(chan *event.Event, 16)
	go s.Run(in, out)

	parent := event.Process{PID: 1, TID: 1, StartBoot: 5, SID: 1, PGID: 1, Comm: "systemd", AUID: event.NoUID}
	in <- &event.Event{Op: event.OpExec, Proc: parent, Exec: &event.Exec{Executable: "/sbin/init"}}
	child := event.Process{PID: 500, TID: 500, PPID: 1, StartBoot: 900, ParentStartBoot: 5, SID: 500, PGID: 500,
		Comm: "cat", AUID: event.NoUID}
	early := &event.Event{Op: event.OpFileOpen, Proc: child, File: &event.File{Path: "/srv/x"}}
	in <- early
	lost := &event.Event{Op: event.OpFileOpen, Proc: event.Process{PID: 600, StartBoot: 1000, Comm: "ghost"},
		File: &event.File{Path: "/srv/y"}}
	in <- lost
	full := &event.Event{Op: event.OpFileOpen, Proc: event.Process{PID: 700, StartBoot: 1100, Comm: "third"},
		File: &event.File{Path: "/srv/z"}}
	in <- full // the hold (2) is full: out at once, unknown
	in <- &event.Event{Op: event.OpFork, Proc: child, Fork: &event.Fork{ParentPID: 1}}

	var got []*event.Event
	deadline := time.After(2 * time.Second)
	for len(got) < 5 {
		select {
		case ev := <-out:
			got = append(got, ev)
		case <-deadline:
			t.Fatalf("only %d events out", len(got))
		}
	}
	close(in)
	if _, ok := <-out; ok {
		t.Error("out not closed")
	}
	order := []*event.Event{got[0], got[1], got[2], got[3], got[4]}
	if order[1] != full || order[3] != early || order[4] != lost {
		t.Errorf("order: %v %v %v %v %v", order[0].Op, order[1].Proc.PID, order[2].Op, order[3].Proc.PID, order[4].Proc.PID)
	}
	if en := early.Enriched; en == nil || en.Unknown || en.Parent == nil || en.Parent.PID != 1 || en.Process.Name != "cat" {
		t.Errorf("released event: %+v", early.Enriched)
	}
	if en := lost.Enriched; en == nil || !en.Unknown || en.Process.PID != 600 || en.Process.EntityID == "" {
		t.Errorf("expired event: %+v", lost.Enriched)
	}
	if en := full.Enriched; en == nil || !en.Unknown {
		t.Errorf("not held event: %+v", full.Enriched)
	}
	st := s.Stats()
	if st.Held != 2 || st.Released != 1 || st.HoldFull != 1 || st.Unknown != 2 || st.Events != 5 {
		t.Errorf("stats %+v", st)
	}
}

func TestCollector(t *testing.T) {
	s := New(Options{Proc: t.TempDir()})
	s.Enrich(&event.Event{Op: event.OpExit, Proc: event.Process{PID: 9, StartBoot: 1}, Exit: &event.Exit{}})
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(&Collector{Stage: s, Users: &Users{}}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				got[mf.GetName()] = c.GetValue()
			}
		}
	}
	if got["bansho_enrich_events_total"] != 1 || got["bansho_enrich_unknown_process_total"] != 1 {
		t.Errorf("%v", got)
	}
	c := map[string]uint64{}
	s.Counters(c)
	if c["enrich_unknown_process"] != 1 {
		t.Errorf("%v", c)
	}
}

// A session whose leader ended and whose pid was reused: the new process
// with that pid is not named as the session leader; the old one, an
// ancestor, still is.
func TestReusedLeaderPidIsNotTheLeader(t *testing.T) {
	s := New(Options{Proc: t.TempDir()})
	init := event.Process{PID: 1, TID: 1, StartBoot: 1, SID: 1, PGID: 1, Comm: "init", AUID: event.NoUID}
	s.Enrich(&event.Event{Op: event.OpExec, Proc: init, Exec: &event.Exec{}})
	lead := event.Process{PID: 40, TID: 40, PPID: 1, StartBoot: 100, ParentStartBoot: 1, SID: 40, PGID: 40, Comm: "bash", AUID: event.NoUID}
	s.Enrich(&event.Event{Op: event.OpFork, Proc: lead})
	member := lead
	member.PID, member.TID, member.PPID, member.StartBoot, member.ParentStartBoot, member.Comm = 41, 41, 40, 200, 100, "nohup"
	s.Enrich(&event.Event{Op: event.OpFork, Proc: member})
	ev := &event.Event{Op: event.OpFileOpen, Proc: member, File: &event.File{}}
	s.Enrich(ev)
	if ev.Enriched.SessionLeader == nil || ev.Enriched.SessionLeader.Name != "bash" {
		t.Fatalf("session leader %+v", ev.Enriched.SessionLeader)
	}
	s.Enrich(&event.Event{Op: event.OpExit, Proc: lead, Exit: &event.Exit{}})
	reuse := lead
	reuse.StartBoot, reuse.SID, reuse.PGID, reuse.Comm = 300, 1, 1, "other"
	s.Enrich(&event.Event{Op: event.OpFork, Proc: reuse})
	ev = &event.Event{Op: event.OpFileOpen, Proc: member, File: &event.File{}}
	s.Enrich(ev)
	if l := ev.Enriched.SessionLeader; l == nil || l.Name != "bash" {
		t.Errorf("session leader after the pid's reuse: %+v", l)
	}
	// Not an ancestor (a pipeline's group leader is a sibling): a younger
	// process with the pid is not taken.
	other := member
	other.PID, other.TID, other.PPID, other.StartBoot, other.SID, other.PGID = 42, 42, 1, 250, 42, 40
	s.Enrich(&event.Event{Op: event.OpFork, Proc: other})
	ev = &event.Event{Op: event.OpFileOpen, Proc: other, File: &event.File{}}
	s.Enrich(ev)
	if g := ev.Enriched.GroupLeader; g != nil {
		t.Errorf("group leader is a younger reuse of the pid: %+v", g)
	}
	// Session 0 (a child of an init that never called setsid, as in some
	// containers and CI runners): there is no leader, not a guess.
	orphan := event.Process{PID: 50, TID: 50, PPID: 1, StartBoot: 400, ParentStartBoot: 1, Comm: "runner", AUID: event.NoUID}
	s.Enrich(&event.Event{Op: event.OpFork, Proc: orphan})
	ev = &event.Event{Op: event.OpFileOpen, Proc: orphan, File: &event.File{}}
	s.Enrich(ev)
	if en := ev.Enriched; en.SessionLeader != nil || en.GroupLeader != nil || en.Parent == nil || en.Parent.Name != "init" {
		t.Errorf("session 0: leaders %+v %+v, parent %+v", en.SessionLeader, en.GroupLeader, en.Parent)
	}
}

// A cgroup id (the inode of its v2 directory) is turned back into its
// path by a kernfs file handle, without scanning the hierarchy.
func TestCgroupByHandle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("open_by_handle_at needs CAP_DAC_READ_SEARCH")
	}
	s := New(Options{Proc: t.TempDir()})
	if s.cgRoot == "" {
		t.Skip("no cgroup v2 hierarchy")
	}
	dir := filepath.Join(s.cgRoot, "bansho-handle-test")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	if p, ok := s.cgroupByHandle(st.Ino); !ok || p != "/bansho-handle-test" {
		t.Errorf("got %q %v", p, ok)
	}
	if _, ok := s.cgroupByHandle(1 << 40); ok {
		t.Error("a made-up id resolved")
	}
}
