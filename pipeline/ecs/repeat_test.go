package ecs

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// A summary of folded writes says how many, when and how many bytes; a
// document without Repeat has no bansho.repeat at all.
func TestRepeatFields(t *testing.T) {
	f := &event.File{Syscall: 1, Ret: 2, FD: 1, Count: 2, Pos: -1, Path: "/srv/mynumber/app.log", Dev: 8 << 20, Ino: 12}
	ev := fileEv(event.OpFileWrite, event.FlagProtected, proc(), f)
	enc := &Encoder{Host: testHost, Version: "test"}
	plain := checkDocument(t, enc.Append(nil, ev))
	if _, ok := plain["bansho"].(map[string]any)["repeat"]; ok {
		t.Errorf("bansho.repeat on a document that is no summary")
	}

	first := t0.Add(100 * time.Millisecond)
	ev.Repeat = &event.Repeat{Count: 49, First: first, Last: first.Add(800 * time.Millisecond), Bytes: 98}
	doc := checkDocument(t, enc.Append(nil, ev))
	raw, _ := json.Marshal(doc["bansho"].(map[string]any)["repeat"])
	want := `{"bytes":98,"count":49,"first":"` + first.Format("2006-01-02T15:04:05.000000000Z07:00") + `","last":"` + first.Add(800*time.Millisecond).Format("2006-01-02T15:04:05.000000000Z07:00") + `"}`
	if string(raw) != want {
		t.Errorf("bansho.repeat = %s\nwant %s", raw, want)
	}
}
