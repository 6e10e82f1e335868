package proctree

import (
	"strings"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// Options configure a Table.
type Options struct {
	// EntityID computes process.entity_id (ecs.EntityID with the host's
	// facts): the same function the encoder uses, so ids agree.
	EntityID func(pid uint32, startBoot uint64) string
	// Wall converts CLOCK_BOOTTIME ns to wall-clock time.
	Wall func(bootNS uint64) time.Time
	// MaxExited bounds the exited processes kept for late events and as
	// ancestors (LRU). Exited processes still referenced as a parent stay
	// until their last child goes. Default 4096.
	MaxExited int
	// UserName, when set, names a uid for a process (in its own root).
	UserName func(p *Proc, uid uint32) string
	// ContainerOf, when set, returns the container id of a process from
	// its cgroup ("" on the host). Called when a process enters the table.
	ContainerOf func(pid uint32, cgroupID uint64) string
	// ExactStarts, when set, gives the kernel's exact start time of every
	// process at seeding (ExactStarts: a BPF task iterator), so seeded
	// processes get the entity ids their kernel records will give them.
	ExactStarts func() (map[uint32]uint64, error)
	// SourceIP, when set, finds the SSH client of an sshd entry leader
	// (pid) started by an sshd process (ppid): SSH_CONNECTION in its
	// environment, or the peer of the sshd's socket. Called once per SSH
	// session.
	SourceIP func(pid, ppid uint32) (string, bool)
}

// Stats count what the table did.
type Stats struct {
	Live, Exited     int
	Seeded           uint64 // processes read from /proc at start
	Started          uint64 // forks and execs applied
	Ended            uint64
	Evicted          uint64 // exited processes dropped from the LRU
	Replaced         uint64 // a pid reused before its exit was seen (lost exit)
	FilledFromProcfs uint64 // unknown processes read from /proc on first sight
	Upgraded         uint64 // /proc start times replaced by the kernel's exact ones
}

// Table is the process table. Not safe for concurrent use.
type Table struct {
	opt   Options
	procs map[uint32]*Proc
	// exited LRU: head is the oldest.
	head, tail *Proc
	nExited    int // in the LRU
	exitedIn   int // exited and still in the table (LRU or referenced)
	st         Stats
}

// New returns an empty table.
func New(opt Options) *Table {
	if opt.MaxExited <= 0 {
		opt.MaxExited = 4096
	}
	if opt.Wall == nil {
		opt.Wall = func(ns uint64) time.Time { return time.Unix(0, int64(ns)).UTC() }
	}
	if opt.EntityID == nil {
		opt.EntityID = func(uint32, uint64) string { return "" }
	}
	return &Table{opt: opt, procs: make(map[uint32]*Proc, 1024)}
}

// Stats returns the counters and sizes.
func (t *Table) Stats() Stats {
	s := t.st
	s.Exited = t.exitedIn
	s.Live = len(t.procs) - t.exitedIn
	return s
}

// Len is the number of processes in the table, live and exited.
func (t *Table) Len() int { return len(t.procs) }

// Get returns the process with pid, or nil.
func (t *Table) Get(pid uint32) *Proc { return t.procs[pid] }

// Lookup returns the table's process for the acting task of ev, when the
// table has it (same pid, same start). An exact start time from the kernel
// upgrades one read from /proc; a parent pid or session that changed since
// (reparenting, setsid) is followed.
func (t *Table) Lookup(ev *event.Event) *Proc {
	k := &ev.Proc
	p := t.procs[k.PID]
	if p == nil || !t.sameStart(p, k.StartBoot) {
		return nil
	}
	t.refresh(p, k)
	return p
}

// sameStart reports whether p started at start (kernel ns); a start read
// from /proc is known to the clock tick only, and is made exact here.
func (t *Table) sameStart(p *Proc, start uint64) bool {
	if p.StartBoot == start || start == 0 {
		return true
	}
	if p.approx && start/tickNS == p.StartBoot/tickNS {
		t.upgrade(p, start)
		return true
	}
	return false
}

// upgrade gives a process read from /proc its exact start time and the
// entity id that goes with it.
func (t *Table) upgrade(p *Proc, start uint64) {
	p.StartBoot = start
	p.approx = false
	if p.Info != nil {
		ni := *p.Info
		ni.EntityID = t.opt.EntityID(p.PID, start)
		ni.Start = t.opt.Wall(start)
		p.Info = &ni
	}
	t.st.Upgraded++
}

// refresh follows changes of a known process's facts seen on its events.
func (t *Table) refresh(p *Proc, k *event.Process) {
	if k.PPID != p.PPID && k.PPID != 0 {
		// Reparented (its parent died: to init or a subreaper).
		t.setParent(p, k.PPID, k.ParentStartBoot)
		p.reparented = true
	} else if k.ParentStartBoot != 0 && p.parent != nil && p.parent.approx {
		t.sameStart(p.parent, k.ParentStartBoot)
	}
	if k.SID != p.SID || k.PGID != p.PGID {
		p.SID, p.PGID = k.SID, k.PGID
	}
	if k.TTY != p.TTY {
		p.TTY = k.TTY
	}
	if k.EUID != p.UID || k.EGID != p.GID {
		p.UID, p.GID = k.EUID, k.EGID
	}
	if k.MntNS != 0 {
		p.MntNS = k.MntNS
	}
	p.AUID = k.AUID
}

// Apply applies a fork, exec or exit event to the table and returns the
// process it is about (nil for other events).
func (t *Table) Apply(ev *event.Event) *Proc {
	switch ev.Op {
	case event.OpFork:
		return t.start(ev, nil)
	case event.OpExec:
		return t.start(ev, ev.Exec)
	case event.OpExit:
		p := t.Lookup(ev)
		if p != nil {
			t.exit(p)
		}
		t.st.Ended++
		return p
	}
	return nil
}

// start inserts the process of a fork (x nil) or updates it for an exec.
func (t *Table) start(ev *event.Event, x *event.Exec) *Proc {
	k := &ev.Proc
	t.st.Started++
	p := t.procs[k.PID]
	if p != nil && !t.sameStart(p, k.StartBoot) {
		// The pid was reused: the old process's exit was lost.
		if !p.exited {
			t.st.Replaced++
		}
		t.remove(p)
		p = nil
	}
	if p == nil {
		p = &Proc{PID: k.PID, StartBoot: k.StartBoot}
		t.fill(p, k)
		t.setParent(p, k.PPID, k.ParentStartBoot)
		t.insert(p)
	} else {
		t.refresh(p, k)
		if k.CgroupID != p.CgroupID {
			// Moved (a container runtime's init joins the container's
			// cgroup before it execs the entrypoint).
			p.CgroupID = k.CgroupID
			if t.opt.ContainerOf != nil {
				p.Container = t.opt.ContainerOf(p.PID, p.CgroupID)
			}
		}
	}
	// An exec keeps the process (same pid, same start): same entity id.
	id := ""
	if p.Info != nil && p.Info.EntityID != "" && p.Info.PID == p.PID {
		id = p.Info.EntityID
	} else {
		id = t.opt.EntityID(p.PID, p.StartBoot)
	}
	info := &event.ProcInfo{
		EntityID:    id,
		PID:         p.PID,
		Start:       t.opt.Wall(p.StartBoot),
		Name:        k.Comm,
		Interactive: k.TTY != 0,
		UID:         k.EUID,
		GID:         k.EGID,
	}
	var from *event.ProcInfo
	if x != nil {
		info.Executable, info.Args, info.WorkingDirectory = x.Executable, x.Args, x.Cwd
		info.ArgsCount = max(int(x.Argc), len(x.Args))
		info.CommandLine = strings.Join(x.Args, " ")
	} else if par := p.parent; par != nil && par.Info != nil {
		from = par.Info // a forked child runs its parent's program until it execs
	} else if p.Info != nil {
		from = p.Info
	}
	if from != nil {
		info.Executable, info.Args, info.WorkingDirectory, info.ArgsCount = from.Executable, from.Args, from.WorkingDirectory, from.ArgsCount
		info.CommandLine = from.CommandLine
	}
	if t.opt.UserName != nil {
		info.UserName = t.opt.UserName(p, k.EUID)
	}
	p.Info = info
	t.decide(p)
	return p
}

func (t *Table) fill(p *Proc, k *event.Process) {
	p.PPID, p.SID, p.PGID, p.TTY = k.PPID, k.SID, k.PGID, k.TTY
	p.UID, p.GID, p.AUID = k.EUID, k.EGID, k.AUID
	p.PidNS, p.MntNS, p.CgroupID = k.PidNS, k.MntNS, k.CgroupID
	if t.opt.ContainerOf != nil {
		p.Container = t.opt.ContainerOf(p.PID, p.CgroupID)
	}
}

// decide sets p's ancestry and entry leader from its parent. A process
// reparented since it started keeps the lineage of the processes that
// started it (a double fork does not hide who ran a program).
func (t *Table) decide(p *Proc) {
	if par := p.parent; par != nil && par.Info != nil && !(p.reparented && p.Ancestors != nil) &&
		(par.Info != p.linInfo || par.Lineage != p.linParent) {
		p.linInfo, p.linParent = par.Info, par.Lineage
		var names, exes []string
		if l := par.Lineage; l != nil {
			names, exes = l.Names, l.Executables
		}
		// The parent, then its own lineage (shared, not modified), cut to
		// the bound; one array holds the three lists.
		n := min(len(par.Ancestors)+1, maxAncestors)
		buf := make([]string, 3*n)
		ids, nm, ex := buf[:n:n], buf[n:2*n:2*n], buf[2*n:]
		ids[0], nm[0], ex[0] = par.Info.EntityID, par.Info.Name, par.Info.Executable
		copy(ids[1:], par.Ancestors)
		copy(nm[1:], names)
		copy(ex[1:], exes)
		p.Ancestors = ids
		p.Lineage = &event.Lineage{Names: nm, Executables: ex}
	}
	p.Entry, p.EntryType = entryOf(p)
	if p.Entry == p && p.EntryType == EntrySSHD && t.opt.SourceIP != nil && !p.SourceIP.IsValid() {
		if s, ok := t.opt.SourceIP(p.PID, p.PPID); ok {
			p.SourceIP = parseAddr(s)
		}
	}
}

// setParent links p to its parent pid, when the table has it (and its
// start matches the kernel's, when given).
func (t *Table) setParent(p *Proc, ppid uint32, pstart uint64) {
	if old := p.parent; old != nil {
		p.parent = nil
		t.unref(old)
	}
	p.PPID = ppid
	par := t.procs[ppid]
	if par == nil || par == p || (pstart != 0 && !t.sameStart(par, pstart)) {
		return
	}
	p.parent = par
	par.refs++
}

// unref drops one reference to q; an exited process nobody references any
// more, and that the LRU no longer holds, leaves the table.
func (t *Table) unref(q *Proc) {
	q.refs--
	if q.refs <= 0 && q.exited && q.prev == nil && q.next == nil && t.head != q {
		t.remove(q)
	}
}

func (t *Table) insert(p *Proc) {
	t.procs[p.PID] = p
	p.inMap = true
}

// exit marks p ended and puts it at the young end of the exited LRU; the
// oldest exited process beyond MaxExited leaves (unless a child still
// names it as its parent: then it leaves with its last child).
func (t *Table) exit(p *Proc) {
	if p.exited {
		return
	}
	p.exited = true
	if p.inMap {
		t.exitedIn++
	}
	t.lruPush(p)
	for t.nExited > t.opt.MaxExited {
		old := t.head
		t.lruRemove(old)
		t.st.Evicted++
		if old.refs <= 0 {
			t.remove(old)
		}
	}
}

// remove takes p out of the table and releases its parent.
func (t *Table) remove(p *Proc) {
	if p.prev != nil || p.next != nil || t.head == p {
		t.lruRemove(p)
	}
	if p.inMap && t.procs[p.PID] == p {
		delete(t.procs, p.PID)
		if p.exited {
			t.exitedIn--
		}
	}
	p.inMap = false
	if par := p.parent; par != nil {
		p.parent = nil
		t.unref(par)
	}
}

func (t *Table) lruPush(p *Proc) {
	p.prev, p.next = t.tail, nil
	if t.tail != nil {
		t.tail.next = p
	} else {
		t.head = p
	}
	t.tail = p
	t.nExited++
}

func (t *Table) lruRemove(p *Proc) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		t.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		t.tail = p.prev
	}
	p.prev, p.next = nil, nil
	t.nExited--
}
