package ecs

import (
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

// bansho.compat marks what a 32-bit (ia32) syscall did, and only that.
func TestCompatField(t *testing.T) {
	enc := testEncoder()
	open := func(compat bool) *event.Event {
		return &event.Event{Op: event.OpFileOpen, Flags: event.FlagProtected, Compat: compat, Time: t0, Proc: proc(),
			File: &event.File{Syscall: 2, Ret: 3, FD: 3, Path: "/srv/mynumber/roster.csv"}}
	}
	doc := checkDocument(t, enc.Append(nil, open(true)))
	if got := lookup(doc, "bansho.compat"); got != true {
		t.Errorf("32-bit open: bansho.compat = %v, want true", got)
	}
	if got := lookup(doc, "bansho.file.syscall"); got != "open" {
		t.Errorf("32-bit open: bansho.file.syscall = %v, want the native name open", got)
	}
	doc = checkDocument(t, enc.Append(nil, open(false)))
	if got := lookup(doc, "bansho.compat"); got != nil {
		t.Errorf("64-bit open: bansho.compat = %v, want absent", got)
	}
}
