package ecs

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

// A trigger the encoder wrote gives the same alert whether it is copied
// as it is (the live pipeline) or masked again (replay): the encoder's
// own documents never hold a number to mask.
func TestAlertTrustedTriggerSameDocument(t *testing.T) {
	e := goldenCase{names: true}.encoder()
	a := alertEv(proc(), func(f event.File) *event.File { return &f })
	replayed := string(e.Append(nil, a))
	a.Alert.TriggerMasked = true
	live := string(e.Append(nil, a))
	// event.id, sequence and created differ from one document to the next.
	norm := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("invalid alert: %v\n%s", err, s)
		}
		ev := m["event"].(map[string]any)
		delete(ev, "id")
		delete(ev, "sequence")
		delete(ev, "created")
		return m
	}
	a1, _ := json.Marshal(norm(replayed))
	a2, _ := json.Marshal(norm(live))
	if string(a1) != string(a2) {
		t.Errorf("live alert differs from the replayed one:\n%s\n%s", a2, a1)
	}
	if strings.Contains(live, myNumber) || !strings.Contains(live, `"redacted":true`) {
		t.Errorf("the trigger's mask or its redacted flag is lost:\n%s", live)
	}
}

// A replayed trigger is masked again; one that is not JSON, or not an
// object, gives an alert from the rule alone, still valid.
func TestAlertUntrustedTrigger(t *testing.T) {
	e := testEncoder()
	for name, trig := range map[string]string{
		"raw number": `{"@timestamp":"2026-04-01T09:00:00Z","event":{"category":["file"],"type":["change"],"action":"write"},` +
			`"file":{"path":"/tmp/` + myNumber + `.csv"},"bansho":{"x":1}}`,
		"cut":       `{"@timestamp":"2026-04-01T09:00:00Z","file":{"path":"/tmp/a`,
		"array":     `["file"]`,
		"not json":  `file=/tmp/a`,
		"empty obj": `{}`,
	} {
		a := &event.Event{Op: event.OpAlert, Time: t0, Alert: &event.Alert{RuleID: "r", RuleName: "R", Severity: 21,
			Message: "m", Events: []string{"x"}, Trigger: []byte(trig)}}
		doc := e.Append(nil, a)
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("%s: invalid alert: %v\n%s", name, err, doc)
		}
		if strings.Contains(string(doc), myNumber) {
			t.Errorf("%s: a raw number in the alert", name)
		}
		cat := m["event"].(map[string]any)["category"].([]any)
		rule := m["rule"].(map[string]any)["id"]
		_, hasHost := m["host"]
		switch name {
		case "raw number":
			f := m["file"].(map[string]any)["path"].(string)
			if cat[0] != "file" || m["@timestamp"] != "2026-04-01T09:00:00.000000000Z" || !strings.HasPrefix(f, "/tmp/") ||
				m["bansho"].(map[string]any)["redacted"] != true || m["bansho"].(map[string]any)["x"] != 1.0 {
				t.Errorf("%s: %s", name, doc)
			}
		default:
			if cat[0] != "host" || rule != "r" || !hasHost || m["file"] != nil {
				t.Errorf("%s: %s", name, doc)
			}
		}
	}
}
