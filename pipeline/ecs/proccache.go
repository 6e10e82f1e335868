package ecs

import (
	"sync"

	"github.com/bansho-sec/bansho/internal/event"
)

// The processes of the tree (parent, session, group and entry leaders)
// are written in full into every document of their descendants, and were
// most of the encoder's work: the same strings escaped and scanned for My
// Numbers again and again. The process table never changes a
// *event.ProcInfo once it handed it out (a change, an exec or an exact
// start time, makes a new one: see proctree), so the encoded members are
// kept per pointer. The map's key keeps its snapshot alive: its address
// cannot be reused for another one while it is cached.

// maxProcCache bounds the cache; past it, it starts over.
const maxProcCache = 1024

type procFrag struct {
	b        []byte // the members of a procInfo section, without braces
	redacted bool   // a string of b had a My Number masked
	// b[prog[0]:prog[1]] is executable .. args_count with its leading
	// comma, what process.* takes of its own snapshot; progRedacted is
	// redacted for that part alone.
	prog         [2]int
	progRedacted bool
}

type procCache struct {
	mu sync.Mutex
	m  map[*event.ProcInfo]*procFrag // nil: seen once, by ownProgram
}

// put stores f for pi; the caller holds mu.
func (c *procCache) put(pi *event.ProcInfo, f *procFrag) {
	if c.m == nil || len(c.m) >= maxProcCache {
		c.m = make(map[*event.ProcInfo]*procFrag, 256)
	}
	c.m[pi] = f
}

// ownProgram writes process.executable .. args_count of the acting
// process from its snapshot pi (not Unknown). The first time only marks
// pi: in a fork storm most processes are seen once, and encoding them
// directly allocates nothing; from the second time, the cache.
func (e *Encoder) ownProgram(o *obj, pi *event.ProcInfo) {
	c := &e.procCache
	c.mu.Lock()
	f, seen := c.m[pi]
	if !seen {
		c.put(pi, nil)
	}
	c.mu.Unlock()
	if !seen {
		e.program(o, pi)
		return
	}
	if f == nil {
		f = e.procFrag(pi)
	}
	// pid came before: the fragment's leading comma is due.
	o.b = append(o.b, f.b[f.prog[0]:f.prog[1]]...)
	o.redacted = o.redacted || f.progRedacted
}

// procFrag returns the encoded members of pi, a snapshot of the process
// table (not Unknown), from the cache when it has them (built, not only
// marked).
func (e *Encoder) procFrag(pi *event.ProcInfo) *procFrag {
	c := &e.procCache
	c.mu.Lock()
	f := c.m[pi]
	c.mu.Unlock()
	if f != nil {
		return f
	}
	s := obj{b: make([]byte, 0, 512)}
	s.open()
	f = &procFrag{}
	f.prog, f.progRedacted = e.procInfoBody(&s, pi)
	f.b, f.redacted = s.b[1:], s.redacted
	f.prog[0]--
	f.prog[1]--
	c.mu.Lock()
	c.put(pi, f)
	c.mu.Unlock()
	return f
}
