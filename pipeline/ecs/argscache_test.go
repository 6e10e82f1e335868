package ecs

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

// seqRE is the document's place in the run, which differs between
// encoders; the tests compare everything else.
var seqRE = regexp.MustCompile(`"id":"[^"]*","sequence":\d+`)

func sameDoc(a, b []byte) bool {
	return bytes.Equal(seqRE.ReplaceAll(a, nil), seqRE.ReplaceAll(b, nil))
}

// The cached argument lists of the process table give the same documents
// as encoding them afresh, masked alike, and a new list (an exec) is
// encoded anew even where the old one was cached.
func TestArgsCacheSameDocuments(t *testing.T) {
	ev := enrichedWrite()
	script := []string{"sh", "-c", "i=0; while [ $i -lt 10000 ]; do echo \"$i\" > out; cat 123456789018.csv; done"}
	ev.Enriched.Parent.Args = script
	fresh := func() []byte { return testEncoder().Append(nil, ev) }
	e := testEncoder()
	first := e.Append(nil, ev)
	second := e.Append(nil, ev) // from the cache
	if want := fresh(); !sameDoc(first, want) || !sameDoc(second, want) {
		t.Fatalf("cached document differs:\n%s\n%s", second, want)
	}
	if strings.Contains(string(second), "123456789018") || !strings.Contains(string(second), `"redacted":true`) {
		t.Fatalf("the cached command line is not masked: %s", second)
	}
	// The parent execs: a new list, the same length, in a new snapshot
	// from the table (a published one is never changed).
	np := *ev.Enriched.Parent
	np.Args = []string{"sh", "-c", "exec python3 report.py --all --year 2026 --out /tmp/x"}
	ev.Enriched.Parent = &np
	if got, want := e.Append(nil, ev), fresh(); !sameDoc(got, want) {
		t.Fatalf("a new list got the old fragment:\n%s\n%s", got, want)
	}
	// A document without a number after one with: not marked redacted.
	clean := enrichedWrite()
	if got, want := e.Append(nil, clean), testEncoder().Append(nil, clean); !sameDoc(got, want) {
		t.Fatalf("redaction leaked into the next document:\n%s\n%s", got, want)
	}
}

// The cache stays bounded.
func TestArgsCacheBounded(t *testing.T) {
	e := testEncoder()
	ev := enrichedWrite()
	for i := 0; i < 3*maxArgsCache; i++ {
		ev.Enriched.Parent = &event.ProcInfo{PID: uint32(i + 2), Name: "sh", Args: []string{"sh", "-c", "true"}}
		e.Append(nil, ev)
	}
	if n := len(e.argsCache.m); n > maxArgsCache {
		t.Fatalf("%d cached lists, bound %d", n, maxArgsCache)
	}
}
