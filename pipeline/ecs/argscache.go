package ecs

import (
	"sync"
	"unsafe"
)

// The argument lists of the process table (the process, its parent, its
// session and group leaders) go into every document of those processes,
// and writing them (escaping, the My Number scan of the command line) was
// the encoder's largest cost: a shell's script of a few hundred bytes is
// encoded again for every file its children touch. The table hands out
// the same []string for a process until it execs again, so the encoded
// fragment is kept per slice. An entry holds its slice, so the memory it
// was found by cannot be reused for another list while it is cached.

// maxArgsCache bounds the cache; past it, it starts over.
const maxArgsCache = 1024

type argsKey struct {
	p *string
	n int
}

type argsFrag struct {
	args     []string // kept alive: the key's address stays this list's
	b        []byte   // `"args":[...],"command_line":"..."`, no leading comma
	redacted bool
}

type argsCache struct {
	mu sync.Mutex
	m  map[argsKey]*argsFrag
}

// tableArgs writes args (a list from the process table, not changed once
// made) as appendArgs does, from the cache when it has them.
func (e *Encoder) tableArgs(o *obj, args []string) {
	k := argsKey{unsafe.SliceData(args), len(args)}
	c := &e.argsCache
	c.mu.Lock()
	f := c.m[k]
	c.mu.Unlock()
	if f == nil {
		start, before := len(o.b), o.redacted
		o.redacted = false
		appendArgs(o, args)
		frag := o.b[start:]
		if len(frag) > 0 && frag[0] == ',' {
			frag = frag[1:]
		}
		f = &argsFrag{args: args, b: append([]byte(nil), frag...), redacted: o.redacted}
		o.redacted = o.redacted || before
		c.mu.Lock()
		if c.m == nil || len(c.m) >= maxArgsCache {
			c.m = make(map[argsKey]*argsFrag, 256)
		}
		c.m[k] = f
		c.mu.Unlock()
		return
	}
	o.sep()
	o.b = append(o.b, f.b...)
	o.redacted = o.redacted || f.redacted
}
