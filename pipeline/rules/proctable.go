package rules

import "strings"

// procTable is the engine's bounded view of processes: what exec and fork
// events said about each, so that a later event of a process (the kernel
// sends only pid, credentials and comm with it) carries its executable,
// arguments and ancestry, and so that sequences can follow a process's
// descendants.
//
// Entries are keyed by pid and checked against the process start time, so
// a reused pid is a new process. The parent link is the process that forked
// it (kept even after that parent exits), so a double fork does not hide
// who started a process. Exited processes are the first to be forgotten.
type procTable struct {
	l *lru[uint32, *proc]
	// entityID computes process.entity_id for live events; nil when the
	// ids come with the input (ECS documents).
	entityID func(pid uint32, start uint64) string
}

// proc is what is known of one process.
type proc struct {
	pid, ppid     uint32
	start, pstart uint64 // boot-time ns (live) or a hash of the entity id (documents)
	approx        bool   // start read from /proc in clock ticks: matches within a tick
	exited        bool

	entityID, parentEntityID string
	name, exe, cwd, cmdline  string
	args                     []string
	argc                     int
	// Ancestors' names and executables, nearest first, as they were when
	// this process was created or first seen.
	ancNames, ancExes, ancIDs []string
}

// procRef identifies the acting process of an event and its parent.
type procRef struct {
	pid, ppid      uint32
	start, pstart  uint64
	name           string // comm
	entityID       string // set for documents; computed for live events
	parentEntityID string
}

// tick is the granularity of /proc start times (USER_HZ = 100).
const tick = 10_000_000

func newProcTable(max int, entityID func(uint32, uint64) string) *procTable {
	return &procTable{l: newLRU[uint32, *proc](max), entityID: entityID}
}

func (p *proc) matches(start uint64) bool {
	if p.start == start {
		return true
	}
	if !p.approx {
		return false
	}
	d := int64(p.start) - int64(start)
	return d < 2*tick && d > -2*tick
}

// get returns the process pid started at start, if known.
func (t *procTable) get(pid uint32, start uint64) *proc {
	pp, ok := t.l.Get(pid)
	if !ok || !(*pp).matches(start) {
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
		if p.approx && r.start != 0 && p.start != r.start {
			// The first event of a process seeded from /proc: take the
			// exact start time.
			p.start, p.approx = r.start, false
			p.entityID = ""
		}
		if p.entityID == "" {
			p.entityID = t.id(r.entityID, r.pid, r.start)
		}
		return p
	}
	p := &proc{pid: r.pid, start: r.start, ppid: r.ppid, pstart: r.pstart, name: r.name}
	p.entityID = t.id(r.entityID, r.pid, r.start)
	p.parentEntityID = t.id(r.parentEntityID, r.ppid, r.pstart)
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

func (t *procTable) id(given string, pid uint32, start uint64) string {
	if given != "" || t.entityID == nil || pid == 0 {
		return given
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

// seed adds a process found at start-up (from /proc), in order of start
// time so that each parent precedes its children.
func (t *procTable) seed(pid, ppid uint32, startTicks uint64, name, exe string, args []string, cwd string) {
	r := &procRef{pid: pid, ppid: ppid, start: startTicks * tick, name: name}
	if parent := t.lookup(ppid, 0); parent != nil {
		r.pstart = parent.start
	}
	p := t.ensure(r)
	p.approx = true
	p.entityID = "" // computed once the exact start time is known
	p.name, p.exe, p.args, p.argc, p.cwd = name, exe, args, len(args), cwd
	p.cmdline = strings.Join(args, " ")
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
