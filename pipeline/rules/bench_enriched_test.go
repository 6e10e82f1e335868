package rules

import (
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/enrich"
)

// enrichedMix is the recorded mix as the live sensor hands it to the
// engine: through the enrichment stage first (its process table knows
// init and a login shell, parents of the mix's processes), each event
// with its Enrichment and its document encoded with it.
func enrichedMix(b testing.TB) (*Engine, []*event.Event, [][]byte) {
	e, evs, _ := benchEngine(b)
	st := enrich.New(enrich.Options{Host: benchHost, Proc: b.TempDir()})
	t := st.Table()
	t.Apply(&event.Event{Op: event.OpExec, Proc: event.Process{PID: 1, StartBoot: 1000, Comm: "systemd"},
		Exec: &event.Exec{Executable: "/usr/lib/systemd/systemd", Args: []string{"/sbin/init"}, Cwd: "/"}})
	for i, ev := range evs {
		if ev.Op == event.OpFork {
			// The mix's fork is of the application itself (the engine's
			// own table ignores it; the stage's would give the process its
			// parent's program): here it is a child of the application.
			c := *ev
			c.Proc.PPID, c.Proc.ParentStartBoot = ev.Proc.PID, ev.Proc.StartBoot
			c.Proc.PID, c.Proc.TID, c.Proc.StartBoot = ev.Proc.PID+10_000, ev.Proc.PID+10_000, ev.Proc.StartBoot+1
			ev = &c
			evs[i] = ev
		}
		if !st.Enrich(ev) {
			st.Finish(ev) // no hold here: what is known now
		}
	}
	enc := &ecs.Encoder{Host: benchHost}
	docs := make([][]byte, len(evs))
	for i, ev := range evs {
		docs[i] = enc.Append(nil, ev)
	}
	return e, evs, docs
}

// BenchmarkEvalEnriched is BenchmarkEvalDefaultPack on enriched events,
// the live sensor's case (enrichment is on by default): the engine takes
// the process, parent and ancestry from each event's Enrichment.
func BenchmarkEvalEnriched(b *testing.B) {
	e, evs, docs := enrichedMix(b)
	evalLoop(b, e, evs, docs)
}
