package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A condition that fails at run time (a regular expression taken from the
// event) is counted and named with its rule, for replay to report; the
// other rules still run.
func TestEvalErrorsNameTheRule(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(`- rule: Name As Pattern
  desc: d.
  condition: process.executable matches process.name
  output: o
  priority: notice
- rule: Any Exec
  desc: d.
  condition: event.action == "exec"
  output: o
  priority: notice
`), 0o644)
	set, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]int{}
	var msg string
	e := NewEngine(set, EngineOptions{OnError: func(rule string, err error) { failed[rule]++; msg = err.Error() }})
	doc := []byte(`{"@timestamp":"2026-11-22T00:00:00Z","event":{"kind":"event","action":"exec","category":["process"]},"process":{"executable":"/bin/sh","pid":3,"name":"(["}}`)
	alerts, err := e.EvalDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].Alert.RuleName != "Any Exec" {
		t.Errorf("alerts %d, want the other rule's", len(alerts))
	}
	if failed["Name As Pattern"] != 1 || len(failed) != 1 || !strings.Contains(msg, "missing closing") || e.Errors() != 1 {
		t.Errorf("failures %v (%s), engine errors %d", failed, msg, e.Errors())
	}
}
