package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// Engine runs a rule set over events, one at a time. Eval and EvalDoc
// must be called from one goroutine (the pipeline's writer); Swap may be
// called from any.
type Engine struct {
	cur atomic.Pointer[running]
	b   *builder
	// docs is the lineage of recorded documents (EvalDoc), made on the
	// first one: live events carry theirs in their Enrichment.
	docs     *docProcs
	maxProcs int
	shift    time.Duration

	env  Env
	vm   vm.VM
	out  []*event.Event
	doc  []byte  // the current event's document (not retained)
	memo []uint8 // per condition term: 0 not yet, 1 false, 2 true (this event)

	onError func(rule string, err error)
	rule    *Rule // being evaluated, for onError

	evaluated, fired, failed, suppressed atomic.Uint64
	// State sizes as of the last refresh (every 1024 events), for other
	// goroutines (metrics): the state itself is the evaluator's alone.
	stateKeys, stateEvictions atomic.Uint64
}

// EngineOptions are the engine's view of where it runs.
type EngineOptions struct {
	Host ecs.Host
	// Shift is added to every event's time before windows and business
	// hours are judged: a clock override for tests and drills.
	Shift time.Duration
	// MaxProcesses bounds the engine's own process tables (default 16384):
	// one for live events without an Enrichment (enrich.enabled false),
	// one for recorded documents (replay, rule tests). Each is made only
	// when such an event comes: with enrichment on, the live engine takes
	// processes from the enrichment stage and keeps no table.
	MaxProcesses int
	// OnError, when set, hears about each condition that fails to run
	// (counted in Errors) with the name of the rule being evaluated, from
	// the evaluating goroutine (replay reports them).
	OnError func(rule string, err error)
}

// running is a set with its state: a reload starts with fresh state.
type running struct {
	set  *Set
	seq  map[*Rule]*seqState
	thr  map[*Rule]*thrState
	seen *lru[uint64, time.Time] // recent alerts, for Options.Dedupe
}

// NewEngine returns an engine running set.
func NewEngine(set *Set, o EngineOptions) *Engine {
	if o.MaxProcesses <= 0 {
		o.MaxProcesses = 16384
	}
	h := o.Host
	entityID := func(pid uint32, start uint64) string {
		return ecs.EntityID(h.ID, h.PidNSIno, h.BootID, pid, start)
	}
	e := &Engine{shift: o.Shift, maxProcs: o.MaxProcesses, onError: o.OnError}
	e.b = newBuilder(HostFields{Name: h.Name, ID: h.ID}, entityID, o.MaxProcesses)
	e.Swap(set)
	return e
}

// Swap makes set the running rule set. Sequence and threshold state
// starts over.
func (e *Engine) Swap(set *Set) {
	r := &running{set: set, seq: map[*Rule]*seqState{}, thr: map[*Rule]*thrState{},
		seen: newLRU[uint64, time.Time](set.opts.MaxKeys)}
	for _, rule := range set.Rules {
		switch {
		case rule.seq != nil:
			r.seq[rule] = newSeqState(set.opts.MaxKeys)
		case rule.thr != nil:
			r.thr[rule] = newThrState(set.opts.MaxKeys)
		}
	}
	e.cur.Store(r)
}

// Set is the running rule set.
func (e *Engine) Set() *Set { return e.cur.Load().set }

// Evaluated, Alerts and Errors count events tried, alerts made and
// conditions that failed to run (a type mismatch at run time).
func (e *Engine) Evaluated() uint64 { return e.evaluated.Load() }
func (e *Engine) Alerts() uint64    { return e.fired.Load() }
func (e *Engine) Errors() uint64    { return e.failed.Load() }

// Suppressed counts alerts not made because the same one was made
// within Options.Dedupe.
func (e *Engine) Suppressed() uint64 { return e.suppressed.Load() }

// StateKeys is the number of keys the stateful rules hold, and
// evictions how many were forgotten to stay within the bound, as of the
// last 1024 events; safe from any goroutine.
func (e *Engine) StateKeys() (keys int, evictions uint64) {
	return int(e.stateKeys.Load()), e.stateEvictions.Load()
}

// stateNow measures the state; only from the evaluating goroutine.
func (e *Engine) stateNow() (keys int, evictions uint64) {
	r := e.cur.Load()
	for _, s := range r.seq {
		keys += s.l.Len()
		evictions += s.l.evicted
	}
	for _, s := range r.thr {
		keys += s.l.Len()
		evictions += s.l.evicted
	}
	return keys, evictions
}

// Eval runs the rules over a live event whose ECS document is doc and
// returns the alerts it completes (valid until the next call). Events
// the sensor makes about itself (health, state, alerts) are not tried.
func (e *Engine) Eval(ev *event.Event, doc []byte) (alerts []*event.Event) {
	// A fault in the engine costs this event's alerts (counted), never the
	// pipeline that records every event.
	defer func() {
		if r := recover(); r != nil {
			e.failed.Add(1)
			alerts = nil
		}
	}()
	e.out = e.out[:0]
	switch ev.Op {
	case event.OpHealth, event.OpState, event.OpAlert:
		return nil // the sensor's own documents; any other kind is tried
	}
	e.env.reset()
	e.doc = doc
	s := e.b.fromEvent(ev, &e.env)
	if s == slotUnknown {
		m := map[string]any{}
		if err := json.Unmarshal(doc, &m); err != nil {
			e.failed.Add(1)
			return nil
		}
		if k, _ := lookup(m, "event.kind").(string); k == "alert" || k == "metric" || k == "state" {
			return nil // another stage's alert (a detached probe) or a state document
		}
		e.env.reset()
		s = e.fromDoc(m)
		e.liveLineage(ev)
	} else {
		e.env.Bansho.Compat = ev.Compat // bansho.compat, as the encoder writes it
		if f := ev.File; f != nil && (ev.Op != event.OpFileOpen || f.Flags&3 != 0) {
			// Only changes: integrity and mount facts are reported for
			// modifications, and plain reads are most file events.
			stageFlags(ev, &e.env)
		}
	}
	e.env.Timestamp = e.env.eventTS.Add(e.shift)
	e.run(s)
	return e.out
}

// EvalDoc runs the rules over a recorded ECS document (replay, rule
// tests) and returns the alerts it completes (valid until the next call).
func (e *Engine) EvalDoc(doc []byte) ([]*event.Event, error) {
	e.out = e.out[:0]
	m := map[string]any{}
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("rules: not a JSON document: %w", err)
	}
	if k, _ := lookup(m, "event.kind").(string); k == "alert" || k == "metric" || k == "state" {
		return nil, nil
	}
	e.env.reset()
	e.doc = doc
	s := e.fromDoc(m)
	e.docLineage(&e.env)
	e.env.Timestamp = e.env.eventTS.Add(e.shift)
	e.run(s)
	return e.out, nil
}

// stageFlags sets the fields that stages other than the kernel record's
// decoding put on a live event: self-protection's FlagSelf and
// FlagIntegrity (bansho.self_target, bansho.file.integrity) and the
// enrichment's mount facts (bansho.file.mount.*), as the encoder writes
// them into the document.
func stageFlags(ev *event.Event, env *Env) {
	if ev.Has(event.FlagSelf) {
		env.Bansho.SelfTarget = true
	}
	if env.Event.Category != "file" {
		return
	}
	if ev.Has(event.FlagIntegrity) {
		env.Bansho.File.Integrity = true
	}
	if en := ev.Enriched; en != nil && en.Mount != nil {
		m := &env.Bansho.File.Mount
		m.Removable, m.Network, m.FSType = en.Mount.Removable, en.Mount.Network, en.Mount.FSType
	}
}

// eventID is the event.id of the current event.
func (e *Engine) eventID() string {
	if e.env.id == "" {
		e.env.id = docEventID(e.doc)
	}
	return e.env.id
}

var idKey = []byte(`"event":{"id":"`)

// docEventID finds event.id in an encoded document without parsing it:
// the encoder writes it first in the event section.
func docEventID(doc []byte) string {
	i := bytes.Index(doc, idKey)
	if i < 0 {
		return ""
	}
	v := doc[i+len(idKey):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return ""
	}
	return string(v[:j])
}

func (e *Engine) run(s slot) {
	if n := e.evaluated.Add(1); n&1023 == 0 {
		k, ev := e.stateNow()
		e.stateKeys.Store(uint64(k))
		e.stateEvictions.Store(ev)
	}
	r := e.cur.Load()
	if len(e.memo) != r.set.terms {
		e.memo = make([]uint8, r.set.terms)
	} else {
		clear(e.memo)
	}
	for _, rule := range r.set.bySlot[s] {
		e.rule = rule
		switch {
		case rule.seq != nil:
			e.sequence(r.seq[rule], rule, s)
		case !guardsOk(rule.guards, &e.env) || !e.all(rule.conds) || e.any(rule.exc) || !e.hoursOK(r.set, rule):
		case rule.thr != nil:
			e.threshold(r.thr[rule], rule)
		default:
			e.fire(rule, nil)
		}
	}
}

// test evaluates a term for the current event, once per event.
func (e *Engine) test(c cond) bool {
	if m := e.memo[c.id]; m != 0 {
		return m == 2
	}
	v, err := e.vm.Run(c.p, &e.env)
	if err != nil {
		e.failed.Add(1)
		e.memo[c.id] = 1
		if e.onError != nil && e.rule != nil {
			e.onError(e.rule.Name, err)
		}
		return false
	}
	b, _ := v.(bool)
	e.memo[c.id] = 1
	if b {
		e.memo[c.id] = 2
	}
	return b
}

func (e *Engine) all(ps []cond) bool {
	for _, p := range ps {
		if !e.test(p) {
			return false
		}
	}
	return true
}

func (e *Engine) any(ps []cond) bool {
	for _, p := range ps {
		if e.test(p) {
			return true
		}
	}
	return false
}

func (e *Engine) hoursOK(set *Set, r *Rule) bool {
	if r.hours == 0 {
		return true
	}
	inside := true
	if c := set.opts.Calendar; c != nil {
		inside = c.Inside(e.env.Timestamp)
	}
	return inside == (r.hours == hoursInside)
}

// fire makes the alert of rule for the current event, unless the same
// rule fired for the same process, file and destination within the
// dedupe window. ids are the events that made it fire; nil is the
// current one alone (looked up only if the alert is made).
func (e *Engine) fire(r *Rule, ids []string) {
	rs := e.cur.Load()
	if d := rs.set.opts.Dedupe; d > 0 {
		env := &e.env
		var h maphash.Hash
		h.SetSeed(seed)
		for _, s := range [...]string{r.ID, env.Process.EntityID, env.File.Path, env.File.TargetPath, env.Destination.IP} {
			h.WriteString(s)
			h.WriteByte(0)
		}
		k := h.Sum64() ^ uint64(env.Destination.Port)
		last, seen := rs.seen.Put(k)
		if !seen && env.Timestamp.Sub(*last) < d && !env.Timestamp.Before(*last) {
			e.suppressed.Add(1)
			return
		}
		*last = env.Timestamp
	}
	e.fired.Add(1)
	if ids == nil {
		ids = []string{e.eventID()}
	}
	e.env.fillInode()
	a := &event.Alert{
		RuleID: r.ID, RuleName: r.Name, Description: r.Description, Ruleset: r.Ruleset,
		Category: r.Category, Version: r.Version, Priority: r.Priority, Severity: r.Severity,
		Tags: r.Tags, Threats: r.Threats, Message: r.render(&e.env), Events: ids,
		Trigger: append([]byte(nil), e.doc...),
	}
	e.out = append(e.out, &event.Event{Op: event.OpAlert, Time: e.env.eventTS, Alert: a})
}
