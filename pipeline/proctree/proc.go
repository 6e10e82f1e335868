// Package proctree keeps the table of processes the sensor knows: seeded
// from /proc at start, kept current from the kernel's fork, exec and exit
// events, bounded. For each process it knows the ECS process tree: parent,
// process group leader, session leader and entry leader (the start of the
// session: an SSH login, a terminal login, a container's init, a service
// started by init, a kernel thread).
//
// A Table is used by one goroutine (the enrichment stage): no locks on the
// hot path. The *event.ProcInfo snapshots it hands out are never modified
// after they are handed out (a change makes a new one), so the encoder may
// read them from another goroutine.
package proctree

import (
	"net/netip"
	"strings"

	"github.com/bansho-sec/bansho/internal/event"
)

// Entry types (process.entry_leader.entry_meta.type).
const (
	EntrySSHD      = "sshd"
	EntryTerminal  = "terminal"
	EntryContainer = "container"
	EntryInit      = "init"
	EntryKernel    = "kernel"
	EntryUnknown   = "unknown"
)

// Proc is one process of the table.
type Proc struct {
	PID, PPID uint32
	StartBoot uint64 // CLOCK_BOOTTIME ns of the start (the kernel's value)
	SID, PGID uint32
	TTY       uint32
	UID, GID  uint32 // effective ids of the last event seen
	AUID      uint32
	PidNS     uint32 // the pid namespace its children are created in
	MntNS     uint32
	CgroupID  uint64
	Container string // container id from the cgroup path, "" on the host
	Info      *event.ProcInfo
	// Ancestors are the entity ids of the processes that started this
	// one, nearest first, at most event.MaxAncestors; Lineage their names
	// and executables. Made once when the process starts (fork, exec,
	// read from /proc), shared by all its events and its children's.
	Ancestors  []string
	Lineage    *event.Lineage
	Entry      *Proc
	EntryType  string
	SourceIP   netip.Addr // the SSH client, on an sshd entry leader
	approx     bool       // StartBoot from /proc (clock ticks), not yet exact
	fromProcfs bool       // read from /proc, not seen starting
	// reparented: its parent is no longer the process that started it
	// (that one ended): the lineage stays the starter's.
	reparented bool
	// The parent's snapshot and lineage the lineage was made from: an
	// exec of the process (same parent, nothing changed) reuses it.
	linInfo   *event.ProcInfo
	linParent *event.Lineage

	parent *Proc
	refs   int32 // table entries whose parent this is
	exited bool
	inMap  bool
	// exited LRU
	prev, next *Proc
}

// Parent is the parent process as the table knows it, or nil.
func (p *Proc) Parent() *Proc { return p.parent }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool { return p.exited }

// maxAncestors bounds Ancestors (rules follow lineages a few levels deep).
const maxAncestors = event.MaxAncestors

// isSSHD reports whether a process name is OpenSSH's daemon or one of its
// per-session processes (sshd, sshd-session, sshd-auth since 9.8; older
// ones rename themselves "sshd: user@pts/0" in argv, but comm stays sshd).
func isSSHD(name string) bool {
	return name == "sshd" || strings.HasPrefix(name, "sshd-")
}

// isLogin reports whether a process name starts terminal logins.
func isLogin(name string) bool {
	switch name {
	case "login", "agetty", "getty", "mingetty", "systemd-logind":
		return true
	}
	return false
}

// entryOf decides p's entry leader from its parent (p.parent, set). The
// first rule that fits, in this order:
//   - a kernel thread (kthreadd and its children): itself, kernel;
//   - pid 1: itself, init;
//   - a process in a pid namespace or container other than its parent's:
//     itself, container (the container's init);
//   - a child of an sshd process that is not itself sshd: itself, sshd
//     (the login shell or the command of an SSH session);
//   - a child of login/getty: itself, terminal;
//   - a session leader with a terminal whose parent has none (a terminal
//     emulator's or tmux's shell): itself, terminal;
//   - a child of pid 1 (a service): itself, init;
//   - otherwise its parent's entry leader; with no parent known, itself,
//     unknown.
func entryOf(p *Proc) (*Proc, string) {
	name := ""
	if p.Info != nil {
		name = p.Info.Name
	}
	par := p.parent
	switch {
	case p.PID == 2 || p.PPID == 2:
		return p, EntryKernel
	case p.PID == 1:
		return p, EntryInit
	case par == nil:
		return p, EntryUnknown
	case par.PidNS != 0 && p.PidNS != 0 && par.PidNS != p.PidNS && par.PID != 2,
		p.Container != "" && p.Container != par.Container:
		return p, EntryContainer
	}
	parName := ""
	if par.Info != nil {
		parName = par.Info.Name
	}
	switch {
	case isSSHD(parName) && !isSSHD(name):
		return p, EntrySSHD
	case isLogin(parName) && !isLogin(name):
		return p, EntryTerminal
	case p.TTY != 0 && par.TTY == 0 && p.SID == p.PID && !isSSHD(name):
		return p, EntryTerminal
	case par.PID == 1:
		return p, EntryInit
	}
	if par.Entry != nil {
		return par.Entry, par.EntryType
	}
	return p, EntryUnknown
}
