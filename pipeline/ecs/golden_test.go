package ecs

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the encoder's output")

var testHost = Host{Name: "hr-db-01", Hostname: "hr-db-01", ID: "3d1219c7e0a04c5f9a6a1b2c3d4e5f60",
	BootID: "e57fd618-8f21-4c1d-9d3e-2a6f0b7c8d9e", IPs: []string{"192.0.2.10", "2001:db8::10"},
	OSType: "linux", OSKernel: "6.18.0-1-amd64", OSName: "Debian GNU/Linux", OSFull: "Debian GNU/Linux 13 (trixie)",
	OSVersion: "13", OSFamily: "debian", OSPlatform: "debian", Arch: "x86_64", PidNSIno: 4026531836}

var (
	t0      = time.Date(2026, 11, 22, 1, 2, 3, 456789000, time.UTC)
	created = time.Date(2026, 11, 22, 1, 2, 3, 500000000, time.UTC)
)

// testEncoder is deterministic: fixed run key and clock.
func testEncoder() *Encoder {
	e := &Encoder{Host: testHost, Version: "1.2.3", Now: func() time.Time { return created }}
	e.runKey, e.keySet = [8]byte{0xba, 0x45, 0x40, 0x00, 0x5e, 0xc0, 0x00, 0x01}, true
	return e
}

// proc is an interactive shell user who ran sudo: effective root, real and
// login uid 1000.
func proc() event.Process {
	return event.Process{PID: 4242, TID: 4242, PPID: 4000, UID: 1000, GID: 1000, EUID: 0, EGID: 0, AUID: 1000,
		SessionID: 3, SID: 3900, PGID: 4242, TTY: 136<<20 | 1, CgroupID: 7731, Start: t0.Add(-time.Second),
		ParentStart: t0.Add(-time.Minute), StartBoot: 90_000_000_000, ParentStartBoot: 31_000_000_000,
		MntNS: 4026531841, PidNS: 4026531836, Comm: "cat"}
}

// daemon is a service: no tty, no login uid, its own session.
func daemon() event.Process {
	return event.Process{PID: 812, TID: 815, PPID: 1, UID: 998, GID: 998, EUID: 998, EGID: 998, AUID: event.NoUID,
		SessionID: event.NoUID, SID: 812, PGID: 812, CgroupID: 9120, Start: t0.Add(-time.Hour),
		ParentStart: t0.Add(-2 * time.Hour), StartBoot: 5_000_000_000, ParentStartBoot: 1_000_000,
		MntNS: 4026531841, PidNS: 4026531836, Comm: "postgres"}
}

// A number, with a valid check digit, that must never reach a document.
const myNumber = "123456789018"

type goldenCase struct {
	name  string
	ev    *event.Event
	names bool // resolve user and group names
}

func (c goldenCase) encoder() *Encoder {
	e := testEncoder()
	if c.names {
		e.Names = func(uid uint32) string {
			return map[uint32]string{0: "root", 1000: "tanaka", 998: "postgres"}[uid]
		}
		e.Groups = func(gid uint32) string {
			return map[uint32]string{0: "root", 1000: "tanaka", 1001: "hr", 998: "postgres"}[gid]
		}
	}
	return e
}

func fileEv(op event.Op, flags uint8, p event.Process, f *event.File) *event.Event {
	return &event.Event{Op: op, Flags: flags, CPU: 1, KTime: 91_000_000_000, Time: t0, Proc: p, File: f}
}

// alertEv is what the rule engine makes of a copy of protected data out
// of its directory: its trigger is the write's own document.
func alertEv(p event.Process, reg func(event.File) *event.File) *event.Event {
	e := goldenCase{names: true}.encoder()
	w := fileEv(event.OpFileWrite, event.FlagTainted, p, reg(event.File{Syscall: 1, Ret: 512, FD: 4, Count: 512,
		Path: "/tmp/" + myNumber + ".csv"}))
	w.Content = &event.Content{MyNumber: event.Finding{Distinct: 2, Occurrences: 2, Confidence: "high"}, SampledBytes: 512}
	trigger := e.Append(nil, w)
	return &event.Event{Op: event.OpAlert, Time: t0, Alert: &event.Alert{
		RuleID: "protected-data-copied-outside", RuleName: "Protected Data Copied Outside Protected Directories",
		Description: "A process that read protected data wrote a file outside the protected directories.",
		Ruleset:     "bansho_rules", Category: "leak_prevention", Version: "1", Priority: "warning", Severity: 47,
		Tags: []string{"maturity_stable", "safeguard.leak_prevention", "mitre_collection", "T1074.001"},
		Threats: []event.Threat{{TacticID: "TA0009", TacticName: "Collection", TechniqueID: "T1074", TechniqueName: "Data Staged",
			SubtechniqueID: "T1074.001", SubtechniqueName: "Local Data Staging"}},
		Message: "Protected data copied out (file=/tmp/" + myNumber + ".csv command=cp)",
		Events:  []string{"ukVAAF7AAAEAAAAAAAAAAQ", "ukVAAF7AAAEAAAAAAAAAAg"},
		Trigger: trigger,
	}}
}

func netEv(op event.Op, flags uint8, n *event.Net) *event.Event {
	return &event.Event{Op: op, Flags: flags, CPU: 0, KTime: 91_000_000_000, Time: t0, Proc: daemon(), Net: n}
}

func goldenCases() []goldenCase {
	p := proc()
	leader := proc()
	leader.SID = leader.PID
	reg := func(f event.File) *event.File {
		// A protected regular file: /srv/mynumber/roster.csv, 0640 tanaka:hr.
		f.Dev, f.Ino, f.IMode, f.IUID, f.IGID, f.Pos = 259<<20|3, 1311768, 0o100640, 1000, 1001, -1
		return &f
	}
	return []goldenCase{
		{name: "exec", ev: &event.Event{Op: event.OpExec, Flags: event.FlagTainted, CPU: 1, KTime: 90_000_000_500, Time: t0, Proc: p,
			Exec: &event.Exec{OldPID: 4242, Filename: "/bin/cat", Executable: "/usr/bin/cat", Cwd: "/home/tanaka",
				Args: []string{"cat", "/srv/mynumber/roster.csv"}, Argc: 2}}},
		{name: "exec_names", names: true, ev: &event.Event{Op: event.OpExec, CPU: 1, KTime: 90_000_000_500, Time: t0, Proc: leader,
			Exec: &event.Exec{OldPID: 4242, Filename: "cat", Executable: "/usr/bin/cat", Cwd: "/home/tanaka",
				Args: []string{"cat", "roster.csv"}, Argc: 2}}},
		{name: "exec_truncated", ev: &event.Event{Op: event.OpExec, Flags: event.FlagTruncated | event.FlagReadFailed, Time: t0, Proc: p,
			Exec: &event.Exec{OldPID: 4250, Filename: "/usr/bin/python3", Executable: "/usr/bin/python3.13",
				Args: []string{"python3", "-c", "print(1)", "a-very-long-argu"}, Argc: 70}}},
		{name: "exec_hostile", ev: &event.Event{Op: event.OpExec, Time: t0, Proc: func() event.Process {
			q := proc()
			q.Comm = "x\x1b[31m\"\\"
			return q
		}(), Exec: &event.Exec{Filename: "./a\xff\xfeb", Executable: "/tmp/\u2028line\x00nul",
			Cwd: "/tmp/日本語\t", Args: []string{"a\xffb", "\"quoted\"", "back\\slash", "new\nline"}, Argc: 4}}},
		{name: "exec_redacted", ev: &event.Event{Op: event.OpExec, Time: t0, Proc: p,
			Exec: &event.Exec{Filename: "/usr/bin/grep", Executable: "/usr/bin/grep", Cwd: "/srv/" + myNumber,
				Args: []string{"grep", "-r", myNumber[:4], myNumber[4:8], myNumber[8:], "--id=1234-5678-9018", "roster.csv"}, Argc: 7}}},
		{name: "fork", ev: &event.Event{Op: event.OpFork, CPU: 0, KTime: 90_000_000_000, Time: t0, Proc: p,
			Fork: &event.Fork{ParentPID: 4000}}},
		{name: "exit_signal", ev: &event.Event{Op: event.OpExit, Flags: event.FlagTainted, Time: t0, Proc: p,
			Exit: &event.Exit{Status: 9}}},
		{name: "exit_code", ev: &event.Event{Op: event.OpExit, Time: t0, Proc: daemon(), Exit: &event.Exit{Status: 1 << 8}}},
		{name: "open_read", names: true, ev: fileEv(event.OpFileOpen, event.FlagProtected, p, reg(event.File{Syscall: 257, Ret: 3, FD: 3,
			Flags: 0o2000000, Path: "/srv/mynumber/roster.csv", Name: "roster.csv", Anchor: "/srv/mynumber"}))},
		{name: "open_create", ev: fileEv(event.OpFileOpen, event.FlagTainted, p, reg(event.File{Syscall: 257, Ret: 4, FD: 4,
			Flags: 0o1 | 0o100 | 0o1000 | 0o2000000, Mode: 0o644, Path: "/tmp/out.tar.gz", Name: "out.tar.gz", Anchor: "/tmp"}))},
		{name: "open_denied", ev: fileEv(event.OpFileOpen, event.FlagProtected, daemon(), reg(event.File{Syscall: 2, Ret: -13, FD: -1,
			Flags: 0o2, Path: "/srv/mynumber/.roster.csv.swp"}))},
		{name: "write", ev: fileEv(event.OpFileWrite, event.FlagTainted, p, func() *event.File {
			f := reg(event.File{Syscall: 18, Ret: 4096, FD: 5, Count: 4096, Path: "/tmp/copy.csv"})
			f.Pos = 8192
			return f
		}())},
		{name: "write_copy", ev: fileEv(event.OpFileWrite, event.FlagTainted|event.FlagCopy, p, reg(event.File{Syscall: 326, Ret: 65536,
			FD: 4, Count: 65536, Path: "/mnt/usb/roster.csv"}))},
		{name: "write_content", ev: func() *event.Event {
			ev := fileEv(event.OpFileWrite, event.FlagTainted, p, reg(event.File{Syscall: 1, Ret: 512, FD: 1, Count: 512, Path: "/dev/pts/1"}))
			ev.Content = &event.Content{MyNumber: event.Finding{Distinct: 2, Occurrences: 3, Confidence: "high",
				Reasons: []string{"check_digit", "keyword"}, Hashes: []string{"3f1a", "9c0b"}, Encodings: []string{"ascii"}},
				SampledBytes: 512}
			return ev
		}()},
		{name: "rename", ev: fileEv(event.OpFileNS, event.FlagProtected, p, reg(event.File{Syscall: 316, FD: -1, Kind: event.NSRename,
			Path: "/srv/mynumber/roster.csv", Name: "roster.csv", Anchor: "/srv/mynumber", TargetPath: "/tmp/r.csv"}))},
		{name: "unlink", ev: fileEv(event.OpFileNS, event.FlagProtected, p, reg(event.File{Syscall: 263, FD: -1, Kind: event.NSUnlink,
			Path: "/srv/mynumber/roster.csv", Name: "roster.csv", Anchor: "/srv/mynumber"}))},
		{name: "rmdir", ev: fileEv(event.OpFileNS, event.FlagProtected, p, &event.File{Syscall: 84, Ret: -39, FD: -1, Kind: event.NSRmdir,
			Dev: 259<<20 | 3, Ino: 1311000, IMode: 0o40750, Pos: -1, Path: "/srv/mynumber", Name: "/srv/mynumber"})},
		{name: "link", ev: fileEv(event.OpFileNS, event.FlagProtected, p, reg(event.File{Syscall: 265, FD: -1, Kind: event.NSLink,
			Path: "/srv/mynumber/roster.csv", Name: "roster.csv", Anchor: "/srv/mynumber", TargetPath: "/home/tanaka/r"}))},
		{name: "symlink", ev: fileEv(event.OpFileNS, 0, p, &event.File{Syscall: 266, FD: -1, Kind: event.NSSymlink, Pos: -1,
			Path: "/home/tanaka/link", Name: "/srv/mynumber/roster.csv", TargetPath: "/srv/mynumber/roster.csv"})},
		{name: "mkdir", ev: fileEv(event.OpFileNS, event.FlagProtected, p, &event.File{Syscall: 83, FD: -1, Kind: event.NSMkdir,
			Mode: 0o700, Pos: -1, Path: "/srv/mynumber/2027", Name: "2027", Anchor: "/srv/mynumber"})},
		{name: "chmod", ev: fileEv(event.OpFileNS, event.FlagProtected, p, reg(event.File{Syscall: 268, FD: -1, Kind: event.NSChmod,
			Mode: 0o4777, Path: "/srv/mynumber/roster.csv", Name: "roster.csv", Anchor: "/srv/mynumber"}))},
		{name: "chown", ev: fileEv(event.OpFileNS, event.FlagProtected, p, reg(event.File{Syscall: 93, FD: 3, Kind: event.NSChown,
			UID: 1000, GID: -1, Path: "/srv/mynumber/roster.csv"}))},
		{name: "truncate", ev: fileEv(event.OpFileNS, event.FlagProtected, p, reg(event.File{Syscall: 77, FD: 3, Kind: event.NSTruncate,
			Count: 0, Path: "/srv/mynumber/roster.csv"}))},
		{name: "connect", ev: netEv(event.OpNetConnect, event.FlagTainted, &event.Net{Syscall: 42, Ret: -115, FD: 7, Family: 2, Type: 1,
			Protocol: 6, Src: netip.MustParseAddrPort("128.232.110.120:34855"), Dst: netip.MustParseAddrPort("66.35.250.204:80")})},
		{name: "connect_refused", ev: netEv(event.OpNetConnect, 0, &event.Net{Syscall: 42, Ret: -111, FD: 7, Family: 10, Type: 1,
			Protocol: 6, Src: netip.MustParseAddrPort("[2001:db8::10]:50000"), Dst: netip.MustParseAddrPort("[2001:db8::53]:5432")})},
		{name: "accept", ev: netEv(event.OpNetAccept, 0, &event.Net{Syscall: 288, Ret: 9, FD: 9, Family: 2, Type: 1, Protocol: 6,
			Src: netip.MustParseAddrPort("192.0.2.10:5432"), Dst: netip.MustParseAddrPort("198.51.100.7:41000")})},
		{name: "send_udp", ev: netEv(event.OpNetSend, 0, &event.Net{Syscall: 44, Ret: 48, FD: 6, Family: 2, Type: 2, Protocol: 17,
			Src: netip.MustParseAddrPort("192.168.1.52:54585"), Dst: netip.MustParseAddrPort("8.8.8.8:53"), Bytes: 48})},
		{name: "tls_write", ev: netEv(event.OpTLSWrite, event.FlagTainted, &event.Net{Ret: 1200, FD: -1, Bytes: 1200})},
		{name: "health", ev: &event.Event{Op: event.OpHealth, KTime: 95_000_000_000, Time: t0, Proc: daemon(),
			Health: &event.Health{Received: 120000, Emitted: 119990, DropsTotal: 10,
				Drops:    map[string]uint64{"ringbuf_full": 7, "queue_full": 0, "output_lost": 3},
				Counters: map[string]uint64{"path_truncated": 2, "user_read_failed": 1}, OutputErrors: 1,
				Uptime: 90*time.Minute + 1500*time.Millisecond}}},
		{name: "state", ev: &event.Event{Op: event.OpState, KTime: 1_000_000_000, Time: t0, Proc: daemon(),
			State: &event.State{Action: "sensor-started", Message: "probes attached", Version: "1.2.3 (go1.26)",
				Details: map[string]string{"protected_0": "/srv/mynumber", "missing_hook_0": "tls: no libssl"}}}},
		{name: "missing_payload", ev: &event.Event{Op: event.OpExec, Time: t0, Proc: p}},
		{name: "alert", names: true, ev: alertEv(p, reg)},
		{name: "enriched_write_usb", ev: enrichedWrite()},
		{name: "content_scan", ev: func() *event.Event {
			// The sensor read the copy cp wrote to the USB stick, whole.
			w := enrichedWrite()
			f := *w.File
			ev := &event.Event{Op: event.OpContentScan, Flags: event.FlagTainted, KTime: w.KTime + 2_000_000_000,
				Time: w.Time.Add(2 * time.Second), Proc: w.Proc, Enriched: w.Enriched,
				File: &event.File{Path: f.Path, Dev: f.Dev, Ino: f.Ino, IMode: f.IMode, FD: -1, Pos: -1, Ret: 120000}}
			ev.Content = &event.Content{MyNumber: event.Finding{Distinct: 300, Occurrences: 300, Confidence: "high",
				Reasons: []string{"checksum", "keyword"}, Hashes: []string{"3f1a", "9c0b"}, Encodings: []string{"ascii"}},
				SampledBytes: 120000, AtRest: true, ScannedBytes: 120000, PIITypes: []string{"name", "birth_date"}}
			return ev
		}()},
		{name: "enriched_connect_pod", ev: enrichedConnect()},
		{name: "enriched_unknown", ev: func() *event.Event {
			ev := fileEv(event.OpFileOpen, event.FlagProtected, daemon(), reg(event.File{Syscall: 257, Ret: 3, FD: 3,
				Path: "/srv/mynumber/roster.csv"}))
			d := daemon()
			ev.Enriched = &event.Enrichment{Unknown: true, EntryType: "unknown", UserName: "postgres", RealUserName: "postgres",
				Process: &event.ProcInfo{EntityID: EntityID(testHost.ID, testHost.PidNSIno, testHost.BootID, d.PID, d.StartBoot),
					PID: d.PID, Name: d.Comm, Start: d.Start, UID: d.EUID, GID: d.EGID, Unknown: true}}
			return ev
		}()},
	}
}

// info is a process of the tree as the process table has it.
func info(pid uint32, startBoot uint64, name, exe string, uid uint32, user string, args ...string) *event.ProcInfo {
	return &event.ProcInfo{EntityID: EntityID(testHost.ID, testHost.PidNSIno, testHost.BootID, pid, startBoot), PID: pid,
		Start: t0.Add(-time.Duration(91_000_000_000-startBoot) * time.Nanosecond), Name: name, Executable: exe,
		Args: args, WorkingDirectory: "/home/tanaka", Interactive: true, UID: uid, GID: uid, UserName: user}
}

// enrichedWrite: ssh tanaka@host; sudo -i; cp roster.csv /mnt/usb/ — the
// write of cp (pid 4242, after sudo: root, login uid 1000) to a USB stick.
func enrichedWrite() *event.Event {
	p := proc()
	p.Comm, p.PGID, p.SID = "cp", 4242, 4100
	ev := fileEv(event.OpFileWrite, event.FlagTainted|event.FlagCopy, p, &event.File{Syscall: 326, Ret: 65536, FD: 4,
		Count: 65536, Pos: -1, Dev: 8<<20 | 17, Ino: 12, IMode: 0o100644, IUID: 0, IGID: 0, Path: "/mnt/usb/roster.csv"})
	self := info(4242, p.StartBoot, "cp", "/usr/bin/cp", 0, "root", "cp", "/srv/mynumber/roster.csv", "/mnt/usb/")
	shell := info(4100, 60_000_000_000, "bash", "/usr/bin/bash", 0, "root", "-bash")
	login := info(3900, 30_000_000_000, "bash", "/usr/bin/bash", 1000, "tanaka", "-bash")
	ev.Proc.PPID, ev.Proc.ParentStartBoot = 4100, 60_000_000_000
	ev.Enriched = &event.Enrichment{Process: self, Parent: shell, GroupLeader: self, SessionLeader: shell,
		EntryLeader: login, EntryType: "sshd", EntrySourceIP: netip.MustParseAddr("198.51.100.23"),
		Ancestors: []string{shell.EntityID, "x", login.EntityID}, UserName: "root", RealUserName: "tanaka",
		GroupName: "root", LoginUserName: "tanaka",
		Mount: &event.Mount{FSType: "vfat", Source: "/dev/sdb1", MountPoint: "/mnt/usb", Removable: true}}
	return ev
}

// enrichedConnect: a process in a Kubernetes pod connects to the internet.
func enrichedConnect() *event.Event {
	ev := netEv(event.OpNetConnect, 0, &event.Net{Syscall: 42, Ret: 0, FD: 7, Family: 2, Type: 1, Protocol: 6,
		Src: netip.MustParseAddrPort("10.244.1.17:40312"), Dst: netip.MustParseAddrPort("203.0.113.50:443")})
	d := ev.Proc
	self := info(d.PID, d.StartBoot, "postgres", "/usr/lib/postgresql/16/bin/postgres", 998, "postgres", "postgres", "-D", "/var/lib/postgresql/data")
	self.Interactive, self.WorkingDirectory = false, "/var/lib/postgresql"
	init := info(1, d.ParentStartBoot, "tini", "/usr/bin/tini", 998, "postgres", "tini", "--", "postgres")
	init.Interactive, init.WorkingDirectory = false, "/"
	ev.Enriched = &event.Enrichment{Process: self, Parent: init, GroupLeader: self, SessionLeader: self,
		EntryLeader: init, EntryType: "container", UserName: "postgres", RealUserName: "postgres", GroupName: "postgres",
		Container: &event.Container{ID: "3f4b2a9c1d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a", Runtime: "containerd",
			Name: "db", ImageName: "docker.io/library/postgres", ImageTag: "16"},
		Pod: &event.Pod{UID: "8a4c2f1e-6b3d-4e5f-9a8b-7c6d5e4f3a2b", Name: "payroll-db-0", Namespace: "hr", Node: "hr-node-01",
			Cluster: "hr-prod", Labels: map[string]string{"app": "payroll-db", "tier": "data"}},
		Destination: "internet"}
	ev.Proc.PPID, ev.Proc.SID, ev.Proc.PGID = 1, d.PID, d.PID
	return ev
}

// Each document is byte for byte what testdata holds, and passes the
// ECS check. Run with -update after an intended change, and read the diff.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			got := c.encoder().Append(nil, c.ev)
			checkDocument(t, got)
			path := filepath.Join("testdata", c.name+".json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			want = bytes.TrimSuffix(want, []byte("\n"))
			if !bytes.Equal(got, want) {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Errorf("differs from %s at byte %d:\n got: …%s\nwant: …%s", path, i, around(got, i), around(want, i))
			}
			if bytes.Contains(got, []byte(myNumber)) || bytes.Contains(got, []byte("1234-5678-9018")) {
				t.Errorf("a raw individual number in the document")
			}
		})
	}
}

func around(b []byte, i int) string {
	lo, hi := max(0, i-40), min(len(b), i+60)
	return strings.ToValidUTF8(string(b[lo:hi]), "?")
}

// Every golden case has a file and every file a case: no stale goldens.
func TestGoldenFilesMatchCases(t *testing.T) {
	names := map[string]bool{}
	for _, c := range goldenCases() {
		names[c.name+".json"] = true
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !names[filepath.Base(f)] {
			t.Errorf("%s has no case", f)
		}
		delete(names, filepath.Base(f))
	}
	if !*update {
		for n := range names {
			t.Errorf("testdata/%s missing", n)
		}
	}
}
