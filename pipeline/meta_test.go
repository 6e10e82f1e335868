package pipeline

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/internal/dockey"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/rules"
	pack "github.com/bansho-sec/bansho/rules"
)

// metaExporter keeps the documents and the metadata the pipeline hands a
// MetaWriter (the store).
type metaExporter struct {
	memExporter
	meta []dockey.Meta
}

func (m *metaExporter) WriteMeta(d [][]byte, meta []dockey.Meta) error {
	if len(meta) != len(d) {
		panic("metadata not as long as the documents")
	}
	for _, x := range meta {
		x.Keys = slices.Clone(x.Keys) // the pipeline reuses its arrays
		m.meta = append(m.meta, x)
	}
	return m.Write(d)
}

// Across batches of a server's mix with the default rules (alerts among
// them), every document's metadata is what the store would parse from it,
// and the store is spared the parse for nearly all of them.
func TestPipelineMetaIsWhatTheStoreParses(t *testing.T) {
	set, err := rules.LoadFS(pack.FS, "builtin:", rules.Options{Calendar: rules.DefaultCalendar(),
		Lists: map[string][]string{"protected_data_readers": {"/opt/app"}}})
	if err != nil {
		t.Fatal(err)
	}
	out := &metaExporter{}
	p := &Pipeline{Encoder: &ecs.Encoder{}, Exporters: []exporters.Exporter{out},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Rules: rules.NewEngine(set, rules.EngineOptions{})}
	t0 := time.Now()
	sh := &event.ProcInfo{EntityID: "c2gtZW50aXR5", PID: 90, Name: "bash", Executable: "/usr/bin/bash", Args: []string{"-bash"}, UserName: "tanaka", UID: 1000}
	for batch := 0; batch < 4; batch++ {
		var evs []*event.Event
		for i := 0; i < 64; i++ {
			pid := uint32(100 + i%8)
			pr := event.Process{PID: pid, TID: pid, PPID: 90, Comm: "cp", AUID: 1000, EUID: 1000, UID: 1000, SID: 90, PGID: pid,
				StartBoot: uint64(pid), ParentStartBoot: 9}
			ts := t0.Add(time.Duration(batch*64+i) * time.Millisecond)
			var en *event.Enrichment
			if i%2 == 0 {
				en = &event.Enrichment{Parent: sh, SessionLeader: sh, EntryLeader: sh, LoginUserName: "tanaka", UserName: "tanaka",
					Process: &event.ProcInfo{PID: pid, Name: "cp", Executable: "/usr/bin/cp", Args: []string{"cp", "a", "b"}}}
			}
			var ev *event.Event
			switch i % 4 {
			case 0:
				ev = &event.Event{Op: event.OpExec, Proc: pr, Exec: &event.Exec{Executable: "/usr/bin/cp", Args: []string{"cp", "/srv/mynumber/a.csv", "/tmp/x"}}}
			case 1:
				ev = &event.Event{Op: event.OpFileOpen, Flags: event.FlagProtected, Proc: pr,
					File: &event.File{Syscall: 257, Ret: 3, Path: "/srv/mynumber/社員名簿.csv", Ino: 5, IMode: 0o100600}}
			case 2:
				ev = &event.Event{Op: event.OpFileWrite, Flags: event.FlagTainted, Proc: pr,
					File:    &event.File{Syscall: 1, Ret: 512, Count: 512, Path: "/tmp/out/export.csv", Ino: 6, IMode: 0o100600},
					Content: &event.Content{MyNumber: event.Finding{Distinct: 3, Occurrences: 3, Confidence: "high"}, SampledBytes: 512}}
			case 3:
				ev = &event.Event{Op: event.OpNetConnect, Proc: pr, Net: &event.Net{Syscall: 42, Protocol: 6, Family: 2}}
			}
			ev.Time, ev.Enriched = ts, en
			evs = append(evs, ev)
		}
		p.write(evs)
	}
	alerts, valid := 0, 0
	for i, d := range out.docs {
		m := out.meta[i]
		want := store.Meta([]byte(d))
		if want.Kind == "alert" {
			alerts++
		}
		if !m.Valid {
			continue
		}
		valid++
		g, w := slices.Clone(m.Keys), slices.Clone(want.Keys)
		slices.Sort(g)
		slices.Sort(w)
		if m.Time != want.Time || m.Kind != want.Kind || !slices.Equal(g, w) {
			t.Fatalf("document %d: pipeline metadata %d %q %x, the store parses %d %q %x\n%s", i, m.Time, m.Kind, g, want.Time, want.Kind, w, d)
		}
	}
	t.Logf("%d documents, %d alerts, %d with the encoder's metadata", len(out.docs), alerts, valid)
	if alerts == 0 || valid < len(out.docs)*9/10 {
		t.Errorf("%d documents, %d alerts, %d with the encoder's metadata", len(out.docs), alerts, valid)
	}
}
