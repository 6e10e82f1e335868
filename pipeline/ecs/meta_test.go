package ecs

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/dockey"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/store"
)

// sameMeta fails unless the encoder's metadata is what the store parses
// from the document.
func sameMeta(t *testing.T, name string, got dockey.Meta, doc []byte) {
	t.Helper()
	want := store.Meta(doc)
	g, w := slices.Clone(got.Keys), slices.Clone(want.Keys)
	slices.Sort(g)
	slices.Sort(w)
	if got.Time != want.Time || got.Kind != want.Kind || !slices.Equal(g, w) {
		t.Errorf("%s: encoder's metadata time %d kind %q keys %x, the store parses time %d kind %q keys %x",
			name, got.Time, got.Kind, g, want.Time, want.Kind, w)
	}
}

// Every golden document: AppendMeta writes the same bytes as Append, and
// what it notes is what the store would have parsed.
func TestAppendMetaIsWhatTheStoreParses(t *testing.T) {
	valid := 0
	for _, c := range goldenCases() {
		if c.ev.Op == event.OpAlert {
			continue
		}
		var m dockey.Meta
		doc := c.encoder().AppendMeta(nil, c.ev, &m)
		if plain := c.encoder().Append(nil, c.ev); !bytes.Equal(doc, plain) {
			t.Errorf("%s: AppendMeta wrote another document than Append", c.name)
		}
		if !m.Valid {
			t.Logf("%s: left to the store to parse", c.name)
			continue
		}
		valid++
		sameMeta(t, c.name, m, doc)
	}
	if cases := len(goldenCases()); valid < cases-2 {
		t.Errorf("only %d of %d documents had the encoder's metadata", valid, cases)
	}
}

// An alert's metadata is its trigger's, as the pipeline builds it.
func TestAlertMetaIsWhatTheStoreParses(t *testing.T) {
	e := goldenCase{names: true}.encoder()
	p := proc()
	w := fileEv(event.OpFileWrite, event.FlagTainted, p, &event.File{Syscall: 1, Ret: 512, FD: 4, Count: 512,
		Path: "/home/tanaka/out/" + myNumber + ".csv", TargetPath: "/mnt/usb/x.csv", Ino: 7, IMode: 0o100600})
	var tm dockey.Meta
	trigger := e.AppendMeta(nil, w, &tm)
	if !tm.Valid || len(tm.Keys) < 6 {
		t.Fatalf("trigger metadata %+v", tm)
	}
	sameMeta(t, "trigger", tm, trigger)
	a := alertEv(p, func(f event.File) *event.File { return &f })
	a.Alert.Trigger, a.Alert.TriggerMasked = trigger, true
	am := dockey.Meta{Keys: make([]uint64, 0, 4)}
	doc := e.AppendMeta(nil, a, &am)
	if am.Valid {
		t.Errorf("AppendMeta of an alert claims keys of its own")
	}
	AlertMeta(&am, &tm)
	sameMeta(t, "alert", am, doc)
	am.Keys[0]++ // the alert's keys are its own copy
	if tm.Keys[0] == am.Keys[0] {
		t.Errorf("AlertMeta shares the trigger's key array")
	}
}

// What the encoder must escape, and times UnixNano cannot hold, are left
// to the store; the document is the same.
func TestAppendMetaLeavesTheHardCasesToTheStore(t *testing.T) {
	p := proc()
	for name, ev := range map[string]*event.Event{
		"quote in a path":   fileEv(event.OpFileOpen, 0, p, &event.File{Syscall: 257, Path: `/tmp/a"b`}),
		"control character": fileEv(event.OpFileOpen, 0, p, &event.File{Syscall: 257, Path: "/tmp/a\nb"}),
		"invalid UTF-8":     fileEv(event.OpFileOpen, 0, p, &event.File{Syscall: 257, Path: "/tmp/a\xffb"}),
		"year 1":            {Op: event.OpFileOpen, Time: time.Time{}, Proc: p, File: &event.File{Syscall: 257, Path: "/tmp/x"}},
	} {
		m := dockey.Meta{Valid: true}
		doc := testEncoder().AppendMeta(nil, ev, &m)
		if m.Valid {
			t.Errorf("%s: the encoder claims the keys (%x)", name, m.Keys)
		}
		if !bytes.Equal(doc, testEncoder().Append(nil, ev)) {
			t.Errorf("%s: another document than Append's", name)
		}
	}
	// A path with a UTF-8 name the encoder writes as it is: its own keys.
	ev := fileEv(event.OpFileOpen, 0, p, &event.File{Syscall: 257, Path: "/srv/給与/社員名簿.csv"})
	var m dockey.Meta
	doc := testEncoder().AppendMeta(nil, ev, &m)
	if !m.Valid {
		t.Fatalf("UTF-8 path left to the store")
	}
	sameMeta(t, "UTF-8 path", m, doc)
}
