package rules

import (
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// bansho.compat is a condition field: a rule on 32-bit system calls fires
// on a live event the kernel marked, and on the recorded document of one,
// and on neither for a 64-bit call.
func TestCompatField(t *testing.T) {
	set := compileOne(t, `
- rule: Protected File Opened by a 32-bit Program
  desc: d.
  condition: event.action == "open" and bansho.compat
  output: o
  priority: warning
`, Options{})
	e := NewEngine(set, EngineOptions{})
	live := func(compat bool) int {
		ev := &event.Event{Op: event.OpFileOpen, Time: time.Now(), Compat: compat,
			Proc: event.Process{PID: 4242, StartBoot: 1, Comm: "legacy32"},
			File: &event.File{Syscall: 5, Path: "/srv/mynumber/roster.csv"}}
		return len(e.Eval(ev, []byte(`{"event":{"id":"a"},"bansho":{}}`)))
	}
	if live(true) != 1 || live(false) != 0 {
		t.Errorf("live: %d alerts for a 32-bit open, %d for a 64-bit one; want 1 and 0", live(true), live(false))
	}
	doc := func(compat string) int {
		alerts, err := e.EvalDoc([]byte(`{"@timestamp":"2026-12-01T10:00:00Z","event":{"id":"b","kind":"event","category":["file"],"action":"open"},` +
			`"process":{"pid":4243,"entity_id":"p1","name":"legacy32"},"file":{"path":"/srv/mynumber/roster.csv"},"bansho":{` + compat + `}}`))
		if err != nil {
			t.Fatal(err)
		}
		return len(alerts)
	}
	if doc(`"compat":true`) != 1 || doc(``) != 0 {
		t.Errorf("documents: %d alerts with bansho.compat true, %d without; want 1 and 0", doc(`"compat":true`), doc(``))
	}
}
