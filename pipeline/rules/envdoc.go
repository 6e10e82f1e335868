package rules

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// docProcs is the process table for recorded documents: what exec and
// fork documents said about each process, by entity id, so that a file
// or network document (which names only the process) gets its program,
// arguments and ancestors, as a live event does.
type docProcs struct {
	l *lru[string, docProc]
}

type docProc struct {
	name, exe, cwd string
	args           []string
	parent         string
}

func newDocProcs(max int) *docProcs { return &docProcs{l: newLRU[string, docProc](max)} }

// lookup returns the value at a dotted path of a decoded document.
func lookup(m map[string]any, path string) any {
	var cur any = m
	for {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		i := strings.IndexByte(path, '.')
		if i < 0 {
			return obj[path]
		}
		// A document may hold a dotted key ("process.name": ...) as well
		// as nested objects.
		if v, ok := obj[path]; ok {
			return v
		}
		cur = obj[path[:i]]
		path = path[i+1:]
	}
}

// fromDoc fills env from a decoded ECS document and returns its slot;
// the lineage (docLineage, liveLineage) is the caller's.
func (e *Engine) fromDoc(m map[string]any) slot {
	env := &e.env
	rv := reflect.ValueOf(env).Elem()
	for _, p := range fieldPaths {
		f := fields[p]
		v := lookup(m, p)
		if p == "timestamp" {
			v = lookup(m, "@timestamp")
		}
		if v == nil {
			continue
		}
		setField(rv.FieldByIndex(f.index), f.kind, v)
	}
	env.eventTS = env.Timestamp
	if id, ok := lookup(m, "event.id").(string); ok {
		env.id = id
	}
	if ino, ok := lookup(m, "file.inode").(string); ok && ino != "" {
		env.File.Inode = ino
	}
	if d, ok := lookup(m, "file.device").(string); ok {
		env.File.Device = d
	}
	return slotOfAction(env.Event.Action)
}

func setField(dst reflect.Value, kind reflect.Kind, v any) {
	switch kind {
	case reflect.String:
		switch x := v.(type) {
		case string:
			dst.SetString(x)
		case float64:
			dst.SetString(strconv.FormatFloat(x, 'f', -1, 64))
		case bool:
			dst.SetString(strconv.FormatBool(x))
		case []any: // event.category: one value in bansho's documents
			if len(x) > 0 {
				if s, ok := x[0].(string); ok {
					dst.SetString(s)
				}
			}
		}
	case reflect.Int:
		switch x := v.(type) {
		case float64:
			dst.SetInt(int64(x))
		case string:
			n, _ := strconv.ParseInt(x, 10, 64)
			dst.SetInt(n)
		case json.Number:
			n, _ := x.Int64()
			dst.SetInt(n)
		}
	case reflect.Bool:
		if b, ok := v.(bool); ok {
			dst.SetBool(b)
		}
	case reflect.Slice:
		var out []string
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
		case string:
			out = []string{x}
		}
		dst.Set(reflect.ValueOf(out))
	case reflect.Struct:
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				dst.Set(reflect.ValueOf(t))
			}
		}
	}
}

// liveLineage fills the ancestry of a live event read from its document
// (self-protection events): from its Enrichment, or without one from the
// engine's own table, as for the live events the builder fills.
func (e *Engine) liveLineage(ev *event.Event) {
	anc := &e.env.Bansho.Process.Ancestors
	if en := ev.Enriched; en != nil {
		anc.EntityID = en.Ancestors
		if l := en.Lineage; l != nil {
			anc.Name, anc.Executable = l.Names, l.Executables
		}
		return
	}
	if t := e.b.procs; t != nil {
		if pr := t.get(ev.Proc.PID, ev.Proc.StartBoot); pr != nil {
			anc.EntityID, anc.Name, anc.Executable = pr.ancIDs, pr.ancNames, pr.ancExes
			if pf := &e.env.Process; pf.Executable == "" {
				pf.Executable, pf.Args, pf.CommandLine, pf.ArgsCount = pr.exe, pr.args, pr.cmdline, len(pr.args)
			}
		}
	}
}

// docLineage records what documents say of their processes and fills
// what a document of a known process leaves out: its program (a document
// written without enrichment has it on the exec only), its parent and its
// ancestors (no document carries those), as the enrichment stage gives
// them to live events. The lineage is the processes that started it, also
// after it was reparented.
func (e *Engine) docLineage(env *Env) {
	p := &env.Process
	id := p.EntityID
	if id == "" {
		return
	}
	if e.docs == nil {
		e.docs = newDocProcs(e.maxProcs)
	}
	t := e.docs
	dp, created := t.l.Put(id)
	switch {
	case env.Event.Action == "exec":
		dp.name, dp.exe, dp.args, dp.cwd = p.Name, p.Executable, p.Args, p.WorkingDirectory
		if dp.parent == "" {
			dp.parent = p.Parent.EntityID
		}
	case created && env.Event.Action == "fork":
		dp.parent = p.Parent.EntityID
		if par, ok := t.l.Peek(dp.parent); ok {
			dp.name, dp.exe, dp.args, dp.cwd = par.name, par.exe, par.args, par.cwd
		}
		if dp.name == "" {
			dp.name = p.Name
		}
	case created:
		// First seen on another event (it started before the recording):
		// what its document says, which is everything when it was written
		// with enrichment.
		dp.name, dp.exe, dp.args, dp.cwd, dp.parent = p.Name, p.Executable, p.Args, p.WorkingDirectory, p.Parent.EntityID
	}
	if p.Executable == "" {
		p.Executable = dp.exe
	}
	if len(p.Args) == 0 && len(dp.args) > 0 {
		p.Args, p.ArgsCount, p.CommandLine = dp.args, len(dp.args), strings.Join(dp.args, " ")
	}
	if p.WorkingDirectory == "" {
		p.WorkingDirectory = dp.cwd
	}
	if p.Parent.EntityID == "" {
		p.Parent.EntityID = dp.parent
	}
	if pp, ok := t.l.Peek(p.Parent.EntityID); ok && p.Parent.EntityID != "" {
		if p.Parent.Name == "" {
			p.Parent.Name = pp.name
		}
		if p.Parent.Executable == "" {
			p.Parent.Executable = pp.exe
		}
		if len(p.Parent.Args) == 0 {
			p.Parent.Args, p.Parent.CommandLine = pp.args, strings.Join(pp.args, " ")
		}
	}
	anc := &env.Bansho.Process.Ancestors
	if len(anc.EntityID) > 0 {
		return
	}
	up := dp.parent
	if up == "" {
		up = p.Parent.EntityID
	}
	for i := 0; up != "" && i < MaxAncestors; i++ {
		pp, ok := t.l.Peek(up)
		anc.EntityID = append(anc.EntityID, up)
		if !ok {
			break
		}
		anc.Name = append(anc.Name, pp.name)
		anc.Executable = append(anc.Executable, pp.exe)
		up = pp.parent
	}
}
