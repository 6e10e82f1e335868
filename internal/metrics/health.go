package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Health tracks liveness (loops that must keep turning) and readiness
// (conditions that must all have become true once).
type Health struct {
	// StallAfter: a loop whose last turn is older than this is stalled.
	StallAfter time.Duration
	Log        *slog.Logger
	now        func() time.Time

	mu       sync.Mutex
	loops    map[string]loop
	ready    map[string]bool
	stopping atomic.Bool
}

// NewHealth returns a tracker; stallAfter <= 0 means 30s.
func NewHealth(stallAfter time.Duration, log *slog.Logger) *Health {
	if stallAfter <= 0 {
		stallAfter = 30 * time.Second
	}
	return &Health{StallAfter: stallAfter, Log: log, now: time.Now,
		loops: map[string]loop{}, ready: map[string]bool{}}
}

func (h *Health) log() *slog.Logger {
	if h.Log == nil {
		return slog.Default()
	}
	return h.Log
}

type loop struct {
	last  func() time.Time
	every time.Duration // the loop's own period, allowed on top of StallAfter
}

// Loop registers a loop by name with a function returning its last turn
// and the period it turns at when idle (0 for loops that turn often). It
// is stalled when its last turn is older than StallAfter plus that period.
// The zero time means it has not turned yet: its age counts from now.
func (h *Health) Loop(name string, every time.Duration, lastTurn func() time.Time) {
	since := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loops[name] = loop{every: every, last: func() time.Time {
		if t := lastTurn(); !t.IsZero() {
			return t
		}
		return since
	}}
}

// Need declares a readiness condition, false until Ready(name).
func (h *Health) Need(names ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range names {
		if _, ok := h.ready[n]; !ok {
			h.ready[n] = false
		}
	}
}

// Ready marks a condition met.
func (h *Health) Ready(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ready[name] = true
}

// Stopping makes /readyz fail from now on (shutdown has begun).
func (h *Health) Stopping() { h.stopping.Store(true) }

// Stalled lists loops that have not turned within StallAfter, with ages.
func (h *Health) Stalled() []string {
	now := h.now()
	var out []string
	for _, l := range h.loopAges(now) {
		if l.stalled {
			out = append(out, fmt.Sprintf("%s last turned %s ago", l.name, l.age.Round(time.Millisecond)))
		}
	}
	return out
}

type loopAge struct {
	name    string
	age     time.Duration
	stalled bool
}

func (h *Health) loopAges(now time.Time) []loopAge {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]loopAge, 0, len(h.loops))
	for n, l := range h.loops {
		age := now.Sub(l.last())
		out = append(out, loopAge{n, age, age > h.StallAfter+l.every})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// NotReady lists unmet readiness conditions ("stopping" during shutdown).
func (h *Health) NotReady() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for n, ok := range h.ready {
		if !ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	if h.stopping.Load() {
		out = append(out, "stopping")
	}
	return out
}

func (h *Health) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	now := h.now()
	var b strings.Builder
	bad := false
	for _, l := range h.loopAges(now) {
		state := "ok"
		if l.stalled {
			state, bad = "stalled", true
		}
		fmt.Fprintf(&b, "%s: %s (last turn %s ago)\n", l.name, state, l.age.Round(time.Millisecond))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if bad {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintf(w, "%s%s", map[bool]string{false: "ok\n", true: "stalled\n"}[bad], b.String())
}

func (h *Health) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if nr := h.NotReady(); len(nr) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", strings.Join(nr, ", "))
		return
	}
	fmt.Fprintln(w, "ready")
}
