package ecs

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bansho-sec/bansho/internal/event"
)

func TestCommunityIDVectors(t *testing.T) {
	// Published test vectors of the Community ID v1 specification (seed 0).
	cases := []struct {
		proto    uint8
		src, dst string
		want     string
	}{
		{6, "128.232.110.120:34855", "66.35.250.204:80", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{6, "66.35.250.204:80", "128.232.110.120:34855", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{17, "192.168.1.52:54585", "8.8.8.8:53", "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
		{17, "8.8.8.8:53", "192.168.1.52:54585", "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
	}
	for _, c := range cases {
		got := CommunityID(c.proto, netip.MustParseAddrPort(c.src), netip.MustParseAddrPort(c.dst))
		if got != c.want {
			t.Errorf("%d %s -> %s: %s, want %s", c.proto, c.src, c.dst, got, c.want)
		}
	}
}

func TestEntityID(t *testing.T) {
	a := EntityID("host", 4026531836, "boot", 100, 5000)
	if a != EntityID("host", 4026531836, "boot", 100, 5000) {
		t.Error("not stable")
	}
	seen := map[string]string{a: "base"}
	for name, id := range map[string]string{
		"pid reused later":  EntityID("host", 4026531836, "boot", 100, 5001),
		"another pid":       EntityID("host", 4026531836, "boot", 101, 5000),
		"after a reboot":    EntityID("host", 4026531836, "boot2", 100, 5000),
		"another host":      EntityID("host2", 4026531836, "boot", 100, 5000),
		"another namespace": EntityID("host", 4026531837, "boot", 100, 5000),
	} {
		if prev, dup := seen[id]; dup {
			t.Errorf("%s collides with %s", name, prev)
		}
		seen[id] = name
	}
}

func FuzzEncodeIsValidJSON(f *testing.F) {
	f.Add("/srv/mynumber/roster.csv", "cat", []byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, p, comm string, raw []byte) {
		e := testEncoder()
		pr := proc()
		pr.Comm = comm
		for _, ev := range []*event.Event{
			{Op: event.OpFileOpen, Time: t0, Proc: pr, File: &event.File{Path: p, Name: string(raw), TargetPath: comm}},
			{Op: event.OpExec, Time: t0, Proc: pr, Exec: &event.Exec{Filename: p, Args: []string{string(raw), comm}}},
		} {
			b := e.Append(nil, ev)
			if !json.Valid(b) || !utf8.Valid(b) {
				t.Fatalf("invalid document: %q", b)
			}
		}
	})
}

func BenchmarkAppendFileOpen(b *testing.B) {
	e := testEncoder()
	ev := &event.Event{Op: event.OpFileOpen, Time: t0, Proc: proc(), Flags: event.FlagProtected,
		File: &event.File{Syscall: 257, Ret: 3, FD: 3, Flags: 0, Dev: 254 << 20, Ino: 77, IMode: 0o100640,
			Path: "/srv/mynumber/roster.csv", Name: "roster.csv"}}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = e.Append(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}

func TestAppendTimeMatchesRFC3339Nano(t *testing.T) {
	for _, tm := range []time.Time{t0, time.Unix(0, 0), time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("JST", 9*3600)),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC)} {
		want := `"` + tm.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") + `"`
		if got := string(appendTime(nil, tm)); got != want {
			t.Errorf("%v: %s, want %s", tm, got, want)
		}
	}
}

// host.ip follows the addresses; everything else of the document stays.
func TestSetHostIPs(t *testing.T) {
	e := testEncoder()
	ev := &event.Event{Op: event.OpFork, Time: t0, Proc: proc(), Fork: &event.Fork{}}
	before := string(e.Append(nil, ev))
	e.SetHostIPs([]string{"198.51.100.9"})
	after := string(e.Append(nil, ev))
	if !strings.Contains(before, `"ip":["192.0.2.10","2001:db8::10"]`) || !strings.Contains(after, `"ip":["198.51.100.9"]`) ||
		!strings.Contains(after, `"ephemeral_id":"ba4540005ec00001"`) {
		t.Errorf("before %s\nafter %s", before, after)
	}
}

// An enriched document as a My Number server's nightly export makes them
// (about 6 KB, process.* about 4 KB): the write of gzip, run by a shell
// of a Python export job in an SSH session, with content findings. Five
// distinct processes of the tree, each with its arguments and user name.
func BenchmarkAppendEnrichedWrite(b *testing.B) {
	e := goldenCase{names: true}.encoder()
	names := map[uint32]string{0: "root", 1000: "tanaka", 1001: "hr"} // the sensor's are cached too
	e.Names = func(uid uint32) string { return names[uid] }
	e.Groups = func(gid uint32) string { return names[gid] }
	ev := busyWrite()
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = e.Append(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}

// An alert on an enriched write, its trigger the write's own document as
// the pipeline hands it over (TriggerMasked) and as a replay does (not).
func BenchmarkAppendAlert(b *testing.B) {
	for _, masked := range []bool{true, false} {
		name := "replayed"
		if masked {
			name = "live"
		}
		b.Run(name, func(b *testing.B) {
			e := testEncoder()
			a := alertEv(proc(), func(f event.File) *event.File { return &f })
			a.Alert.Trigger = e.Append(nil, enrichedWrite())
			a.Alert.TriggerMasked = masked
			buf := make([]byte, 0, 16384)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf = e.Append(buf[:0], a)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// busyWrite is the write of BenchmarkAppendEnrichedWrite.
func busyWrite() *event.Event {
	p := proc()
	p.Comm, p.PPID, p.PGID, p.SID, p.ParentStartBoot = "gzip", 4241, 4200, 4100, 89_000_000_000
	ev := fileEv(event.OpFileWrite, event.FlagTainted, p, &event.File{Syscall: 1, Ret: 65536, FD: 1, Count: 65536,
		Pos: 1 << 20, Dev: 259<<20 | 5, Ino: 5242881, IMode: 0o100640, IUID: 0, IGID: 1001,
		Path: "/mnt/backup/payroll/2026-11/roster-2026-11-22.csv.gz"})
	const jobDir = "/opt/payroll/var/jobs/2026-11-22T01-00-00"
	self := info(4242, p.StartBoot, "gzip", "/usr/bin/gzip", 0, "root", "gzip", "-c", "-9", "--rsyncable",
		"/srv/mynumber/export/2026-11/roster-2026-11-22.csv")
	self.WorkingDirectory = jobDir
	sh := info(4241, 89_000_000_000, "sh", "/usr/bin/dash", 0, "root", "/bin/sh", "-c",
		"set -o pipefail; gzip -c -9 --rsyncable /srv/mynumber/export/2026-11/roster-2026-11-22.csv > /mnt/backup/payroll/2026-11/roster-2026-11-22.csv.gz && sync && logger -t payroll-export done")
	sh.WorkingDirectory = jobDir
	job := info(4200, 80_000_000_000, "python3", "/usr/bin/python3.13", 0, "root", "/usr/bin/python3",
		"/opt/payroll/bin/export_mynumber.py", "--config", "/etc/payroll/export.yaml", "--period", "2026-11",
		"--format", "csv", "--output", "/srv/mynumber/export/2026-11/", "--backup", "/mnt/backup/payroll/2026-11/",
		"--log-file", "/var/log/payroll/export-2026-11-22.log", "--log-level", "info", "--workers", "4",
		"--chunk-size", "5000", "--encrypt-recipient", "payroll-backup@example.jp",
		"--template", "/opt/payroll/share/templates/mynumber-roster-v3.csv.j2",
		"--columns", "employee_id,name_kana,name_kanji,birth_date,my_number,dependents")
	job.WorkingDirectory = jobDir
	sudo := info(4100, 60_000_000_000, "bash", "/usr/bin/bash", 0, "root", "bash", "-c",
		"cd /opt/payroll && source ./env/production.sh && PAYROLL_DB=postgresql://export@hr-db-01:5432/payroll ./bin/nightly-export.sh --period 2026-11 --notify hr-ops@example.jp && ./bin/rotate-backups.sh --keep 30 /mnt/backup/payroll")
	sudo.WorkingDirectory = "/opt/payroll"
	login := info(3900, 30_000_000_000, "bash", "/usr/bin/bash", 1000, "tanaka", "-bash")
	ev.Enriched = &event.Enrichment{Process: self, Parent: sh, GroupLeader: job, SessionLeader: sudo,
		EntryLeader: login, EntryType: "sshd", EntrySourceIP: netip.MustParseAddr("198.51.100.23"),
		Ancestors: []string{sh.EntityID, job.EntityID, sudo.EntityID, login.EntityID}, UserName: "root",
		RealUserName: "tanaka", GroupName: "root", LoginUserName: "tanaka",
		Mount: &event.Mount{FSType: "ext4", Source: "/dev/nvme1n1p1", MountPoint: "/mnt/backup"}}
	ev.Content = &event.Content{MyNumber: event.Finding{Distinct: 3, Occurrences: 3, Confidence: "high",
		Reasons: []string{"check_digit", "keyword"}, Encodings: []string{"ascii"}, Hashes: []string{
			"4f2a9c0be17d53a8c6e190f4b2d7a85e3c1f09b6d4e2a7c815f3b9d06e4a2c71",
			"9c0b7e21d4f6a38b5c2e09d1f7a4b6c83e5d2f1a0b9c8d7e6f5a4b3c2d1e0f9a",
			"e3b1c4d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1"}},
		SampledBytes: 65536}
	return ev
}

// BenchmarkAppendEnrichedWrite when every document's process is a new
// snapshot (a fork storm: each process writes once): the process's own
// snapshot is never found in the cache.
func BenchmarkAppendEnrichedWriteNewProcess(b *testing.B) {
	e := goldenCase{names: true}.encoder()
	ev := busyWrite()
	self := ev.Enriched.Process
	snaps := make([]event.ProcInfo, b.N)
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		snaps[i] = *self
		ev.Enriched.Process = &snaps[i]
		buf = e.Append(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}
