package rules

import (
	"net/netip"
	"path"
	"strconv"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// slot is what rules are indexed by: the event.action of an event (each
// belongs to exactly one event.category).
type slot uint8

const (
	slotOther slot = iota // anything else (rules without an action constraint still see it)
	slotExec
	slotFork
	slotEnd
	slotOpen
	slotWrite
	slotRename
	slotUnlink
	slotRmdir
	slotLink
	slotSymlink
	slotMkdir
	slotChmod
	slotChown
	slotTruncate
	slotConnect
	slotAccept
	slotSend
	numSlots
	// slotUnknown: an event the builder cannot fill; the engine fills it
	// from its document and indexes it by its action as slotOther.
	slotUnknown = numSlots
)

var slotNames = [numSlots]string{"", "exec", "fork", "end", "open", "write", "rename", "unlink", "rmdir",
	"link", "symlink", "mkdir", "chmod", "chown", "truncate", "connect", "accept", "send"}

var slotCategory = [numSlots]string{"", "process", "process", "process", "file", "file", "file", "file", "file",
	"file", "file", "file", "file", "file", "file", "network", "network", "network"}

var slotByAction = func() map[string]slot {
	m := map[string]slot{}
	for s := slotExec; s < numSlots; s++ {
		m[slotNames[s]] = s
	}
	return m
}()

func slotOfAction(action string) slot { return slotByAction[action] } // slotOther when unknown

// event.type values, shared read-only by every Env (conditions cannot
// modify them).
var (
	typeStart        = []string{"start"}
	typeEnd          = []string{"end"}
	typeAccess       = []string{"access"}
	typeAccessCreate = []string{"access", "creation"}
	typeAccessChange = []string{"access", "change"}
	typeAccessCrChg  = []string{"access", "creation", "change"}
	typeChange       = []string{"change"}
	typeDeletion     = []string{"deletion"}
	typeCreation     = []string{"creation"}
	typeConnStart    = []string{"connection", "start"}
	typeConnInfo     = []string{"connection", "info"}
	nsSlot           = [...]slot{event.NSRename: slotRename, event.NSUnlink: slotUnlink, event.NSRmdir: slotRmdir, event.NSLink: slotLink, event.NSSymlink: slotSymlink, event.NSMkdir: slotMkdir, event.NSChmod: slotChmod, event.NSChown: slotChown, event.NSTruncate: slotTruncate}
)

// builder fills Env from live events. Its caches keep the common case free
// of allocation: uid strings, file modes, open flag names, addresses.
type builder struct {
	host     HostFields
	entityID func(pid uint32, start uint64) string

	// procs is the engine's own process table, for events that come
	// without an Enrichment (enrich.enabled false): made on the first one,
	// so the sensor with enrichment on keeps a single table, the stage's.
	procs    *procTable
	maxProcs int

	uids  map[uint32]string
	ips   map[netip.Addr]string
	flags map[uint32][]string
	modes [4096]string
}

const maxCached = 4096

func newBuilder(host HostFields, entityID func(uint32, uint64) string, maxProcs int) *builder {
	return &builder{host: host, entityID: entityID, maxProcs: maxProcs,
		uids: map[uint32]string{}, ips: map[netip.Addr]string{}, flags: map[uint32][]string{}}
}

func (b *builder) uid(u uint32) string {
	if s, ok := b.uids[u]; ok {
		return s
	}
	s := strconv.FormatUint(uint64(u), 10)
	if len(b.uids) >= maxCached {
		clear(b.uids)
	}
	b.uids[u] = s
	return s
}

func (b *builder) ip(a netip.Addr) string {
	if s, ok := b.ips[a]; ok {
		return s
	}
	s := a.String()
	if len(b.ips) >= maxCached {
		clear(b.ips)
	}
	b.ips[a] = s
	return s
}

func (b *builder) openFlags(f uint32) []string {
	if s, ok := b.flags[f]; ok {
		return s
	}
	s := ecs.OpenFlagNames(f)
	if len(b.flags) >= maxCached {
		clear(b.flags)
	}
	b.flags[f] = s
	return s
}

func (b *builder) mode(m uint32) string {
	m &= 0o7777
	if s := b.modes[m]; s != "" {
		return s
	}
	s := strconv.FormatUint(uint64(m), 8)
	b.modes[m] = s
	return s
}

// fromEvent fills env (which must be zero) from ev and returns the
// event's slot. The process's program, parent and ancestry come from the
// event's Enrichment (the enrichment stage's process table) when it has
// one, else from the engine's own table.
func (b *builder) fromEvent(ev *event.Event, env *Env) slot {
	if !complete(ev) {
		// A record whose part is missing (a decoder bug, a new kind): the
		// engine reads what its document has rather than guess.
		return slotUnknown
	}
	p := &ev.Proc
	var s slot
	e := &env.Event
	e.Kind = "event"
	e.Outcome = "success"
	switch ev.Op {
	case event.OpExec:
		s, e.Category, e.Type, e.Dataset = slotExec, "process", typeStart, "bansho.process"
		env.Bansho.Tainted = ev.Has(event.FlagTainted)
		env.Bansho.Exec.Filename = ev.Exec.Filename
	case event.OpFork:
		s, e.Category, e.Type, e.Dataset = slotFork, "process", typeStart, "bansho.process"
		env.Bansho.Tainted = ev.Has(event.FlagTainted)
	case event.OpExit:
		s, e.Category, e.Type, e.Dataset = slotEnd, "process", typeEnd, "bansho.process"
		if ev.Exit.Status != 0 {
			e.Outcome = "failure"
		}
		env.Process.ExitCode = ev.Exit.Code()
	case event.OpFileOpen, event.OpFileWrite, event.OpFileNS:
		s = b.file(ev, env)
	case event.OpNetConnect, event.OpNetAccept, event.OpNetSend, event.OpTLSWrite:
		s = b.network(ev, env)
	default:
		// Not a kernel event the builder knows (self-protection events,
		// kinds added later): the engine reads it from its document.
		return slotUnknown
	}
	e.Action = slotNames[s]
	if s == slotOther && ev.Op == event.OpFileNS {
		e.Action = ev.File.Kind.Action()
	}
	env.Timestamp, env.eventTS = ev.Time, ev.Time
	env.Host = b.host

	pf := &env.Process
	pf.PID = int(p.PID)
	pf.Name = p.Comm
	pf.Interactive = p.TTY != 0
	pf.User.ID = b.uid(p.EUID)
	pf.Group.ID = b.uid(p.EGID)
	pf.RealUser.ID = b.uid(p.UID)
	pf.Parent.PID = int(p.PPID)
	env.User.ID = pf.User.ID
	if p.AUID != event.NoUID {
		env.Bansho.LoginUser.ID = b.uid(p.AUID)
	}
	if en := ev.Enriched; en != nil {
		b.enriched(en, p, env)
	} else {
		b.fromTable(ev, env)
	}
	if c := ev.Content; c != nil {
		env.Bansho.Content = Content{
			MyNumber:        Finding{Distinct: c.MyNumber.Distinct, Occurrences: c.MyNumber.Occurrences, Confidence: c.MyNumber.Confidence},
			CorporateNumber: Finding{Distinct: c.CorporateNumber.Distinct, Occurrences: c.CorporateNumber.Occurrences, Confidence: c.CorporateNumber.Confidence},
			SampledBytes:    c.SampledBytes,
		}
	}
	return s
}

// fromTable fills the process's program, parent and ancestry from the
// engine's own table, updating it with ev first.
func (b *builder) fromTable(ev *event.Event, env *Env) {
	if b.procs == nil {
		b.procs = newProcTable(b.maxProcs, b.entityID)
	}
	p := &ev.Proc
	ref := procRef{pid: p.PID, start: p.StartBoot, ppid: p.PPID, pstart: p.ParentStartBoot, name: p.Comm}
	var pr *proc
	switch ev.Op {
	case event.OpExec:
		x := ev.Exec
		pr = b.procs.exec(&ref, x.Executable, x.Args, x.Cwd)
		pr.argc = int(x.Argc)
	case event.OpExit:
		pr = b.procs.ensure(&ref)
		b.procs.exit(&ref)
	default:
		pr = b.procs.ensure(&ref)
	}
	pf := &env.Process
	pf.EntityID = pr.entityID
	pf.Executable, pf.Args, pf.CommandLine, pf.WorkingDirectory = pr.exe, pr.args, pr.cmdline, pr.cwd
	pf.ArgsCount = pr.argc
	if pf.ArgsCount == 0 {
		pf.ArgsCount = len(pr.args)
	}
	if p.ParentStartBoot != 0 {
		if pr.ppid == p.PPID && pr.pstart == p.ParentStartBoot && pr.parentEntityID != "" {
			pf.Parent.EntityID = pr.parentEntityID
		} else {
			pf.Parent.EntityID = b.procs.id(p.PPID, p.ParentStartBoot)
		}
	}
	if pp := b.procs.lookup(p.PPID, p.ParentStartBoot); pp != nil && p.PPID != p.PID {
		pf.Parent.Name, pf.Parent.Executable, pf.Parent.CommandLine, pf.Parent.Args = pp.name, pp.exe, pp.cmdline, pp.args
	}
	anc := &env.Bansho.Process.Ancestors
	anc.Name, anc.Executable, anc.EntityID = pr.ancNames, pr.ancExes, pr.ancIDs
}

// complete reports whether ev has the part its Op needs.
func complete(ev *event.Event) bool {
	switch ev.Op {
	case event.OpExec:
		return ev.Exec != nil
	case event.OpFork:
		return true
	case event.OpExit:
		return ev.Exit != nil
	case event.OpFileOpen, event.OpFileWrite, event.OpFileNS:
		return ev.File != nil
	case event.OpNetConnect, event.OpNetAccept, event.OpNetSend, event.OpTLSWrite:
		return ev.Net != nil
	}
	return true
}

// enriched fills the process's program, parent, ancestry and names from
// the enrichment stage, as the encoder writes them into the document:
// nothing is computed per event (the command lines and the lineage are
// made once per process by the stage's table).
func (b *builder) enriched(en *event.Enrichment, k *event.Process, env *Env) {
	pf := &env.Process
	if p := en.Process; p != nil {
		pf.EntityID = p.EntityID
		if !p.Unknown {
			pf.Executable, pf.WorkingDirectory = p.Executable, p.WorkingDirectory
			pf.Args, pf.CommandLine = p.Args, p.CommandLine
			pf.ArgsCount = max(p.ArgsCount, len(p.Args))
		}
	}
	par := &pf.Parent
	if p := en.Parent; p != nil {
		par.EntityID, par.Name, par.Executable = p.EntityID, p.Name, p.Executable
		par.Args, par.CommandLine = p.Args, p.CommandLine
	} else if k.ParentStartBoot != 0 && b.entityID != nil {
		// A parent the table does not know: its id from the kernel record,
		// as the encoder writes it.
		par.EntityID = b.entityID(k.PPID, k.ParentStartBoot)
	}
	anc := &env.Bansho.Process.Ancestors
	anc.EntityID = en.Ancestors
	if l := en.Lineage; l != nil {
		anc.Name, anc.Executable = l.Names, l.Executables
	}
	pf.User.Name = en.UserName
	pf.RealUser.Name = en.RealUserName
	env.User.Name = en.UserName
	env.Bansho.LoginUser.Name = en.LoginUserName
	env.Bansho.DestinationClass = en.Destination
}

func outcome(ret int64) string {
	if ret >= 0 || ret == -115 { // EINPROGRESS: the connection is under way
		return "success"
	}
	return "failure"
}

func (b *builder) file(ev *event.Event, env *Env) slot {
	f := ev.File
	e := &env.Event
	e.Category, e.Dataset, e.Outcome = "file", "bansho.file", outcome(f.Ret)
	var s slot
	switch ev.Op {
	case event.OpFileOpen:
		s = slotOpen
		create, change := f.Flags&0o100 != 0, f.Flags&3 != 0 || f.Flags&0o1000 != 0
		switch {
		case create && change:
			e.Type = typeAccessCrChg
		case create:
			e.Type = typeAccessCreate
		case change:
			e.Type = typeAccessChange
		default:
			e.Type = typeAccess
		}
		env.Bansho.File.Flags = b.openFlags(f.Flags)
	case event.OpFileWrite:
		s, e.Type = slotWrite, typeChange
		if f.Ret > 0 {
			env.Bansho.File.Bytes = int(f.Ret)
		}
	default:
		if int(f.Kind) < len(nsSlot) {
			s = nsSlot[f.Kind]
		}
		switch f.Kind {
		case event.NSUnlink, event.NSRmdir:
			e.Type = typeDeletion
		case event.NSLink, event.NSSymlink, event.NSMkdir:
			e.Type = typeCreation
		default:
			e.Type = typeChange
		}
		switch f.Kind {
		case event.NSChmod, event.NSMkdir:
			env.Bansho.File.NewMode = b.mode(f.Mode)
		}
	}
	ff := &env.File
	if f.Path != "" {
		ff.Path = f.Path
		ff.Name = path.Base(f.Path)
		ff.Directory = path.Dir(f.Path)
		if ext := path.Ext(f.Path); len(ext) > 1 {
			ff.Extension = ext[1:]
		}
	}
	ff.TargetPath = f.TargetPath
	if f.Ino != 0 {
		env.hasFile, env.ino, env.dev = true, f.Ino, f.Dev
		ff.Mode = b.mode(f.IMode)
		ff.UID = b.uid(f.IUID)
		ff.GID = b.uid(f.IGID)
		ff.Type = ecs.FileType(f.IMode)
	}
	bf := &env.Bansho.File
	bf.Protected = ev.Has(event.FlagProtected)
	bf.Tainted = ev.Has(event.FlagTainted)
	bf.Syscall = ecs.SyscallName(f.Syscall)
	bf.Copy = ev.Has(event.FlagCopy)
	bf.Name = f.Name
	bf.Anchor = f.Anchor
	return s
}

// fillInode writes file.inode and file.device, which only a few rules and
// every alert need: formatting them for every event would cost two
// allocations.
func (env *Env) fillInode() {
	if env.hasFile && env.File.Inode == "" {
		env.File.Inode = strconv.FormatUint(env.ino, 10)
		env.File.Device = strconv.FormatUint(env.dev>>20, 10) + ":" + strconv.FormatUint(env.dev&0xfffff, 10)
	}
}

func (b *builder) network(ev *event.Event, env *Env) slot {
	n := ev.Net
	e := &env.Event
	e.Category, e.Dataset, e.Outcome = "network", "bansho.network", outcome(n.Ret)
	s, dir := slotConnect, "egress"
	e.Type = typeConnStart
	switch ev.Op {
	case event.OpNetAccept:
		s, dir = slotAccept, "ingress"
	case event.OpNetSend, event.OpTLSWrite:
		s, e.Type = slotSend, typeConnInfo
	}
	if a := n.Src.Addr(); a.IsValid() {
		env.Source = EndpointFields{IP: b.ip(a), Port: int(n.Src.Port())}
	}
	if a := n.Dst.Addr(); a.IsValid() {
		env.Destination = EndpointFields{IP: b.ip(a), Port: int(n.Dst.Port())}
	}
	nf := &env.Network
	switch n.Protocol {
	case 6:
		nf.Transport = "tcp"
	case 17:
		nf.Transport = "udp"
	}
	if n.Family == 10 && !n.Dst.Addr().Unmap().Is4() {
		nf.Type = "ipv6"
	} else {
		nf.Type = "ipv4"
	}
	nf.Direction = dir
	bn := &env.Bansho.Network
	if ev.Op == event.OpTLSWrite {
		nf.Protocol = "tls"
		bn.TLS = true
	}
	bn.Tainted = ev.Has(event.FlagTainted)
	bn.Syscall = ecs.SyscallName(n.Syscall)
	bn.Bytes = int(n.Bytes)
	return s
}
