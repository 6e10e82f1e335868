package rules

import "strings"

// procTable is the engine's bounded view of processes for live events
// without an Enrichment (the sensor with enrich.enabled false): what exec
// and fork events said about each, so that a later event of a process
// (the kernel sends only pid, credentials and comm with it) carries its
// executable, arguments and ancestry, and so that sequences can follow a
// process's descendants. With enrichment on, the stage's table
// (pipeline/proctree) is the only one.
//
// Entries are keyed by pid and checked against the process start time, so
// a reused pid is a new process. The parent link is the process that forked
// it (kept even after that parent exits), so a double fork does not hide
// who started a process. Exited processes are the first to be forgotten.
// Processes that started before the sensor are known from their first
// event on, without their program (the table does not read /proc).
type procTable struct {
	l        *lru[uint32, *proc]
	entityID func(pid uint32, start uint64) string // process.entity_id
}

// proc is what is known of one process.
type proc struct {
	pid, ppid     uint32
	start, pstart uint64 // boot-time ns
	exited        bool

	entityID, parentEntityID string
	name, exe, cwd, cmdline  string
	args                     []string
	argc                     int
	// Ancestors' entity ids, names and executables, nearest first, as
	// they were when this process was created or first seen.
	ancNames, ancExes, ancIDs []string
}

// procRef identifies the acting process of an event and its parent.
type procRef struct {
	pid, ppid     uint32
	start, pstart uint64
	name          string // comm
}

func newProcTable(max int, entityID func(uint32, uint64) string) *procTable {
	return &procTable{l: newLRU[uint32, *proc](max), entityID: entityID}
}

// get returns the process pid started at start, if known.
func (t *procTable) get(pid uint32, start uint64) *proc {
	pp, ok := t.l.Get(pid)
	if !ok || (*pp).start != start {
		return nil
	}
	return *pp
}

// lookup is get that also accepts an unknown start (0).
func (t *procTable) lookup(pid uint32, start uint64) *proc {
	if start == 0 {
		if pp, ok := t.l.Get(pid); ok {
			return *pp
		}
		return nil
	}
	return t.get(pid, start)
}

// ensure returns the entry for r's process, creating it (linked to its
// parent, with the parent's program as its own until an exec says
// otherwise) when it is new.
func (t *procTable) ensure(r *procRef) *proc {
	if p := t.get(r.pid, r.start); p != nil {
		if p.entityID == "" {
			p.entityID = t.id(r.pid, r.start)
		}
		return p
	}
	p := &proc{pid: r.pid, start: r.start, ppid: r.ppid, pstart: r.pstart, name: r.name}
	p.entityID = t.id(r.pid, r.start)
	p.parentEntityID = t.id(r.ppid, r.pstart)
	if parent := t.lookup(r.ppid, r.pstart); parent != nil && r.ppid != r.pid {
		p.exe, p.args, p.argc, p.cmdline, p.cwd = parent.exe, parent.args, parent.argc, parent.cmdline, parent.cwd
		p.ancNames = prepend(parent.name, parent.ancNames)
		p.ancExes = prepend(parent.exe, parent.ancExes)
		p.ancIDs = prepend(parent.entityID, parent.ancIDs)
	}
	slot, _ := t.l.Put(r.pid)
	*slot = p
	return p
}

func (t *procTable) id(pid uint32, start uint64) string {
	if t.entityID == nil || pid == 0 {
		return ""
	}
	return t.entityID(pid, start)
}

// exec records a new program for r's process.
func (t *procTable) exec(r *procRef, exe string, args []string, cwd string) *proc {
	p := t.ensure(r)
	p.name, p.exe, p.args, p.argc, p.cwd = r.name, exe, args, len(args), cwd
	p.cmdline = strings.Join(args, " ")
	return p
}

// exit marks r's process ended: it stays (its children still name it as
// their ancestor) but is the first to be forgotten.
func (t *procTable) exit(r *procRef) {
	if p := t.get(r.pid, r.start); p != nil {
		p.exited = true
		t.l.ToBack(r.pid)
	}
}

// prepend returns [first] + rest, at most MaxAncestors long; rest is not
// modified (it is shared with the parent).
func prepend(first string, rest []string) []string {
	n := min(len(rest)+1, MaxAncestors)
	out := make([]string, n)
	out[0] = first
	copy(out[1:], rest)
	return out
}
