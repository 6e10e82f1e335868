package ecs

import (
	"bytes"
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

var testHost = Host{Name: "hr-db-01", ID: "3d1219c7", BootID: "e57fd618", OSType: "linux", OSKernel: "6.18.0",
	OSName: "Debian GNU/Linux", OSVersion: "12", OSFamily: "debian", OSPlatform: "debian", Arch: "x86_64", PidNSIno: 4026531836}

var t0 = time.Date(2026, 11, 22, 1, 2, 3, 456789000, time.UTC)

func proc() event.Process {
	return event.Process{PID: 4242, TID: 4242, PPID: 4000, UID: 1000, GID: 1000, EUID: 0, EGID: 0, AUID: 1000,
		SessionID: 3, SID: 3900, PGID: 4242, TTY: 136<<20 | 1, CgroupID: 77, Start: t0.Add(-time.Second),
		ParentStart: t0.Add(-time.Minute), StartBoot: 1e9, ParentStartBoot: 2e8, MntNS: 1, PidNS: 2, Comm: "cat"}
}

// encode returns the decoded document, failing on invalid JSON.
func encode(t *testing.T, ev *event.Event) map[string]any {
	t.Helper()
	e := &Encoder{Host: testHost, Version: "1.0.0"}
	b := e.Append(nil, ev)
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// get walks a dotted path.
func get(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	if n, ok := cur.(json.Number); ok {
		return n.String()
	}
	if l, ok := cur.([]any); ok {
		var s []string
		for _, x := range l {
			s = append(s, x.(string))
		}
		return strings.Join(s, ",")
	}
	return cur
}

func expect(t *testing.T, m map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got := get(m, k); got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
}

func TestExecDocument(t *testing.T) {
	m := encode(t, &event.Event{Op: event.OpExec, Time: t0, Proc: proc(), Flags: event.FlagTainted,
		Exec: &event.Exec{OldPID: 4242, Filename: "/bin/cat", Executable: "/usr/bin/cat", Cwd: "/srv",
			Args: []string{"cat", "roster.csv"}, Argc: 2}})
	expect(t, m, map[string]any{
		"@timestamp":                    "2026-11-22T01:02:03.456789000Z",
		"ecs.version":                   Version,
		"agent.type":                    "bansho",
		"host.name":                     "hr-db-01",
		"host.id":                       "3d1219c7",
		"host.boot.id":                  "e57fd618",
		"host.pid_ns_ino":               "4026531836",
		"host.os.family":                "debian",
		"event.kind":                    "event",
		"event.category":                "process",
		"event.type":                    "start",
		"event.action":                  "exec",
		"event.dataset":                 "bansho.process",
		"process.pid":                   "4242",
		"process.name":                  "cat",
		"process.executable":            "/usr/bin/cat",
		"process.args":                  "cat,roster.csv",
		"process.args_count":            "2",
		"process.command_line":          "cat roster.csv",
		"process.working_directory":     "/srv",
		"process.start":                 "2026-11-22T01:02:02.456789000Z",
		"process.interactive":           true,
		"process.tty.char_device.major": "136",
		"process.tty.char_device.minor": "1",
		"process.user.id":               "0",
		"process.real_user.id":          "1000",
		"process.parent.pid":            "4000",
		"process.parent.entity_id":      EntityID("3d1219c7", 4026531836, "e57fd618", 4000, 2e8),
		"process.entity_id":             EntityID("3d1219c7", 4026531836, "e57fd618", 4242, 1e9),
		"process.session_leader.pid":    "3900",
		"user.id":                       "0",
		"bansho.login_user.id":          "1000",
		"bansho.exec.filename":          "/bin/cat",
		"bansho.tainted":                true,
	})
}

func TestExitDocument(t *testing.T) {
	m := encode(t, &event.Event{Op: event.OpExit, Time: t0, Proc: proc(), Exit: &event.Exit{Status: 9}})
	expect(t, m, map[string]any{"event.type": "end", "event.action": "end", "process.exit_code": "137",
		"bansho.exit.signal": "9", "event.outcome": "failure", "process.end": "2026-11-22T01:02:03.456789000Z"})
}

func TestFileDocuments(t *testing.T) {
	open := encode(t, &event.Event{Op: event.OpFileOpen, Time: t0, Proc: proc(), Flags: event.FlagProtected,
		File: &event.File{Syscall: 257, Ret: 3, FD: 3, Flags: 0o101 | 0o2000000, Mode: 0o640, Dev: 254<<20 | 1,
			Ino: 77, Pos: -1, IMode: 0o100640, IUID: 1000, IGID: 1000, Path: "/srv/mynumber/roster.csv", Name: "roster.csv"}})
	expect(t, open, map[string]any{
		"event.category": "file", "event.type": "access,creation,change", "event.action": "open", "event.outcome": "success",
		"file.path": "/srv/mynumber/roster.csv", "file.name": "roster.csv", "file.directory": "/srv/mynumber",
		"file.extension": "csv", "file.inode": "77", "file.device": "254:1", "file.mode": "640", "file.uid": "1000",
		"file.type": "file", "bansho.file.flags": "O_WRONLY,O_CREAT,O_CLOEXEC", "bansho.file.protected": true,
		"bansho.file.syscall": "openat", "bansho.file.create_mode": "640", "bansho.file.fd": "3",
	})
	rename := encode(t, &event.Event{Op: event.OpFileNS, Time: t0, Proc: proc(), Flags: event.FlagProtected,
		File: &event.File{Syscall: 316, Ret: 0, FD: -1, Kind: event.NSRename, Path: "/srv/mynumber/a.csv",
			TargetPath: "/tmp/a.csv", Name: "a.csv", Anchor: "/srv/mynumber"}})
	expect(t, rename, map[string]any{"event.action": "rename", "event.type": "change",
		"file.target_path": "/tmp/a.csv", "bansho.file.anchor": "/srv/mynumber", "bansho.file.syscall": "renameat2"})
	unlink := encode(t, &event.Event{Op: event.OpFileNS, Time: t0, Proc: proc(),
		File: &event.File{Syscall: 263, Ret: -13, FD: -1, Kind: event.NSUnlink, Path: "/srv/mynumber/a.csv"}})
	expect(t, unlink, map[string]any{"event.type": "deletion", "event.outcome": "failure", "bansho.file.ret": "-13"})
	write := encode(t, &event.Event{Op: event.OpFileWrite, Time: t0, Proc: proc(), Flags: event.FlagTainted,
		File: &event.File{Syscall: 18, Ret: 4096, FD: 4, Count: 4096, Pos: 8192, Path: "/tmp/copy.csv"}})
	expect(t, write, map[string]any{"event.action": "write", "bansho.file.bytes": "4096", "bansho.file.offset": "8192",
		"bansho.file.tainted": true, "bansho.file.protected": false})
}

func TestNetworkDocument(t *testing.T) {
	m := encode(t, &event.Event{Op: event.OpNetConnect, Time: t0, Proc: proc(), Net: &event.Net{Syscall: 42, Ret: -115,
		FD: 5, Family: 2, Type: 1, Protocol: 6, Src: netip.MustParseAddrPort("128.232.110.120:34855"),
		Dst: netip.MustParseAddrPort("66.35.250.204:80")}})
	expect(t, m, map[string]any{
		"event.category": "network", "event.type": "connection,start", "event.action": "connect", "event.outcome": "success",
		"source.ip": "128.232.110.120", "source.port": "34855", "destination.ip": "66.35.250.204", "destination.port": "80",
		"network.transport": "tcp", "network.type": "ipv4", "network.direction": "egress", "network.iana_number": "6",
		"network.community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "related.ip": "128.232.110.120,66.35.250.204",
		"bansho.network.ret": "-115",
	})
	m = encode(t, &event.Event{Op: event.OpNetAccept, Time: t0, Proc: proc(), Net: &event.Net{Ret: 6, Family: 10, Protocol: 6,
		Src: netip.MustParseAddrPort("[2001:db8::1]:443"), Dst: netip.MustParseAddrPort("[2001:db8::2]:5555")}})
	expect(t, m, map[string]any{"event.action": "accept", "network.direction": "ingress", "network.type": "ipv6"})
}

func TestHealthAndStateDocuments(t *testing.T) {
	m := encode(t, &event.Event{Op: event.OpHealth, Time: t0, Health: &event.Health{Received: 10, Emitted: 9,
		Drops: map[string]uint64{"ringbuf_full": 1, "queue_full": 0}, DropsTotal: 1, Counters: map[string]uint64{"path_truncated": 2},
		Uptime: 1500 * time.Millisecond}})
	expect(t, m, map[string]any{"event.kind": "metric", "event.action": "sensor-health",
		"bansho.health.drops.total": "1", "bansho.health.drops.ringbuf_full": "1", "bansho.health.events.received": "10",
		"bansho.health.counters.path_truncated": "2", "bansho.health.uptime_seconds": "1.5"})
	if get(m, "process.pid") != nil {
		t.Error("health document carries a process")
	}
	m = encode(t, &event.Event{Op: event.OpState, Time: t0, State: &event.State{Action: "sensor-started",
		Message: "probes attached", Details: map[string]string{"protected_0": "/srv/mynumber"}}})
	expect(t, m, map[string]any{"event.kind": "state", "event.action": "sensor-started", "message": "probes attached",
		"bansho.state.details.protected_0": "/srv/mynumber"})
}

func TestHostileStrings(t *testing.T) {
	bad := "a\x00b\"c\\d\ne\xff\xfe\u2028日本"
	m := encode(t, &event.Event{Op: event.OpExec, Time: t0, Proc: proc(),
		Exec: &event.Exec{Filename: bad, Args: []string{bad, "\x1b[31m"}, Argc: 2}})
	if got := get(m, "bansho.exec.filename"); got != "a\x00b\"c\\d\ne\ufffd\ufffd\u2028日本" {
		t.Errorf("filename round trip: %q", got)
	}
}

func FuzzEncodeIsValidJSON(f *testing.F) {
	f.Add("/srv/mynumber/roster.csv", "cat", []byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, p, comm string, raw []byte) {
		e := &Encoder{Host: testHost}
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
	e := &Encoder{Host: testHost, Version: "1.0.0"}
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

// A My Number in argv or a path never reaches a document.
func TestDocumentsAreRedacted(t *testing.T) {
	const n = "123456789018" // the published test vector
	e := &Encoder{Host: testHost}
	for _, ev := range []*event.Event{
		{Op: event.OpExec, Time: t0, Proc: proc(), Exec: &event.Exec{Filename: "/tmp/" + n, Executable: "/usr/bin/grep",
			Cwd: "/home/" + n, Args: []string{"grep", n, "roster.csv"}, Argc: 3}},
		{Op: event.OpFileNS, Time: t0, Proc: proc(), File: &event.File{Kind: event.NSRename, FD: -1,
			Path: "/srv/mynumber/" + n + ".pdf", TargetPath: "/tmp/1234-5678-9018.pdf", Name: n + ".pdf", Anchor: "/srv/" + n}},
	} {
		b := e.Append(nil, ev)
		if strings.Contains(string(b), n) || strings.Contains(string(b), "1234-5678-9018") {
			t.Fatalf("%s document holds the raw number", ev.Op)
		}
		m := encode(t, ev)
		if get(m, "bansho.redacted") != true {
			t.Errorf("%s: bansho.redacted not set", ev.Op)
		}
	}
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
