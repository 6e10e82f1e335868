package rules

import (
	"hash/maphash"
	"time"
)

// seqState is the progress of one sequence rule per key: bounded (least
// recently used keys are forgotten first) and expiring (an entry older
// than the window is dead and removed when next seen).
type seqState struct {
	l *lru[string, seqEntry]
}

type seqEntry struct {
	next  int // index of the step waited for
	start time.Time
	ids   []string
}

func newSeqState(max int) *seqState { return &seqState{l: newLRU[string, seqEntry](max)} }

// sequence advances r's sequences with the current event.
func (e *Engine) sequence(st *seqState, r *Rule, s slot) {
	spec := r.seq
	now := e.env.Timestamp
	// Later steps first: an event that completes a waiting sequence is not
	// also the start of a new one for the same rule.
	for i := len(spec.steps) - 1; i >= 1; i-- {
		if !spec.slots[i].has(s) {
			continue
		}
		if !guardsOk(spec.guards[i], &e.env) {
			continue
		}
		k, ent := e.waiting(st, spec, i, now)
		if ent == nil || !e.all(spec.steps[i]) || e.any(r.exc) {
			continue
		}
		ent.ids = append(ent.ids, e.eventID())
		ent.next++
		if ent.next == len(spec.steps) {
			if e.hoursOK(e.cur.Load().set, r) {
				e.fire(r, ent.ids)
			}
			st.l.Remove(k)
		}
		return
	}
	if !spec.slots[0].has(s) || !guardsOk(spec.guards[0], &e.env) || !e.all(spec.steps[0]) || e.any(r.exc) {
		return
	}
	k := e.key(spec.key, spec.lineage)
	if k == "" {
		return
	}
	ent, created := st.l.Put(k)
	if !created && ent.next > 1 && now.Sub(ent.start) <= spec.within {
		return // further along already
	}
	// A new start, or the same first step again: the window runs from the
	// latest one.
	ent.next, ent.start = 1, now
	ent.ids = append(ent.ids[:0], e.eventID())
}

// waiting finds a live sequence waiting for step i that the current
// event may continue: by lineage, one started by the process itself or
// by one of its ancestors.
func (e *Engine) waiting(st *seqState, spec *seqSpec, i int, now time.Time) (string, *seqEntry) {
	check := func(k string) *seqEntry {
		if k == "" {
			return nil
		}
		ent, ok := st.l.Peek(k)
		if !ok {
			return nil
		}
		if now.Sub(ent.start) > spec.within {
			st.l.Remove(k)
			return nil
		}
		if ent.next != i {
			return nil
		}
		return ent
	}
	if !spec.lineage {
		k := e.key(spec.key, false)
		return k, check(k)
	}
	if k := e.env.Process.EntityID; k != "" {
		if ent := check(k); ent != nil {
			return k, ent
		}
	}
	if k := e.env.Process.Parent.EntityID; k != "" {
		if ent := check(k); ent != nil {
			return k, ent
		}
	}
	for _, k := range e.env.Bansho.Process.Ancestors.EntityID {
		if ent := check(k); ent != nil {
			return k, ent
		}
	}
	return "", nil
}

// key is the state key of the current event for f (lineage: the
// process). The login user falls back to the effective user for
// processes no one logged in to.
func (e *Engine) key(f *field, lineage bool) string {
	if lineage || f == nil {
		return e.env.Process.EntityID
	}
	switch f.path {
	case "process.entity_id":
		return e.env.Process.EntityID
	case "user.id":
		return e.env.User.ID
	case "bansho.login_user.id":
		if id := e.env.Bansho.LoginUser.ID; id != "" {
			return id
		}
		if e.env.User.ID == "" {
			return ""
		}
		return "uid:" + e.env.User.ID
	case "host.id":
		if e.env.Host.ID == "" {
			return e.env.Host.Name
		}
		return e.env.Host.ID
	}
	return f.str(&e.env)
}

// thrState counts per key, within a sliding window, the matching events
// or the distinct values of a field. A key holds at most count items.
type thrState struct {
	l *lru[string, thrEntry]
}

type thrItem struct {
	h uint64
	t time.Time
}

type thrEntry struct {
	items []thrItem
	ids   [maxAlertIDs]string // the latest event ids, as a ring
	n     int
}

// maxAlertIDs bounds the event ids a threshold alert links.
const maxAlertIDs = 8

var seed = maphash.MakeSeed()

func newThrState(max int) *thrState { return &thrState{l: newLRU[string, thrEntry](max)} }

func (e *Engine) threshold(st *thrState, r *Rule) {
	spec := r.thr
	k := e.key(spec.key, false)
	if k == "" {
		return
	}
	now := e.env.Timestamp
	ent, _ := st.l.Put(k)
	// Forget what fell out of the window (items are in time order).
	drop := 0
	for drop < len(ent.items) && now.Sub(ent.items[drop].t) > spec.within {
		drop++
	}
	if drop > 0 {
		ent.items = append(ent.items[:0], ent.items[drop:]...)
	}
	var h uint64
	if spec.distinct != nil {
		h = maphash.String(seed, spec.distinct.str(&e.env))
		for i := range ent.items {
			if ent.items[i].h == h {
				// Seen in the window: it moves to the end, with its new time.
				copy(ent.items[i:], ent.items[i+1:])
				ent.items[len(ent.items)-1] = thrItem{h, now}
				return
			}
		}
	}
	ent.items = append(ent.items, thrItem{h, now})
	ent.ids[ent.n%maxAlertIDs] = e.eventID()
	ent.n++
	if len(ent.items) < spec.count {
		return
	}
	var ids []string
	for i := max(0, ent.n-maxAlertIDs); i < ent.n; i++ {
		ids = append(ids, ent.ids[i%maxAlertIDs])
	}
	e.fire(r, ids)
	// Start counting again: one alert per count reached, not one per event.
	ent.items = ent.items[:0]
	ent.n = 0
}
