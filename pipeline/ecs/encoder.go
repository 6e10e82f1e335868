// Package ecs encodes events as Elastic Common Schema documents (8.x), so
// Kibana needs no glue. Fields ECS does not define live under "bansho.".
// The encoder appends JSON by hand: no reflection, no allocation per field.
package ecs

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// Version is the ECS version the documents follow.
const Version = "8.11.0"

// Encoder turns events into ECS documents. Safe for concurrent use.
type Encoder struct {
	Host    Host
	Version string // bansho's version, for agent.version

	idOnce   sync.Once
	idPrefix string
	seq      atomic.Uint64

	staticOnce sync.Once
	static     []byte // "ecs", "agent" and "host": the same in every document

	idsMu sync.Mutex
	ids   map[entityKey]string // entity ids by (pid, start); bounded
}

type entityKey struct {
	pid   uint32
	start uint64
}

// maxCachedIDs bounds the entity id cache; past it the cache starts over.
const maxCachedIDs = 16384

// eventID is unique per document: a random prefix per sensor run and a
// sequence number.
func (e *Encoder) eventID() string {
	e.idOnce.Do(func() {
		var b [8]byte
		_, _ = rand.Read(b[:])
		e.idPrefix = hex.EncodeToString(b[:])
	})
	return e.idPrefix + "-" + strconv.FormatUint(e.seq.Add(1), 10)
}

// Append appends one document for ev to dst (no trailing newline).
func (e *Encoder) Append(dst []byte, ev *event.Event) []byte {
	o := obj{b: dst, first: make([]bool, 0, 6)}
	o.open()
	o.time("@timestamp", ev.Time)
	e.staticOnce.Do(func() {
		s := obj{first: []bool{false}}
		s.section("ecs")
		s.str("version", Version)
		s.close()
		s.section("agent")
		s.str("type", "bansho")
		s.str("name", "bansho")
		s.strNE("version", e.Version)
		s.close()
		e.host(&s)
		e.static = s.b
	})
	o.b = append(o.b, e.static...)

	switch ev.Op {
	case event.OpExec, event.OpFork, event.OpExit:
		e.processEvent(&o, ev)
	case event.OpFileOpen, event.OpFileWrite, event.OpFileNS:
		e.fileEvent(&o, ev)
	case event.OpNetConnect, event.OpNetAccept, event.OpNetSend, event.OpTLSWrite:
		e.netEvent(&o, ev)
	case event.OpHealth:
		e.healthEvent(&o, ev)
	case event.OpState:
		e.stateEvent(&o, ev)
	default:
		e.eventMeta(&o, ev, "event", []string{"host"}, []string{"info"}, "unknown", "bansho.unknown", "")
	}
	if ev.Op != event.OpHealth && ev.Op != event.OpState {
		e.process(&o, ev)
		o.section("user")
		o.ustr("id", uint64(ev.Proc.EUID))
		o.close()
	}
	e.bansho(&o, ev)
	o.close()
	return o.b
}

func (e *Encoder) host(o *obj) {
	h := &e.Host
	o.section("host")
	o.strNE("name", h.Name)
	o.strNE("hostname", h.Name)
	o.strNE("id", h.ID)
	o.strNE("architecture", h.Arch)
	if h.BootID != "" {
		o.section("boot")
		o.str("id", h.BootID)
		o.close()
	}
	if h.PidNSIno != 0 {
		o.uint("pid_ns_ino", h.PidNSIno)
	}
	if len(h.IPs) > 0 {
		o.strs("ip", h.IPs)
	}
	o.section("os")
	o.strNE("type", h.OSType)
	o.strNE("kernel", h.OSKernel)
	o.strNE("name", h.OSName)
	o.strNE("version", h.OSVersion)
	o.strNE("family", h.OSFamily)
	o.strNE("platform", h.OSPlatform)
	o.close()
	o.close()
}

func (e *Encoder) eventMeta(o *obj, ev *event.Event, kind string, category, types []string, action, dataset, outcome string) {
	o.section("event")
	o.str("id", e.eventID())
	o.str("kind", kind)
	o.strs("category", category)
	o.strs("type", types)
	o.str("action", action)
	o.str("module", "bansho")
	o.str("dataset", dataset)
	o.strNE("outcome", outcome)
	o.close()
}

func outcomeOf(ret int64) string {
	if ret >= 0 || ret == -115 /* EINPROGRESS: the connection is under way */ {
		return "success"
	}
	return "failure"
}

// EntityIDOf is the entity id of a process, cached: every event of a
// process and of its children names it.
func (e *Encoder) EntityIDOf(pid uint32, startBoot uint64) string {
	k := entityKey{pid, startBoot}
	e.idsMu.Lock()
	id, ok := e.ids[k]
	e.idsMu.Unlock()
	if ok {
		return id
	}
	id = EntityID(e.Host.ID, e.Host.PidNSIno, e.Host.BootID, pid, startBoot)
	e.idsMu.Lock()
	if e.ids == nil || len(e.ids) >= maxCachedIDs {
		e.ids = make(map[entityKey]string, 1024)
	}
	e.ids[k] = id
	e.idsMu.Unlock()
	return id
}

func (e *Encoder) processEvent(o *obj, ev *event.Event) {
	switch ev.Op {
	case event.OpExec:
		e.eventMeta(o, ev, "event", []string{"process"}, []string{"start"}, "exec", "bansho.process", "success")
	case event.OpFork:
		e.eventMeta(o, ev, "event", []string{"process"}, []string{"start"}, "fork", "bansho.process", "success")
	case event.OpExit:
		outcome := "success"
		if ev.Exit.Status != 0 {
			outcome = "failure"
		}
		e.eventMeta(o, ev, "event", []string{"process"}, []string{"end"}, "end", "bansho.process", outcome)
	}
}

// process writes process.* for the acting task.
func (e *Encoder) process(o *obj, ev *event.Event) {
	p := &ev.Proc
	o.section("process")
	o.str("entity_id", e.EntityIDOf(p.PID, p.StartBoot))
	o.uint("pid", uint64(p.PID))
	o.section("thread")
	o.uint("id", uint64(p.TID))
	o.close()
	o.user("name", p.Comm)
	if !p.Start.IsZero() {
		o.time("start", p.Start)
	}
	if x := ev.Exec; x != nil {
		o.userNE("executable", x.Executable)
		o.userNE("working_directory", x.Cwd)
		if len(x.Args) > 0 {
			o.users("args", x.Args)
			o.uint("args_count", uint64(x.Argc))
			o.user("command_line", strings.Join(x.Args, " "))
		}
	}
	if x := ev.Exit; x != nil {
		o.int("exit_code", int64(x.Code()))
		o.time("end", ev.Time)
	}
	o.boolean("interactive", p.TTY != 0)
	if p.TTY != 0 {
		o.section("tty")
		o.section("char_device")
		o.uint("major", uint64(p.TTY>>20))
		o.uint("minor", uint64(p.TTY&0xfffff))
		o.close()
		o.close()
	}
	o.section("user")
	o.ustr("id", uint64(p.EUID))
	o.close()
	o.section("group")
	o.ustr("id", uint64(p.EGID))
	o.close()
	o.section("real_user")
	o.ustr("id", uint64(p.UID))
	o.close()
	o.section("real_group")
	o.ustr("id", uint64(p.GID))
	o.close()
	o.section("parent")
	o.uint("pid", uint64(p.PPID))
	if p.ParentStartBoot != 0 {
		o.str("entity_id", e.EntityIDOf(p.PPID, p.ParentStartBoot))
		o.time("start", p.ParentStart)
	}
	o.close()
	if p.SID != 0 {
		o.section("session_leader")
		o.uint("pid", uint64(p.SID))
		o.close()
	}
	if p.PGID != 0 {
		o.section("group_leader")
		o.uint("pid", uint64(p.PGID))
		o.close()
	}
	o.close()
}

var openFlagNames = []struct {
	bit  uint32
	name string
}{
	{0o100, "O_CREAT"}, {0o200, "O_EXCL"}, {0o400, "O_NOCTTY"}, {0o1000, "O_TRUNC"},
	{0o2000, "O_APPEND"}, {0o4000, "O_NONBLOCK"}, {0o10000, "O_DSYNC"}, {0o40000, "O_DIRECT"},
	{0o200000, "O_DIRECTORY"}, {0o400000, "O_NOFOLLOW"}, {0o1000000, "O_NOATIME"},
	{0o2000000, "O_CLOEXEC"}, {0o10000000, "O_PATH"}, {0o20000000 | 0o200000, "O_TMPFILE"},
}

// OpenFlags names the bits of an open(2) flags word.
func OpenFlags(f uint32) []string {
	out := make([]string, 0, 4)
	switch f & 3 {
	case 0:
		out = append(out, "O_RDONLY")
	case 1:
		out = append(out, "O_WRONLY")
	case 2:
		out = append(out, "O_RDWR")
	}
	for _, n := range openFlagNames {
		if f&n.bit == n.bit {
			out = append(out, n.name)
		}
	}
	return out
}

func fileType(mode uint32) string {
	switch mode & 0o170000 {
	case 0o100000:
		return "file"
	case 0o040000:
		return "dir"
	case 0o120000:
		return "symlink"
	case 0o140000:
		return "socket"
	case 0o010000:
		return "fifo"
	case 0o020000:
		return "char_device"
	case 0o060000:
		return "block_device"
	}
	return ""
}

func (e *Encoder) fileEvent(o *obj, ev *event.Event) {
	f := ev.File
	action := "open"
	types := make([]string, 0, 3)
	switch ev.Op {
	case event.OpFileOpen:
		types = append(types, "access")
		if f.Flags&0o100 != 0 {
			types = append(types, "creation")
		}
		if f.Flags&3 != 0 || f.Flags&0o1000 != 0 {
			types = append(types, "change")
		}
	case event.OpFileWrite:
		action = "write"
		types = append(types, "change")
	default:
		action = f.Kind.Action()
		switch f.Kind {
		case event.NSUnlink, event.NSRmdir:
			types = append(types, "deletion")
		case event.NSLink, event.NSSymlink, event.NSMkdir:
			types = append(types, "creation")
		default:
			types = append(types, "change")
		}
	}
	e.eventMeta(o, ev, "event", []string{"file"}, types, action, "bansho.file", outcomeOf(f.Ret))

	o.section("file")
	if f.Path != "" {
		o.user("path", f.Path)
		o.user("name", path.Base(f.Path))
		o.user("directory", path.Dir(f.Path))
		if ext := path.Ext(f.Path); len(ext) > 1 {
			o.user("extension", ext[1:])
		}
	}
	o.userNE("target_path", f.TargetPath)
	if f.Ino != 0 {
		o.ustr("inode", f.Ino)
		o.key("device")
		o.b = append(o.b, '"')
		o.b = strconv.AppendUint(o.b, f.Dev>>20, 10)
		o.b = append(o.b, ':')
		o.b = strconv.AppendUint(o.b, f.Dev&0xfffff, 10)
		o.b = append(o.b, '"')
		o.key("mode")
		o.b = append(o.b, '"')
		o.b = strconv.AppendUint(o.b, uint64(f.IMode&0o7777), 8)
		o.b = append(o.b, '"')
		o.ustr("uid", uint64(f.IUID))
		o.ustr("gid", uint64(f.IGID))
		o.strNE("type", fileType(f.IMode))
	}
	o.close()
}

func (e *Encoder) netEvent(o *obj, ev *event.Event) {
	n := ev.Net
	action, direction := "connect", "egress"
	types := []string{"connection", "start"}
	switch ev.Op {
	case event.OpNetAccept:
		action, direction = "accept", "ingress"
	case event.OpNetSend, event.OpTLSWrite:
		action = "send"
		types = []string{"connection", "info"}
	}
	e.eventMeta(o, ev, "event", []string{"network"}, types, action, "bansho.network", outcomeOf(n.Ret))
	if n.Src.Addr().IsValid() {
		o.section("source")
		o.str("ip", n.Src.Addr().String())
		o.uint("port", uint64(n.Src.Port()))
		o.close()
	}
	if n.Dst.Addr().IsValid() {
		o.section("destination")
		o.str("ip", n.Dst.Addr().String())
		o.uint("port", uint64(n.Dst.Port()))
		o.close()
	}
	o.section("network")
	transport := ""
	switch n.Protocol {
	case 6:
		transport = "tcp"
	case 17:
		transport = "udp"
	}
	o.strNE("transport", transport)
	if n.Protocol != 0 {
		o.ustr("iana_number", uint64(n.Protocol))
	}
	if n.Family == 10 && !n.Dst.Addr().Unmap().Is4() {
		o.str("type", "ipv6")
	} else {
		o.str("type", "ipv4")
	}
	o.str("direction", direction)
	if ev.Op == event.OpTLSWrite {
		o.str("protocol", "tls") // plaintext seen at SSL_write: peer not known here
	}
	if transport != "" && n.Src.Addr().IsValid() && n.Dst.Addr().IsValid() {
		o.str("community_id", CommunityID(uint8(n.Protocol), n.Src, n.Dst))
	}
	o.close()
	if n.Src.Addr().IsValid() || n.Dst.Addr().IsValid() {
		var ips []string
		for _, a := range []netip.Addr{n.Src.Addr(), n.Dst.Addr()} {
			if a.IsValid() {
				ips = append(ips, a.String())
			}
		}
		o.section("related")
		o.strs("ip", ips)
		o.close()
	}
}

func (e *Encoder) healthEvent(o *obj, ev *event.Event) {
	e.eventMeta(o, ev, "metric", []string{"host"}, []string{"info"}, "sensor-health", "bansho.health", "")
}

func (e *Encoder) stateEvent(o *obj, ev *event.Event) {
	e.eventMeta(o, ev, "state", []string{"host"}, []string{"info"}, ev.State.Action, "bansho.state", "")
	o.strNE("message", ev.State.Message)
}

// bansho writes the fields ECS has no place for.
func (e *Encoder) bansho(o *obj, ev *event.Event) {
	o.section("bansho")
	if ev.Op != event.OpHealth && ev.Op != event.OpState {
		p := &ev.Proc
		if p.AUID != event.NoUID {
			o.section("login_user")
			o.ustr("id", uint64(p.AUID))
			o.close()
		}
		if p.SessionID != event.NoUID {
			o.uint("audit_session_id", uint64(p.SessionID))
		}
		o.uint("cgroup_id", p.CgroupID)
		o.uint("mnt_ns", uint64(p.MntNS))
		o.uint("pid_ns", uint64(p.PidNS))
	}
	if ev.Has(event.FlagTruncated) {
		o.boolean("truncated", true)
	}
	if o.redacted {
		o.boolean("redacted", true)
	}
	if c := ev.Content; c != nil {
		o.section("content")
		contentFinding(o, "my_number", &c.MyNumber)
		contentFinding(o, "corporate_number", &c.CorporateNumber)
		o.uint("sampled_bytes", uint64(c.SampledBytes))
		o.boolean("truncated", c.Truncated)
		o.close()
	}
	if ev.Has(event.FlagReadFailed) {
		o.boolean("read_failed", true)
	}
	switch {
	case ev.Exec != nil:
		o.section("exec")
		o.user("filename", ev.Exec.Filename)
		if ev.Exec.OldPID != ev.Proc.PID {
			o.uint("old_pid", uint64(ev.Exec.OldPID))
		}
		o.close()
		o.boolean("tainted", ev.Has(event.FlagTainted))
	case ev.Fork != nil:
		o.boolean("tainted", ev.Has(event.FlagTainted))
	case ev.Exit != nil:
		o.section("exit")
		o.uint("status", uint64(ev.Exit.Status))
		if sig := ev.Exit.Signal(); sig != 0 {
			o.uint("signal", uint64(sig))
		}
		o.close()
	case ev.File != nil:
		f := ev.File
		o.section("file")
		o.boolean("protected", ev.Has(event.FlagProtected))
		o.boolean("tainted", ev.Has(event.FlagTainted))
		o.str("syscall", SyscallName(f.Syscall))
		o.int("ret", f.Ret)
		if f.FD >= 0 {
			o.int("fd", int64(f.FD))
		}
		if ev.Op == event.OpFileOpen {
			o.strs("flags", OpenFlags(f.Flags))
			if f.Flags&0o100 != 0 {
				o.str("create_mode", strconv.FormatUint(uint64(f.Mode&0o7777), 8))
			}
		}
		if ev.Op == event.OpFileWrite {
			if f.Ret > 0 {
				o.int("bytes", f.Ret)
			}
			o.uint("requested", f.Count)
			if f.Pos >= 0 {
				o.int("offset", f.Pos)
			}
		}
		switch f.Kind {
		case event.NSChmod, event.NSMkdir:
			o.str("new_mode", strconv.FormatUint(uint64(f.Mode&0o7777), 8))
		case event.NSChown:
			if f.UID >= 0 {
				o.ustr("new_uid", uint64(f.UID))
			}
			if f.GID >= 0 {
				o.ustr("new_gid", uint64(f.GID))
			}
		case event.NSTruncate:
			o.uint("length", f.Count)
		}
		o.userNE("name", f.Name)
		o.userNE("anchor", f.Anchor)
		o.close()
	case ev.Net != nil:
		n := ev.Net
		o.section("network")
		o.str("syscall", SyscallName(n.Syscall))
		o.int("ret", n.Ret)
		if n.FD >= 0 {
			o.int("fd", int64(n.FD))
		}
		if n.Bytes > 0 {
			o.uint("bytes", n.Bytes)
		}
		o.boolean("tainted", ev.Has(event.FlagTainted))
		if ev.Op == event.OpTLSWrite {
			o.boolean("tls", true)
		}
		o.close()
	case ev.Health != nil:
		h := ev.Health
		o.section("health")
		o.section("events")
		o.uint("received", h.Received)
		o.uint("emitted", h.Emitted)
		o.close()
		o.section("drops")
		o.uint("total", h.DropsTotal)
		for _, k := range sortedKeys(h.Drops) {
			o.uint(k, h.Drops[k])
		}
		o.close()
		o.section("counters")
		for _, k := range sortedKeys(h.Counters) {
			o.uint(k, h.Counters[k])
		}
		o.close()
		o.uint("output_errors", h.OutputErrors)
		o.key("uptime_seconds")
		o.b = strconv.AppendFloat(o.b, h.Uptime.Round(time.Millisecond).Seconds(), 'f', -1, 64)
		o.close()
	case ev.State != nil:
		s := ev.State
		o.section("state")
		o.strNE("version", s.Version)
		if len(s.Details) > 0 {
			o.section("details")
			for _, k := range sortedKeys(s.Details) {
				o.str(k, s.Details[k])
			}
			o.close()
		}
		o.close()
	}
	o.close()
}

// contentFinding writes what the detector found: counts, confidence and
// keyed hashes. event.Finding has no field that could hold a number.
func contentFinding(o *obj, name string, f *event.Finding) {
	o.section(name)
	o.uint("distinct", uint64(f.Distinct))
	o.uint("occurrences", uint64(f.Occurrences))
	o.str("confidence", f.Confidence)
	if len(f.Reasons) > 0 {
		o.strs("reasons", f.Reasons)
	}
	if len(f.Hashes) > 0 {
		o.strs("hashes", f.Hashes)
	}
	if len(f.Encodings) > 0 {
		o.strs("encodings", f.Encodings)
	}
	if len(f.Layouts) > 0 {
		o.strs("layouts", f.Layouts)
	}
	o.close()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Small maps: insertion sort keeps this allocation-light.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// SyscallName names the x86_64 syscalls the sensor reports.
func SyscallName(nr uint32) string {
	if n, ok := syscallNames[nr]; ok {
		return n
	}
	return strconv.FormatUint(uint64(nr), 10)
}

var syscallNames = map[uint32]string{
	1: "write", 2: "open", 18: "pwrite64", 20: "writev", 40: "sendfile", 42: "connect", 43: "accept",
	44: "sendto", 46: "sendmsg", 76: "truncate", 77: "ftruncate", 82: "rename", 83: "mkdir", 84: "rmdir",
	85: "creat", 86: "link", 87: "unlink", 88: "symlink", 90: "chmod", 91: "fchmod", 92: "chown",
	93: "fchown", 94: "lchown", 257: "openat", 258: "mkdirat", 260: "fchownat", 263: "unlinkat",
	264: "renameat", 265: "linkat", 266: "symlinkat", 268: "fchmodat", 275: "splice", 288: "accept4",
	296: "pwritev", 307: "sendmmsg", 316: "renameat2", 326: "copy_file_range", 328: "pwritev2",
	437: "openat2", 452: "fchmodat2",
}
