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
	m  map[*event.ProcInfo]*procFrag
}

// procFrag returns the encoded members of pi, a snapshot of the process
// table (not Unknown), from the cache when it has them.
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
	if c.m == nil || len(c.m) >= maxProcCache {
		c.m = make(map[*event.ProcInfo]*procFrag, 256)
	}
	c.m[pi] = f
	c.mu.Unlock()
	return f
}
