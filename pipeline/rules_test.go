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
	if !strings.Contains(alert.Message, "read /srv/mynumber/****-****-****.csv by cat") {
		t.Errorf("message %q", alert.Message)
	}
	if p.Emitted() != 4 {
		t.Errorf("emitted %d", p.Emitted())
	}
}
