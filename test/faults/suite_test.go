package faults

import (
	"strings"
	"testing"
	"time"
)

// The suite's own helpers: the numbers it plants are valid, and the leak
// check sees a number in a path but not inside a longer run of digits.
func TestHelpers(t *testing.T) {
	ns := MyNumbers(1, 50)
	if len(ns) != 50 {
		t.Fatalf("MyNumbers gave %d, want 50", len(ns))
	}
	if got := RawNumbers("tree/"+ns[0]+".csv", ns...); len(got) != 1 {
		t.Errorf("RawNumbers missed a number in a path: %d found", len(got))
	}
	if got := RawNumbers("9"+ns[0]+"9", ns...); len(got) != 0 {
		t.Errorf("RawNumbers matched inside a longer number")
	}
	r := Run(t, 30*time.Second, nil, nil, "version")
	Case(t, "suite", "bansho version runs", "exit 0, prints bansho", r.Stdout, r.Code == 0 && strings.HasPrefix(r.Stdout, "bansho "))
}
