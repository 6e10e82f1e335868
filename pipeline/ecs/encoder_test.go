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

// An enriched document (full process tree, names, mount): what the
// enrichment costs the encoder.
func BenchmarkAppendEnrichedWrite(b *testing.B) {
	e := testEncoder()
	ev := enrichedWrite()
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
