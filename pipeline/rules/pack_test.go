package rules

import (
	"bytes"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

const (
	packDir  = "../../rules"
	testsDir = "../../rules/tests"
	myNumber = "123456789018" // valid check digit: must never reach an output
)

// Every default rule fires on its fixture and not on its near miss, and
// the fixtures account for every alert.
func TestDefaultPack(t *testing.T) {
	cases, err := LoadTests(testsDir)
	if err != nil {
		t.Fatal(err)
	}
	results, set, err := RunTests(packDir, cases, Options{Calendar: DefaultCalendar()})
	if err != nil {
		t.Fatal(err)
	}
	enc := &ecs.Encoder{Version: "test"}
	for _, r := range results {
		t.Run(r.Case.Name, func(t *testing.T) {
			if r.Failure != "" {
				t.Errorf("%s: %s", r.Case.Pos, r.Failure)
			}
			for _, a := range r.Alerts {
				doc := enc.Append(nil, &event.Event{Op: event.OpAlert, Alert: a})
				if bytes.Contains(doc, []byte(myNumber)) {
					t.Errorf("alert of %q holds a raw My Number", a.RuleName)
				}
			}
		})
	}
	noFire, noMiss := Coverage(set, cases)
	if len(noFire) > 0 {
		t.Errorf("rules without a firing fixture: %q", noFire)
	}
	if len(noMiss) > 0 {
		t.Errorf("rules without a near-miss fixture: %q", noMiss)
	}
	if set.Enabled() < 10 {
		t.Errorf("only %d rules enabled", set.Enabled())
	}
}
