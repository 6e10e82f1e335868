// Package enrich is the pipeline stage between the sensor's reader and the
// encoder: it keeps the process table (pipeline/proctree) and fills each
// event's Enrichment with the process tree, user and group names, the
// container and pod, the class of a connection's destination and the
// mount a file is on.
//
// The stage never drops and never blocks the ring-buffer reader: it reads
// the reader's bounded queue (the reader drops and counts when that is
// full) and writes a bounded queue of its own to the encoder. Nothing on
// the event path reads /proc for a process the table knows; a new cgroup,
// mount namespace or SSH session is looked up once, on first sight, and
// cached; mounts, routes and pods are refreshed by their own goroutines.
package enrich

import (
	"encoding/binary"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/proctree"
)

// Options configure a Stage. Users, Net, Mounts and Kubelet are optional.
type Options struct {
	Host ecs.Host // for entity ids: the encoder's own
	Wall func(bootNS uint64) time.Time
	Proc string // "/proc"
	// MaxExited bounds the exited processes the table keeps.
	MaxExited int
	// HoldMax bounds the events held for a process the table does not
	// know yet; HoldFor is how long one is held before it goes out with
	// what is known.
	HoldMax int
	HoldFor time.Duration
	// MaxContainers bounds the cgroup cache.
	MaxContainers int
	// CgroupRoot is the cgroup v2 mount; empty finds it.
	CgroupRoot string
	// ExactStarts gives exact process start times at seeding
	// (proctree.ExactStarts); nil seeds with /proc's clock ticks.
	ExactStarts func() (map[uint32]uint64, error)

	Users   *Users
	Net     *Net
	Mounts  *Mounts
	Kubelet *Kubelet
	Log     *slog.Logger
}

// Stats count what the stage did. Safe to read from any goroutine.
type Stats struct {
	Events        uint64 // events enriched
	Unknown       uint64 // emitted without their process in the table
	Held          uint64 // held for a process not yet known
	Released      uint64 // held events whose process then appeared
	HoldFull      uint64 // not held: the hold queue was full
	ProcfsFilled  uint64 // unknown processes read from /proc on first sight
	CgroupErrors  uint64 // unreadable or malformed /proc/PID/cgroup
	LiveProcs     uint64
	ExitedProcs   uint64
	EvictedProcs  uint64
	ReplacedProcs uint64 // pids reused before their exit was seen
}

type cgEntry struct {
	info CgroupInfo
	ok   bool
}

type held struct {
	ev       *event.Event
	deadline time.Time
}

// Stage is the enrichment stage. Run it in one goroutine.
type Stage struct {
	opt   Options
	table *proctree.Table
	cg    map[uint64]*cgEntry // by cgroup id
	ctr   map[string]*cgEntry // by container id

	// Events waiting for their process, oldest first, and how many per pid.
	hold    []held
	holdPID map[uint32]int

	events, unknown, heldN, released, holdFull, cgErrors atomic.Uint64
	live, exited, evicted, replaced, filled              atomic.Uint64

	lastNS   uint32
	lastRoot *rootNames

	cgRoot    string            // the v2 hierarchy, "" without one
	cgRootFD  int               // open on cgRoot, for open_by_handle_at; -1 without
	cgPaths   map[uint64]string // cgroup id (directory inode) -> path
	cgScanned time.Time
}

// New builds a stage with an empty process table; call Seed before Run.
func New(opt Options) *Stage {
	if opt.Proc == "" {
		opt.Proc = "/proc"
	}
	if opt.HoldMax <= 0 {
		opt.HoldMax = 4096
	}
	if opt.HoldFor <= 0 {
		opt.HoldFor = 100 * time.Millisecond
	}
	if opt.MaxContainers <= 0 {
		opt.MaxContainers = 8192
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	s := &Stage{opt: opt, cg: map[uint64]*cgEntry{}, ctr: map[string]*cgEntry{}, holdPID: map[uint32]int{},
		cgRoot: opt.CgroupRoot}
	if s.cgRoot == "" {
		s.cgRoot = cgroupV2Root()
	}
	s.cgRootFD = -1
	if s.cgRoot != "" {
		if fd, err := unix.Open(s.cgRoot, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			s.cgRootFD = fd // kept for the stage's life, like the caches
		}
	}
	h := opt.Host
	s.table = proctree.New(proctree.Options{
		EntityID: func(pid uint32, start uint64) string {
			return ecs.EntityID(h.ID, h.PidNSIno, h.BootID, pid, start)
		},
		Wall:        opt.Wall,
		MaxExited:   opt.MaxExited,
		ContainerOf: s.containerOf,
		ExactStarts: opt.ExactStarts,
		SourceIP: func(pid, ppid uint32) (string, bool) {
			if ip, ok := proctree.SSHSource(opt.Proc, pid); ok {
				return ip, true
			}
			return proctree.SSHPeer(opt.Proc, ppid)
		},
		UserName: func(p *proctree.Proc, uid uint32) string {
			return s.userName(p.MntNS, p.PID, uid)
		},
	})
	return s
}

// Table is the process table (for tests and the benchmark; not safe to
// use while Run runs).
func (s *Stage) Table() *proctree.Table { return s.table }

// Seed fills the process table from /proc.
func (s *Stage) Seed() (proctree.SeedResult, error) {
	res, err := s.table.Seed(s.opt.Proc)
	s.syncStats()
	return res, err
}

// Run enriches events from in and writes them to out, in order except
// for events held for their process, until in is closed; then it sends
// what is still held and closes out. Sending to out may wait (the
// pipeline is behind): the reader's queue then fills and the reader
// counts its drops; the stage itself never drops.
func (s *Stage) Run(in <-chan *event.Event, out chan<- *event.Event) {
	defer close(out)
	tick := time.NewTicker(s.opt.HoldFor / 4)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-in:
			if !ok {
				s.expire(out, time.Time{})
				s.syncStats()
				return
			}
			if s.Enrich(ev) {
				out <- ev
				if len(s.hold) > 0 && (ev.Op == event.OpFork || ev.Op == event.OpExec) {
					s.release(out, ev.Proc.PID)
				}
			}
		case now := <-tick.C:
			s.expire(out, now)
			s.syncStats()
		}
	}
}

// Enrich fills ev.Enriched. It returns false when the event is held
// instead (Run sends it later); a caller without a hold (the benchmark,
// replay) can call Finish on such an event.
func (s *Stage) Enrich(ev *event.Event) bool {
	if ev.Op >= event.OpHealth {
		return true
	}
	var p *proctree.Proc
	switch ev.Op {
	case event.OpFork, event.OpExec:
		p = s.table.Apply(ev)
	case event.OpExit:
		p = s.table.Lookup(ev)
	default:
		p = s.table.Lookup(ev)
	}
	if p == nil {
		p = s.table.FillFromProcfs(s.opt.Proc, &ev.Proc)
		if p == nil && ev.Op != event.OpExit {
			if len(s.hold) < s.opt.HoldMax {
				s.hold = append(s.hold, held{ev, time.Now().Add(s.opt.HoldFor)})
				s.holdPID[ev.Proc.PID]++
				s.heldN.Add(1)
				return false
			}
			s.holdFull.Add(1)
		}
	}
	s.fill(ev, p)
	if ev.Op == event.OpExit && p != nil {
		s.table.Apply(ev)
	}
	return true
}

// Finish enriches a held event with what is known now.
func (s *Stage) Finish(ev *event.Event) {
	s.fill(ev, s.table.Lookup(ev))
}

// release sends the held events of pid, now that its process is known.
func (s *Stage) release(out chan<- *event.Event, pid uint32) {
	if s.holdPID[pid] == 0 {
		return
	}
	kept := s.hold[:0]
	for _, h := range s.hold {
		if h.ev.Proc.PID != pid {
			kept = append(kept, h)
			continue
		}
		if p := s.table.Lookup(h.ev); p != nil {
			s.fill(h.ev, p)
			s.released.Add(1)
		} else {
			s.fill(h.ev, nil)
		}
		out <- h.ev
	}
	clear(s.hold[len(kept):])
	s.hold = kept
	delete(s.holdPID, pid)
}

// expire sends held events past their deadline (all, for a zero now)
// with what is known.
func (s *Stage) expire(out chan<- *event.Event, now time.Time) {
	n := 0
	for n < len(s.hold) && (now.IsZero() || !now.Before(s.hold[n].deadline)) {
		h := s.hold[n]
		p := s.table.Lookup(h.ev)
		if p == nil {
			p = s.table.FillFromProcfs(s.opt.Proc, &h.ev.Proc)
		} else {
			s.released.Add(1)
		}
		s.fill(h.ev, p)
		out <- h.ev
		if c := s.holdPID[h.ev.Proc.PID] - 1; c > 0 {
			s.holdPID[h.ev.Proc.PID] = c
		} else {
			delete(s.holdPID, h.ev.Proc.PID)
		}
		n++
	}
	if n > 0 {
		rest := copy(s.hold, s.hold[n:])
		clear(s.hold[rest:])
		s.hold = s.hold[:rest]
	}
}

// fill writes the Enrichment of ev from its process p (nil: unknown).
func (s *Stage) fill(ev *event.Event, p *proctree.Proc) {
	s.events.Add(1)
	k := &ev.Proc
	en := &event.Enrichment{}
	ev.Enriched = en
	if p != nil && p.Info != nil {
		en.Process = p.Info
		if par := p.Parent(); par != nil {
			en.Parent = par.Info
		}
		if g := s.leader(p, k.PGID); g != nil {
			en.GroupLeader = g.Info
		}
		if l := s.leader(p, k.SID); l != nil {
			en.SessionLeader = l.Info
		}
		if e := p.Entry; e != nil {
			en.EntryLeader = e.Info
			en.EntryType = p.EntryType
			en.EntrySourceIP = e.SourceIP
		}
		en.Ancestors, en.Lineage = p.Ancestors, p.Lineage
		if p.Container != "" || p.CgroupID != 0 {
			s.containerFacts(en, p)
		}
	} else {
		s.unknown.Add(1)
		en.Unknown = true
		en.Process = &event.ProcInfo{PID: k.PID, Name: k.Comm, Start: k.Start, UID: k.EUID, GID: k.EGID,
			Interactive: k.TTY != 0, Unknown: true}
		if k.StartBoot != 0 {
			h := &s.opt.Host
			en.Process.EntityID = ecs.EntityID(h.ID, h.PidNSIno, h.BootID, k.PID, k.StartBoot)
		}
		en.EntryType = proctree.EntryUnknown
	}
	if s.opt.Users != nil {
		r := s.root(k.MntNS, k.PID)
		if r != nil {
			en.UserName = r.passwd.name(k.EUID)
			en.RealUserName = en.UserName
			if k.UID != k.EUID {
				en.RealUserName = r.passwd.name(k.UID)
			}
			en.GroupName = r.group.name(k.EGID)
			if k.AUID != event.NoUID {
				// The person who logged in is a host user even when the
				// process runs in a container.
				en.LoginUserName = s.userName(0, 0, k.AUID)
			}
		}
	}
	switch {
	case ev.Net != nil:
		dst := ev.Net.Dst
		if s.opt.Net != nil && dst.Addr().IsValid() {
			en.Destination = s.opt.Net.Classify(dst.Addr())
		}
		if n := ev.Net; (n.Protocol == 6 || n.Protocol == 17) && n.Src.Addr().IsValid() && dst.Addr().IsValid() {
			src := n.Src
			if ev.Op == event.OpNetAccept {
				src, dst = dst, src // the peer started it
			}
			en.CommunityID = ecs.CommunityID(uint8(n.Protocol), src, dst)
		}
	case ev.File != nil:
		if s.opt.Mounts != nil && ev.File.Dev != 0 {
			en.Mount = s.opt.Mounts.Of(ev.File.Dev)
		}
	}
}

// leader finds the process group or session leader pid of p: usually an
// ancestor (found even after it ended and its pid was reused), else the
// table's process with that pid if it started no later than p (a younger
// one is a reuse of the pid, not the leader).
func (s *Stage) leader(p *proctree.Proc, pid uint32) *proctree.Proc {
	if pid == 0 { // session or group 0: the kernel's own, no leader
		return nil
	}
	for q, i := p, 0; q != nil && i < 64; q, i = q.Parent(), i+1 {
		if q.PID == pid {
			return q
		}
	}
	if g := s.table.Get(pid); g != nil && g.StartBoot <= p.StartBoot {
		return g
	}
	return nil
}

// root is the names cache of a mount namespace, remembering the last one
// (nearly every event is in the host's).
func (s *Stage) root(mntns, pid uint32) *rootNames {
	if s.lastRoot != nil && s.lastNS == mntns && !s.lastRoot.failed.Load() {
		return s.lastRoot
	}
	r := s.opt.Users.rootFor(mntns, pid)
	if r != nil {
		s.lastNS, s.lastRoot = mntns, r
	}
	return r
}

func (s *Stage) userName(mntns, pid, uid uint32) string {
	if s.opt.Users == nil {
		return ""
	}
	if mntns == 0 {
		mntns = s.opt.Users.HostMntNS
	}
	if r := s.root(mntns, pid); r != nil {
		return r.passwd.name(uid)
	}
	return ""
}

// containerOf finds the container of a process from its cgroup, cached
// per cgroup id. The id is the inode of the cgroup's directory in the v2
// hierarchy, so the path is found there even after the process ended;
// /proc/PID/cgroup is the fallback (and the source for seeded processes,
// which come without an id).
func (s *Stage) containerOf(pid uint32, cgroupID uint64) string {
	if cgroupID != 0 {
		if e, ok := s.cg[cgroupID]; ok {
			return e.info.ContainerID
		}
		if path, ok := s.cgroupPath(cgroupID); ok {
			e := &cgEntry{}
			e.info, e.ok = ParseCgroupPath(path)
			s.remember(cgroupID, e)
			return e.info.ContainerID
		}
	}
	b, err := os.ReadFile(s.opt.Proc + "/" + strconv.FormatUint(uint64(pid), 10) + "/cgroup")
	if err != nil {
		// Gone already: nothing is cached, the next process in the
		// cgroup tries again.
		s.cgErrors.Add(1)
		return ""
	}
	e := &cgEntry{}
	var bad int
	e.info, e.ok, bad = ParseCgroupFile(b)
	if bad > 0 {
		s.cgErrors.Add(1)
	}
	if cgroupID != 0 {
		s.remember(cgroupID, e)
	} else if e.info.ContainerID != "" {
		s.byID(e.info.ContainerID, e)
	}
	return e.info.ContainerID
}

func (s *Stage) remember(cgroupID uint64, e *cgEntry) {
	if len(s.cg) >= s.opt.MaxContainers {
		clear(s.cg)
	}
	s.cg[cgroupID] = e
	if e.info.ContainerID != "" {
		s.byID(e.info.ContainerID, e)
	}
}

// cgroupPath finds the v2 cgroup whose directory has inode id, rescanning
// the hierarchy (at most every 50ms) when it does not know it.
func (s *Stage) cgroupPath(id uint64) (string, bool) {
	if s.cgRoot == "" {
		return "", false
	}
	if p, ok := s.cgPaths[id]; ok {
		return p, true
	}
	if p, ok := s.cgroupByHandle(id); ok {
		return p, true
	}
	if time.Since(s.cgScanned) < 50*time.Millisecond {
		return "", false
	}
	s.cgScanned = time.Now()
	paths := make(map[uint64]string, len(s.cgPaths)+16)
	_ = filepath.WalkDir(s.cgRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Stat(path, &st) == nil {
			rel := strings.TrimPrefix(path, s.cgRoot)
			if rel == "" {
				rel = "/"
			}
			paths[st.Ino] = rel
		}
		return nil
	})
	s.cgPaths = paths
	p, ok := paths[id]
	return p, ok
}

// cgroupByHandle opens the cgroup directory by its id as a kernfs file
// handle (the id is the handle; open_by_handle_at needs
// CAP_DAC_READ_SEARCH) and reads its path back: exact and without a scan.
func (s *Stage) cgroupByHandle(id uint64) (string, bool) {
	if s.cgRootFD < 0 {
		return "", false
	}
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], id)
	fd, err := unix.OpenByHandleAt(s.cgRootFD, unix.NewFileHandle(fileidKernfs, b[:]), unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return "", false
	}
	defer unix.Close(fd)
	path, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !strings.HasPrefix(path, s.cgRoot) {
		return "", false
	}
	rel := strings.TrimPrefix(path, s.cgRoot)
	if rel == "" {
		rel = "/"
	}
	return rel, true
}

// fileidKernfs is FILEID_KERNFS, the handle type of kernfs (cgroup2).
const fileidKernfs = 0xfe

// cgroupV2Root is where the v2 hierarchy is mounted: /sys/fs/cgroup, or
// /sys/fs/cgroup/unified on a hybrid system.
func cgroupV2Root() string {
	for _, p := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p
		}
	}
	return ""
}

// byID remembers the cgroup facts of a container id (for its runtime
// and pod uid).
func (s *Stage) byID(id string, e *cgEntry) {
	if _, ok := s.ctr[id]; !ok {
		if len(s.ctr) >= s.opt.MaxContainers {
			clear(s.ctr)
		}
		s.ctr[id] = e
	}
}

func (s *Stage) containerFacts(en *event.Enrichment, p *proctree.Proc) {
	if p.Container == "" {
		return
	}
	e := s.ctr[p.Container]
	c := &event.Container{ID: p.Container}
	if e != nil {
		c.Runtime = e.info.Runtime
	}
	if s.opt.Kubelet != nil {
		if kc := s.opt.Kubelet.Container(p.Container); kc != nil {
			c = kc
		}
		if e != nil && e.info.PodUID != "" {
			en.Pod = s.opt.Kubelet.Pod(e.info.PodUID)
			if en.Pod == nil {
				en.Pod = &event.Pod{UID: e.info.PodUID}
			}
		}
	} else if e != nil && e.info.PodUID != "" {
		en.Pod = &event.Pod{UID: e.info.PodUID}
	}
	en.Container = c
}

func (s *Stage) syncStats() {
	st := s.table.Stats()
	s.live.Store(uint64(st.Live))
	s.exited.Store(uint64(st.Exited))
	s.evicted.Store(st.Evicted)
	s.replaced.Store(st.Replaced)
	s.filled.Store(st.FilledFromProcfs)
}

// Stats returns the counters.
func (s *Stage) Stats() Stats {
	return Stats{
		Events: s.events.Load(), Unknown: s.unknown.Load(), Held: s.heldN.Load(), Released: s.released.Load(),
		HoldFull: s.holdFull.Load(), ProcfsFilled: s.filled.Load(), CgroupErrors: s.cgErrors.Load(),
		LiveProcs: s.live.Load(), ExitedProcs: s.exited.Load(), EvictedProcs: s.evicted.Load(),
		ReplacedProcs: s.replaced.Load(),
	}
}
