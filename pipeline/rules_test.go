package pipeline

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/rules"
	pack "github.com/bansho-sec/bansho/rules"
)

// memExporter keeps what it is given.
type memExporter struct{ docs []string }

func (m *memExporter) Name() string { return "mem" }
func (m *memExporter) Write(d [][]byte) error {
	for _, b := range d {
		m.docs = append(m.docs, string(b))
	}
	return nil
}
func (m *memExporter) Flush() error { return nil }
func (m *memExporter) Close() error { return nil }

// An alert follows the event that made it, in the same batch, and links
// to it by event.id.
func TestAlertsFollowTheirEvent(t *testing.T) {
	set, err := rules.Compile(map[string]string{"r.yaml": `
- rule: Protected Read
  desc: test.
  condition: event.action == "open" and bansho.file.protected
  output: read %file.path by %process.name
  priority: warning
  tags: [safeguard.access_control, mitre_collection, T1005]
`}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := &memExporter{}
	p := &Pipeline{Encoder: &ecs.Encoder{}, Exporters: []exporters.Exporter{out},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Rules: rules.NewEngine(set, rules.EngineOptions{})}
	open := func(flags uint8, path string) *event.Event {
		return &event.Event{Op: event.OpFileOpen, Flags: flags, Time: time.Now(),
			Proc: event.Process{PID: 10, Comm: "cat", StartBoot: 5}, File: &event.File{Syscall: 257, Ret: 3, Path: path}}
	}
	p.write([]*event.Event{open(0, "/tmp/a"), open(event.FlagProtected, "/srv/mynumber/123456789018.csv"), open(0, "/tmp/b")})
	if len(out.docs) != 4 {
		t.Fatalf("%d documents, want 3 events and 1 alert", len(out.docs))
	}
	var ev, alert struct {
		Event struct {
			ID, Kind string
		}
		Rule    struct{ Name string }
		Message string
		Bansho  struct {
			Alert struct{ Events []string }
		}
	}
	if err := json.Unmarshal([]byte(out.docs[1]), &ev); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out.docs[2]), &alert); err != nil {
		t.Fatal(err)
	}
	if alert.Event.Kind != "alert" || alert.Rule.Name != "Protected Read" {
		t.Errorf("document after the protected open: %s", out.docs[2])
	}
	if len(alert.Bansho.Alert.Events) != 1 || alert.Bansho.Alert.Events[0] != ev.Event.ID || ev.Event.ID == "" {
		t.Errorf("alert links %v, the event is %q", alert.Bansho.Alert.Events, ev.Event.ID)
	}
	for _, d := range out.docs {
		if strings.Contains(d, "123456789018") {
			t.Errorf("raw My Number in %s", d)
		}
	}
	// The live trigger is copied unmasked-again (it is the encoder's own
	// document): the alert still carries the masked path.
	if !strings.Contains(out.docs[2], `"file":{"path":"/srv/mynumber/****-****-****.csv"`) {
		t.Errorf("alert without the trigger's file: %s", out.docs[2])
	}
	if !strings.Contains(alert.Message, "read /srv/mynumber/****-****-****.csv by cat") {
		t.Errorf("message %q", alert.Message)
	}
	if p.Emitted() != 4 {
		t.Errorf("emitted %d", p.Emitted())
	}
}

type discard struct{}

func (discard) Name() string           { return "discard" }
func (discard) Write(d [][]byte) error { return nil }
func (discard) Flush() error           { return nil }
func (discard) Close() error           { return nil }

// BenchmarkWriteRules is the pipeline's write (encode every event, and
// with rules, evaluate the default pack) over batches of a server's mix:
// the difference between the two is what the rule engine costs the
// pipeline.
func BenchmarkWriteRules(b *testing.B) {
	set, err := rules.LoadFS(pack.FS, "builtin:", rules.Options{Calendar: rules.DefaultCalendar(),
		Lists: map[string][]string{"protected_data_readers": {"/opt/app"}}})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	var evs []*event.Event
	for i := 0; i < 512; i++ {
		// Groups of four events of one process: exec, open, connect, exit.
		pid := uint32(100 + (i/4)%20)
		p := event.Process{PID: pid, Comm: "app", AUID: event.NoUID, StartBoot: uint64(pid)}
		t := t0.Add(time.Duration(i) * time.Millisecond)
		switch i % 4 {
		case 0:
			evs = append(evs, &event.Event{Op: event.OpExec, Time: t, Proc: p, Exec: &event.Exec{Executable: "/opt/app", Args: []string{"app"}}})
		case 1:
			evs = append(evs, &event.Event{Op: event.OpFileOpen, Flags: event.FlagProtected, Time: t, Proc: p,
				File: &event.File{Syscall: 257, Ret: 3, Path: "/srv/mynumber/a.csv", Ino: 5, IMode: 0o100600}})
		case 2:
			evs = append(evs, &event.Event{Op: event.OpNetConnect, Time: t, Proc: p, Net: &event.Net{Syscall: 42, Protocol: 6, Family: 2}})
		case 3:
			evs = append(evs, &event.Event{Op: event.OpExit, Time: t, Proc: p, Exit: &event.Exit{}})
		}
	}
	for _, withRules := range []bool{false, true} {
		name := "encode"
		if withRules {
			name = "encode+rules"
		}
		b.Run(name, func(b *testing.B) {
			p := &Pipeline{Encoder: &ecs.Encoder{}, Exporters: []exporters.Exporter{discard{}},
				Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if withRules {
				p.Rules = rules.NewEngine(set, rules.EngineOptions{})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.write(evs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
		})
	}
}
