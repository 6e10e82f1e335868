package timeline

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/store"
)

// Lines that are not documents are counted and named by line number, in
// the text output too; a line past the document limit is one of them,
// not the end of the timeline.
func TestBadLinesAreNamed(t *testing.T) {
	doc := `{"@timestamp":"2026-11-22T00:00:00Z","event":{"kind":"event","action":"exec","category":["process"]},"process":{"entity_id":"p1","pid":10,"name":"sh"}}`
	in := strings.Join([]string{
		doc,
		`{"@timestamp":"2026-11-22T00:00:01Z",`, // cut short
		"",
		`{"a":"` + strings.Repeat("x", store.MaxDocument) + `"}`,
		"\xff\xfe not json",
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		doc[:40],
	}, "\n")
	tl, err := FromJSONLines(strings.NewReader(in), Filter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, b := range tl.BadLines {
		lines = append(lines, b.Line)
	}
	if tl.ParseErrors != 5 || len(lines) != 5 || lines[0] != 2 || lines[1] != 4 || lines[2] != 5 || lines[3] != 6 || lines[4] != 7 || tl.Docs != 1 {
		t.Fatalf("parse errors %d at lines %v, %d documents", tl.ParseErrors, lines, tl.Docs)
	}
	if !strings.Contains(tl.BadLines[1].Reason, "longer than") || !strings.Contains(tl.BadLines[4].Reason, "cut short") {
		t.Errorf("reasons: %+v", tl.BadLines)
	}
	var b bytes.Buffer
	tl.WriteText(&b, time.UTC)
	if !strings.Contains(b.String(), "5 input lines are not documents and were skipped: lines 2, 4, 5, 6, 7") {
		t.Errorf("text output does not name the lines:\n%s", b.String())
	}
}
