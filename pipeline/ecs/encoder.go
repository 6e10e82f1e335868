// Package ecs encodes events as Elastic Common Schema documents (8.11), so
// Kibana needs no glue. Fields ECS does not define live under "bansho.".
//
// The encoder appends JSON by hand: no reflection, and no allocation in
// the steady state for kernel events (health and state documents, which
// carry maps, allocate a little). Every string that came from the traced
// system (argv, paths, names) is escaped so the document is always valid
// JSON, and has any My Number in it masked (see Redact).
package ecs

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bansho-sec/bansho/internal/dockey"
	"github.com/bansho-sec/bansho/internal/event"
)

// Version is the ECS version the documents follow.
const Version = "8.11.0"

// Encoder turns events into ECS documents. Safe for concurrent use; set
// the exported fields before the first Append and do not change them
// after.
type Encoder struct {
	Host    Host
	Version string // bansho's version, for agent.version

	// Names, when set, resolves a uid to a user name for user.name,
	// process.*user.name, file.owner and bansho.login_user.name. Groups
	// does the same for gids. Both are called while encoding, for every
	// document: they must be fast (cached) and safe for concurrent use,
	// and return "" for an unknown id. Nil leaves names out.
	Names  func(uid uint32) string
	Groups func(gid uint32) string

	// Now is the clock for event.created; nil is time.Now.
	Now func() time.Time

	once   sync.Once
	static []byte // "ecs", "agent" and "host": the same in every document
	runKey [8]byte
	keySet bool // runKey set by a test
	seq    atomic.Uint64

	// restatic replaces static once the host's addresses changed.
	restatic atomic.Pointer[[]byte]

	argsCache argsCache // encoded argument lists of the process table
	procCache procCache // encoded processes of the process table

	idsMu sync.Mutex
	ids   map[entityKey][entityIDLen]byte // entity ids by (pid, start); bounded
}

type entityKey struct {
	pid   uint32
	start uint64
}

// maxCachedIDs bounds the entity id cache; past it the cache starts over.
const maxCachedIDs = 16384

func (e *Encoder) init() {
	if !e.keySet {
		_, _ = rand.Read(e.runKey[:]) // never fails (crypto/rand, Go 1.24+)
	}
	s := obj{}
	s.open()
	s.section("ecs")
	s.str("version", Version)
	s.close()
	s.section("agent")
	s.str("type", "bansho")
	s.strNE("version", e.Version)
	s.str("ephemeral_id", hex.EncodeToString(e.runKey[:]))
	s.close()
	e.host(&s)
	// Members only: Append writes the braces.
	e.static = s.b[1:]
}

func (e *Encoder) host(o *obj) {
	h := &e.Host
	hostname := h.Hostname
	if hostname == "" {
		hostname = h.Name
	}
	o.section("host")
	o.userNE("name", h.Name)
	o.userNE("hostname", hostname)
	o.strNE("id", h.ID)
	o.strNE("architecture", h.Arch)
	if h.BootID != "" {
		o.section("boot")
		o.str("id", h.BootID)
		o.close()
	}
	if h.PidNSIno != 0 {
		o.ustr("pid_ns_ino", h.PidNSIno) // a keyword in ECS
	}
	if len(h.IPs) > 0 {
		o.strs("ip", h.IPs)
	}
	o.section("os")
	o.strNE("type", h.OSType)
	o.strNE("kernel", h.OSKernel)
	o.strNE("name", h.OSName)
	o.strNE("full", h.OSFull)
	o.strNE("version", h.OSVersion)
	o.strNE("family", h.OSFamily)
	o.strNE("platform", h.OSPlatform)
	o.close()
	o.close()
}

// meta is the categorization of a document.
type meta struct {
	kind     string
	category string // JSON array
	types    string // JSON array
	action   string
	dataset  string
	outcome  string // "" leaves event.outcome out
}

// Append appends one document for ev to dst (no trailing newline) and
// returns the extended buffer. An event whose part for its Op is missing
// is still encoded, with what it has.
func (e *Encoder) Append(dst []byte, ev *event.Event) []byte {
	return e.AppendMeta(dst, ev, nil)
}

// AppendMeta is Append that also fills m, when it is not nil, with what
// the store indexes the document by (its time, kind and keys), so the
// store need not parse it again. An alert's keys are its trigger's: see
// AlertMeta.
func (e *Encoder) AppendMeta(dst []byte, ev *event.Event, m *dockey.Meta) []byte {
	e.once.Do(e.init)
	if ev.Op == event.OpAlert && ev.Alert != nil {
		if m != nil {
			m.Valid = false
		}
		return e.appendAlert(dst, ev)
	}
	o := obj{b: dst, ix: m}
	if m != nil {
		// UnixNano is defined for the years 1678-2261 only.
		y := ev.Time.UTC().Year()
		*m = dockey.Meta{Time: ev.Time.UnixNano(), Keys: m.Keys[:0], Valid: y > 1678 && y < 2261}
	}
	o.open()
	o.time("@timestamp", ev.Time)
	o.b = append(o.b, ',')
	if p := e.restatic.Load(); p != nil {
		o.b = append(o.b, *p...)
	} else {
		o.b = append(o.b, e.static...)
	}

	cat, kernel := categorize(ev)
	if m != nil {
		m.Kind = cat.kind
	}
	e.eventSection(&o, ev, &cat)
	if kernel {
		e.process(&o, ev)
		o.section("user")
		mark := len(o.b)
		o.ustr("id", uint64(ev.Proc.EUID))
		o.note(dockey.User, mark)
		mark = len(o.b)
		o.userNE("name", e.nameFor(ev, ev.Proc.EUID))
		o.note(dockey.User, mark)
		o.close()
		e.container(&o, ev.Enriched)
	}
	switch {
	case ev.File != nil:
		e.file(&o, ev.File)
	case ev.Net != nil:
		netFields(&o, ev)
	}
	if kernel {
		e.related(&o, ev)
	}
	if ev.State != nil {
		o.userNE("message", ev.State.Message)
	}
	e.bansho(&o, ev, kernel)
	o.close()
	return o.b
}

// categorize says what a document is; kernel is false for the sensor's own
// documents (health, state), which carry no acting process.
func categorize(ev *event.Event) (m meta, kernel bool) {
	switch ev.Op {
	case event.OpExec:
		return meta{"event", `["process"]`, `["start"]`, "exec", "bansho.process", "success"}, true
	case event.OpFork:
		return meta{"event", `["process"]`, `["start"]`, "fork", "bansho.process", "success"}, true
	case event.OpExit:
		// No outcome: an exit is not a call that succeeds or fails, and a
		// non-zero status (grep finding nothing) is not a failure to flag.
		return meta{"event", `["process"]`, `["end"]`, "end", "bansho.process", ""}, true
	case event.OpFileOpen, event.OpFileWrite, event.OpFileNS:
		return fileMeta(ev), true
	case event.OpNetConnect, event.OpNetAccept, event.OpNetSend, event.OpTLSWrite:
		return netMeta(ev), true
	case event.OpSelfSignal, event.OpSelfPtrace, event.OpSelfDetach:
		return selfMeta(ev)
	case event.OpContentScan:
		// The sensor read a file a tainted process wrote: the writer is
		// the acting process, the findings are of the whole file.
		return meta{"event", `["file"]`, `["info"]`, "content-scan", "bansho.file", "success"}, true
	case event.OpHealth:
		return meta{"metric", `["host"]`, `["info"]`, "sensor-health", "bansho.health", ""}, false
	case event.OpState:
		action := "sensor-state"
		if ev.State != nil && ev.State.Action != "" {
			action = ev.State.Action
		}
		return meta{"state", `["host"]`, `["info"]`, action, "bansho.state", ""}, false
	}
	return meta{"event", `["host"]`, `["info"]`, ev.Op.String(), "bansho.unknown", ""}, true
}

func (e *Encoder) eventSection(o *obj, ev *event.Event, m *meta) {
	o.section("event")
	seq := e.seq.Add(1)
	o.key("id")
	o.b = e.appendEventID(o.b, seq)
	o.uint("sequence", seq)
	o.str("kind", m.kind)
	o.raw("category", m.category)
	o.raw("type", m.types)
	o.user("action", m.action) // a state action is data; others are constants
	o.str("module", "bansho")
	o.str("dataset", m.dataset)
	o.strNE("outcome", m.outcome)
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	o.time("created", now())
	o.close()
}

var base64URL = base64.RawURLEncoding

// appendEventID writes event.id: unique per document. It is the run key
// (random per encoder, also agent.ephemeral_id) and a sequence number, 16
// bytes in unpadded URL-safe base64. The sequence is also event.sequence,
// so a gap in one run's documents is visible in the store.
func (e *Encoder) appendEventID(b []byte, seq uint64) []byte {
	var id [16]byte
	copy(id[:8], e.runKey[:])
	binary.BigEndian.PutUint64(id[8:], seq)
	b = append(b, '"')
	b = base64URL.AppendEncode(b, id[:])
	return append(b, '"')
}

// appendEntity writes the quoted entity id of a process, from the cache:
// every event of a process and of its children names it.
func (e *Encoder) appendEntity(b []byte, pid uint32, startBoot uint64) []byte {
	k := entityKey{pid, startBoot}
	e.idsMu.Lock()
	id, ok := e.ids[k]
	e.idsMu.Unlock()
	if !ok {
		appendEntityID(id[:0], e.Host.ID, e.Host.PidNSIno, e.Host.BootID, pid, startBoot)
		e.idsMu.Lock()
		if e.ids == nil || len(e.ids) >= maxCachedIDs {
			e.ids = make(map[entityKey][entityIDLen]byte, 1024)
		}
		e.ids[k] = id
		e.idsMu.Unlock()
	}
	b = append(b, '"')
	b = append(b, id[:]...)
	return append(b, '"')
}

func (e *Encoder) userName(o *obj, k string, uid uint32) {
	if e.Names != nil {
		o.userNE(k, e.Names(uid))
	}
}

func (e *Encoder) groupName(o *obj, k string, gid uint32) {
	if e.Groups != nil {
		o.userNE(k, e.Groups(gid))
	}
}

// idSection writes {"id":"<id>","name":...} under k.
func (e *Encoder) idSection(o *obj, ev *event.Event, k string, id uint32, group bool) {
	o.section(k)
	if group {
		o.ustr("id", uint64(id))
		o.userNE("name", e.groupFor(ev, id))
	} else {
		// process.user and process.real_user are indexed.
		mark := len(o.b)
		o.ustr("id", uint64(id))
		o.note(dockey.User, mark)
		mark = len(o.b)
		o.userNE("name", e.nameFor(ev, id))
		o.note(dockey.User, mark)
	}
	o.close()
}

// nameFor names a uid of ev's process: from the enrichment (resolved in
// the process's own root) when it has it, else from Names.
func (e *Encoder) nameFor(ev *event.Event, uid uint32) string {
	if en := ev.Enriched; en != nil {
		p := &ev.Proc
		var n string
		switch uid {
		case p.EUID:
			n = en.UserName
		case p.UID:
			n = en.RealUserName
		}
		if n == "" && uid == p.AUID {
			n = en.LoginUserName
		}
		if n != "" {
			return n
		}
	}
	if e.Names != nil {
		return e.Names(uid)
	}
	return ""
}

// groupFor names a gid of ev's process like nameFor.
func (e *Encoder) groupFor(ev *event.Event, gid uint32) string {
	if en := ev.Enriched; en != nil && gid == ev.Proc.EGID && en.GroupName != "" {
		return en.GroupName
	}
	if e.Groups != nil {
		return e.Groups(gid)
	}
	return ""
}
