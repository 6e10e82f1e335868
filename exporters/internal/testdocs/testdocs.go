// Package testdocs makes realistic ECS documents for exporter tests and
// benchmarks: encoded by the real encoder from kernel-like events, so sizes
// and field layout are those the sensor ships.
package testdocs

import (
	"bytes"
	"fmt"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// Doc is one document with the kind the store would give it.
type Doc struct {
	Kind string // event, alert, metric
	Body []byte
	ID   string // event.id
}

// Docs encodes n documents of host: mostly file opens and writes and
// execs; every 97th is a health document (event.kind metric) and every
// 50th is turned into an alert (event.kind alert), so topic and index
// routing are exercised. Each has its own event.id.
func Docs(host string, n int) []Doc {
	enc := &ecs.Encoder{Host: ecs.Host{Name: host, Hostname: host, ID: "0123456789abcdef0123456789abcdef",
		BootID: "e57fd618-8f21-4c1d-9d3e-2a6f0b7c8d9e", OSType: "linux", OSKernel: "6.18.0", Arch: "x86_64"},
		Version: "test"}
	t0 := time.Now().Add(-time.Hour).UTC()
	out := make([]Doc, 0, n)
	for i := 0; i < n; i++ {
		p := event.Process{PID: uint32(1000 + i%5000), TID: uint32(1000 + i%5000), PPID: 1, UID: 1000, GID: 1000,
			AUID: 1000, SessionID: 3, SID: 900, PGID: 900, Start: t0, StartBoot: 1_000_000, MntNS: 4026531841,
			PidNS: 4026531836, Comm: "cat"}
		t := t0.Add(time.Duration(i) * time.Millisecond)
		var ev *event.Event
		switch {
		case i%97 == 96:
			ev = &event.Event{Op: event.OpHealth, Time: t, Proc: p, Health: &event.Health{Received: uint64(i), Emitted: uint64(i),
				Drops: map[string]uint64{"ringbuf_full": 0}, Uptime: time.Duration(i) * time.Second}}
		case i%3 == 0:
			ev = &event.Event{Op: event.OpExec, Time: t, Proc: p, Exec: &event.Exec{Filename: "/usr/bin/cat",
				Executable: "/usr/bin/cat", Cwd: "/home/tanaka", Args: []string{"cat", fmt.Sprintf("/srv/mynumber/roster-%d.csv", i)}, Argc: 2}}
		default:
			ev = &event.Event{Op: event.OpFileWrite, Flags: event.FlagTainted, Time: t, Proc: p, File: &event.File{Syscall: 1,
				Ret: 4096, FD: 5, Count: 4096, Path: fmt.Sprintf("/tmp/copy-%d.csv", i), Ino: uint64(1000 + i), Mode: 0o100640}}
		}
		b := enc.Append(nil, ev)
		kind := "event"
		if ev.Op == event.OpHealth {
			kind = "metric"
		} else if i%50 == 49 {
			b = bytes.Replace(b, []byte(`"kind":"event"`), []byte(`"kind":"alert"`), 1)
			kind = "alert"
		}
		out = append(out, Doc{Kind: kind, Body: b, ID: EventID(b)})
	}
	return out
}

// EventID is the event.id of an encoded document.
func EventID(doc []byte) string {
	const k = `"event":{"id":"`
	i := bytes.Index(doc, []byte(k))
	if i < 0 {
		return ""
	}
	v := doc[i+len(k):]
	return string(v[:bytes.IndexByte(v, '"')])
}
