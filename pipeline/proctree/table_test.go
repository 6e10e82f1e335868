package proctree

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

func testTable(maxExited int) *Table {
	return New(Options{MaxExited: maxExited,
		EntityID: func(pid uint32, start uint64) string { return fmt.Sprintf("e%d@%d", pid, start) }})
}

// sim builds kernel-like events for synthetic processes.
type sim struct {
	t     *Table
	clock uint64
	start map[uint32]uint64
	proc  map[uint32]event.Process
}

func newSim(t *Table) *sim {
	return &sim{t: t, clock: 1e9, start: map[uint32]uint64{}, proc: map[uint32]event.Process{}}
}

func (s *sim) fork(parent, child uint32) *Proc {
	s.clock += 1000
	pp := s.proc[parent]
	k := pp
	k.PID, k.TID, k.PPID = child, child, parent
	k.StartBoot, k.ParentStartBoot = s.clock, pp.StartBoot
	s.proc[child] = k
	return s.t.Apply(&event.Event{Op: event.OpFork, Proc: k, Fork: &event.Fork{ParentPID: parent}})
}

func (s *sim) exec(pid uint32, comm, exe string, args ...string) *Proc {
	k := s.proc[pid]
	k.Comm = comm
	s.proc[pid] = k
	return s.t.Apply(&event.Event{Op: event.OpExec, Proc: k, Exec: &event.Exec{Executable: exe, Args: args}})
}

func (s *sim) exit(pid uint32) {
	s.t.Apply(&event.Event{Op: event.OpExit, Proc: s.proc[pid], Exit: &event.Exit{}})
}

func (s *sim) set(pid uint32, f func(*event.Process)) {
	k := s.proc[pid]
	f(&k)
	s.proc[pid] = k
}

// root seeds pid 1 (init) the way a fork would.
func (s *sim) root() {
	s.proc[1] = event.Process{PID: 1, TID: 1, StartBoot: 1, SID: 1, PGID: 1, Comm: "systemd", PidNS: 100, AUID: event.NoUID}
	s.t.Apply(&event.Event{Op: event.OpExec, Proc: s.proc[1], Exec: &event.Exec{Executable: "/usr/lib/systemd/systemd"}})
}

// An SSH login: sshd (service) -> sshd-session -> bash -> sudo -> bash ->
// cp. The entry leader is the login shell, of type sshd; cp's ancestry
// lists every process up to init.
func TestSSHSessionTree(t *testing.T) {
	tb := testTable(100)
	s := newSim(tb)
	s.root()
	s.fork(1, 700)
	s.exec(700, "sshd", "/usr/sbin/sshd", "sshd", "-D")
	s.fork(700, 800)
	s.exec(800, "sshd-session", "/usr/lib/openssh/sshd-session")
	s.fork(800, 801)
	s.set(801, func(k *event.Process) { k.SID, k.PGID, k.TTY, k.AUID = 801, 801, 136<<20|1, 1000 })
	sh := s.exec(801, "bash", "/usr/bin/bash", "-bash")
	s.fork(801, 900)
	s.set(900, func(k *event.Process) { k.PGID = 900 })
	s.exec(900, "sudo", "/usr/bin/sudo", "sudo", "-i")
	s.fork(900, 901)
	s.set(901, func(k *event.Process) { k.EUID, k.SID, k.PGID = 0, 901, 901 })
	s.exec(901, "bash", "/usr/bin/bash", "-bash")
	s.fork(901, 950)
	s.set(950, func(k *event.Process) { k.PGID = 950 })
	cp := s.exec(950, "cp", "/usr/bin/cp", "cp", "/srv/mynumber/roster.csv", "/tmp/")

	if sh.Entry != sh || sh.EntryType != EntrySSHD {
		t.Errorf("login shell: entry %v %q, want itself, sshd", sh.Entry.PID, sh.EntryType)
	}
	if tb.procs[700].EntryType != EntryInit || tb.procs[800].Entry.PID != 700 {
		t.Errorf("sshd: entry type %q; sshd-session entry %d", tb.procs[700].EntryType, tb.procs[800].Entry.PID)
	}
	if cp.Entry != sh || cp.EntryType != EntrySSHD {
		t.Errorf("cp: entry leader %d %q, want 801 sshd", cp.Entry.PID, cp.EntryType)
	}
	want := []string{"e901@", "e900@", "e801@", "e800@", "e700@", "e1@"}
	if len(cp.Ancestors) != len(want) {
		t.Fatalf("ancestors %v", cp.Ancestors)
	}
	for i, w := range want {
		if cp.Ancestors[i][:len(w)] != w {
			t.Errorf("ancestor %d: %s, want %s…", i, cp.Ancestors[i], w)
		}
	}
	if cp.Info.Executable != "/usr/bin/cp" || cp.Parent().Info.Name != "bash" {
		t.Errorf("cp info %+v parent %+v", cp.Info, cp.Parent().Info)
	}
	// A forked child runs its parent's program until it execs.
	c := s.fork(950, 951)
	if c.Info.Executable != "/usr/bin/cp" || c.Info.EntityID == cp.Info.EntityID {
		t.Errorf("forked child: %+v", c.Info)
	}
}

// A child in another pid namespace than its parent, or in a container
// cgroup its parent is not in, starts a container entry.
func TestContainerEntry(t *testing.T) {
	tb := testTable(100)
	s := newSim(tb)
	s.root()
	s.fork(1, 50)
	s.exec(50, "bash", "/usr/bin/bash")
	s.fork(50, 60)
	s.exec(60, "unshare", "/usr/bin/unshare", "unshare", "-fpm")
	s.set(60, func(k *event.Process) { k.PidNS = 200 }) // after unshare(CLONE_NEWPID)
	s.fork(60, 61)
	sh := s.exec(61, "sh", "/bin/sh")
	s.fork(61, 62)
	ls := s.exec(62, "ls", "/bin/ls")
	if sh.Entry != sh || sh.EntryType != EntryContainer {
		t.Errorf("namespace init: entry %d %q", sh.Entry.PID, sh.EntryType)
	}
	if ls.Entry != sh || ls.EntryType != EntryContainer {
		t.Errorf("ls: entry %d %q", ls.Entry.PID, ls.EntryType)
	}
	if tb.procs[60].EntryType != EntryInit {
		t.Errorf("unshare itself: %q", tb.procs[60].EntryType)
	}
}

// A parent that exited stays in the table while a child names it, and
// leaves with its last child; exited processes are bounded.
func TestExitedParentStaysWhileReferenced(t *testing.T) {
	tb := testTable(2)
	s := newSim(tb)
	s.root()
	s.fork(1, 10)
	s.fork(10, 11)
	s.exit(10)
	for i := uint32(0); i < 10; i++ {
		s.fork(1, 100+i)
		s.exit(100 + i)
	}
	if tb.Get(10) == nil {
		t.Fatal("exited parent of a live child was evicted")
	}
	if got := tb.Get(11).Parent(); got == nil || got.PID != 10 {
		t.Fatalf("child's parent: %v", got)
	}
	s.exit(11)
	for i := uint32(0); i < 4; i++ {
		s.fork(1, 200+i)
		s.exit(200 + i)
	}
	if tb.Get(10) != nil || tb.Get(11) != nil {
		t.Errorf("parent %v child %v still in the table after both left the LRU", tb.Get(10), tb.Get(11))
	}
	if st := tb.Stats(); st.Exited > 2 || st.Live != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A reused pid is a new process: another entity id; the lost exit counted.
func TestPidReuse(t *testing.T) {
	tb := testTable(10)
	s := newSim(tb)
	s.root()
	a := s.fork(1, 30)
	b := s.fork(1, 30)
	if a == b || a.Info.EntityID == b.Info.EntityID || tb.Get(30) != b {
		t.Errorf("reuse not seen: %v %v", a.Info, b.Info)
	}
	if tb.Stats().Replaced != 1 {
		t.Errorf("replaced %d", tb.Stats().Replaced)
	}
	ev := &event.Event{Op: event.OpFileOpen, Proc: s.proc[30]}
	ev.Proc.StartBoot = a.StartBoot
	if tb.Lookup(ev) != nil {
		t.Error("an event of the old process matched the new one")
	}
}

// 100k short-lived processes under one shell: the table and the heap stay
// flat.
func TestFlatMemoryWithManyShortProcesses(t *testing.T) {
	tb := testTable(4096)
	s := newSim(tb)
	s.root()
	s.fork(1, 2000)
	s.exec(2000, "bash", "/usr/bin/bash")
	run := func(n int) {
		for i := 0; i < n; i++ {
			pid := uint32(3000 + i%60000)
			s.fork(2000, pid)
			s.exec(pid, "true", "/usr/bin/true", "true")
			s.exit(pid)
			delete(s.proc, pid)
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	run(20000)
	before := heap()
	run(100000)
	after := heap()
	if tb.Len() > 4096+2 {
		t.Errorf("table holds %d processes, want at most %d", tb.Len(), 4096+2)
	}
	if after > before+before/4+1<<20 {
		t.Errorf("heap grew from %d to %d bytes over 100k processes", before, after)
	}
	t.Logf("table %d, heap %d -> %d bytes, stats %+v", tb.Len(), before, after, tb.Stats())
}

// Seeding from the real /proc finds this test process with its parent,
// executable and arguments; the kernel's exact start time upgrades the
// /proc one and changes the entity id accordingly.
func TestSeedFromProc(t *testing.T) {
	tb := testTable(100)
	res, err := tb.Seed("/proc")
	if err != nil {
		t.Fatal(err)
	}
	if res.Seeded < 3 {
		t.Fatalf("seeded %d", res.Seeded)
	}
	me := tb.Get(uint32(os.Getpid()))
	if me == nil {
		t.Fatal("own process not seeded")
	}
	exe, _ := os.Executable()
	if me.Info.Executable != exe || len(me.Info.Args) == 0 || me.Info.Args[0] != os.Args[0] {
		t.Errorf("own info: %+v", me.Info)
	}
	if me.Parent() == nil || me.Parent().PID != uint32(os.Getppid()) {
		t.Errorf("parent not linked: %v", me.Parent())
	}
	if init := tb.Get(1); init == nil || init.EntryType != EntryInit {
		t.Errorf("pid 1: %+v", init)
	}
	if kt := tb.Get(2); kt != nil && kt.EntryType != EntryKernel {
		t.Errorf("kthreadd: %q", kt.EntryType)
	}
	old := me.Info.EntityID
	exact := me.StartBoot + 3_000_000
	ev := &event.Event{Op: event.OpFileOpen, Proc: event.Process{PID: me.PID, PPID: me.PPID, StartBoot: exact,
		SID: me.SID, PGID: me.PGID}}
	if got := tb.Lookup(ev); got != me {
		t.Fatal("lookup with the exact start failed")
	}
	if me.StartBoot != exact || me.Info.EntityID == old || me.Info.EntityID != fmt.Sprintf("e%d@%d", me.PID, exact) {
		t.Errorf("not upgraded: start %d id %s", me.StartBoot, me.Info.EntityID)
	}
	ev.Proc.StartBoot = exact + tickNS*5
	if tb.Lookup(ev) != nil {
		t.Error("another start time matched")
	}
}

// A process started before the sensor with a long argv: the table keeps
// what the kernel would have kept at exec (maxArgsBytes), with the whole
// argument count.
func TestSeedBoundsArgs(t *testing.T) {
	long := strings.Repeat("x", 3000)
	cmd := exec.Command("/bin/sh", "-c", "sleep 30; :", "sh", long, "tail")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for i := 0; ; i++ { // until the child has become the shell
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid))
		if strings.HasPrefix(string(b), "/bin/sh\x00") {
			break
		}
		if i == 200 {
			t.Fatalf("child's argv: %.40q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb := testTable(100)
	if _, err := tb.Seed("/proc"); err != nil {
		t.Fatal(err)
	}
	p := tb.Get(uint32(cmd.Process.Pid))
	if p == nil {
		t.Fatal("not seeded")
	}
	in := p.Info
	if in.ArgsCount != 6 {
		t.Errorf("args_count %d, want 6", in.ArgsCount)
	}
	kept := len(strings.Join(in.Args, "\x00"))
	if kept > maxArgsBytes || len(in.Args) != 5 || in.Args[0] != "/bin/sh" || in.Args[2] != "sleep 30; :" {
		t.Fatalf("kept %d bytes in %d args (%.40q...)", kept, len(in.Args), in.Args)
	}
	if want := maxArgsBytes - len("/bin/sh\x00-c\x00sleep 30; :\x00sh\x00"); len(in.Args[4]) != want || in.Args[4] != long[:want] {
		t.Errorf("cut argument is %d bytes, want %d", len(in.Args[4]), want)
	}
	if len(in.CommandLine) > maxArgsBytes {
		t.Errorf("command line %d bytes", len(in.CommandLine))
	}
}

func TestParseStat(t *testing.T) {
	var k event.Process
	// comm with a space and a parenthesis; tty 34817 = pts major 136, minor 1.
	line := "4242 (my (odd) cmd) S 4000 4242 3900 34817 4242 4194304 1 0 0 0 3 1 0 0 20 0 1 0 123456 0 0\n"
	if err := parseStat([]byte(line), &k); err != nil {
		t.Fatal(err)
	}
	if k.Comm != "my (odd) cmd" || k.PPID != 4000 || k.PGID != 4242 || k.SID != 3900 || k.TTY != 136<<20|1 ||
		k.StartBoot != 123456*tickNS {
		t.Errorf("%+v", k)
	}
	if err := parseStat([]byte("12 (x) S 1 2"), &k); err == nil {
		t.Error("short stat accepted")
	}
}

func TestSSHSource(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(dir+"/77", 0o755)
	os.WriteFile(dir+"/77/environ", []byte("HOME=/root\x00SSH_CLIENT=10.0.0.9 5 22\x00SSH_CONNECTION=192.0.2.44 50122 192.0.2.10 22\x00"), 0o644)
	if ip, ok := SSHSource(dir, 77); !ok || ip != "192.0.2.44" {
		t.Errorf("got %q %v", ip, ok)
	}
	if _, ok := SSHSource(dir, 78); ok {
		t.Error("missing process gave a source")
	}
}

// The task iterator gives every process's exact start time, agreeing
// with /proc's to the tick.
func TestExactStarts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	starts, err := ExactStarts()
	if err != nil {
		t.Fatal(err)
	}
	me := uint32(os.Getpid())
	e, err := readProcfs("/proc", me)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := starts[me]
	if !ok || got/tickNS != e.k.StartBoot/tickNS {
		t.Fatalf("own start: iterator %d (%v), /proc %d", got, ok, e.k.StartBoot)
	}
	if _, ok := starts[2]; !ok || len(starts) < 3 {
		t.Errorf("%d processes, kthreadd %v", len(starts), ok)
	}
	// Seeding with them: the own process's start is exact at once.
	tb := New(Options{ExactStarts: ExactStarts})
	res, err := tb.Seed("/proc")
	if err != nil || res.Exact < 3 || res.ExactErr != nil {
		t.Fatalf("%+v %v", res, err)
	}
	if p := tb.Get(me); p == nil || p.approx || p.StartBoot != starts[me] {
		t.Errorf("own process %+v, want start %d", p, starts[me])
	}
}

func TestPeerOfProcNetTCP(t *testing.T) {
	// Real /proc/net/tcp and tcp6 lines: a listener and an established
	// connection from 198.51.100.23:50122 to port 22 (inode 48213).
	tcp := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17231 1 0000000000000000 100 0 0 10 0\n" +
		"   1: 0A00020F:0016 176433C6:C3CA 01 00000000:00000000 02:0009FB1B 00000000     0        0 48213 2 0000000000000000 20 4 30 10 -1\n"
	if ip, ok := peerOf([]byte(tcp), map[string]bool{"48213": true}); !ok || ip != "198.51.100.23" {
		t.Errorf("ipv4: %q %v", ip, ok)
	}
	if _, ok := peerOf([]byte(tcp), map[string]bool{"17231": true}); ok {
		t.Error("a listener gave a peer")
	}
	tcp6 := "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000000000000000000001000000:0016 B80D0120000000000000000002000000:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 51234 1 0000000000000000 20 4 0 10 -1\n" +
		"   1: 0000000000000000FFFF00000100007F:0016 0000000000000000FFFF00000200007F:D2F1 01 00000000:00000000 00:00000000 00000000     0        0 51235 1 0000000000000000 20 4 0 10 -1\n"
	if ip, ok := peerOf([]byte(tcp6), map[string]bool{"51234": true}); !ok || ip != "2001:db8::2" {
		t.Errorf("ipv6: %q %v", ip, ok)
	}
	if ip, ok := peerOf([]byte(tcp6), map[string]bool{"51235": true}); !ok || ip != "127.0.0.2" {
		t.Errorf("v4-mapped: %q %v", ip, ok)
	}
}
