package daemon

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/pipeline"
)

// openStore opens the sensor's store as an output (nil when disabled).
func openStore(c config.Store, log *slog.Logger) (*store.Store, error) {
	if !c.Enabled {
		return nil, nil
	}
	s, err := store.Open(store.Options{
		Dir:          c.Dir,
		MaxBytes:     c.MaxBytes,
		MinFreeBytes: c.MinFreeBytes,
		MaxAge:       c.MaxAge,
		AlertMaxAge:  c.AlertMaxAge,
		SegmentBytes: c.SegmentBytes,
		SegmentAge:   c.SegmentAge,
		Fsync:        c.Fsync,
		NoCompress:   !c.Compress,
		Log:          log,
	})
	if err != nil {
		return nil, fmt.Errorf("store.dir: %w", err)
	}
	return s, nil
}

// storeCollector is the store's bansho_store_* metrics for the /metrics
// registry (nil without a store).
func storeCollector(s *store.Store) prometheus.Collector {
	if s == nil {
		return nil
	}
	return s.Collector()
}

// storeHealth adds the store's counters to a health document's
// bansho.health.counters (store_*), so the SIEM sees refusals, removals of
// undelivered records and torn tails, not only /metrics.
func storeHealth(s *store.Store, counters map[string]uint64) {
	if s == nil {
		return
	}
	st := s.Stats()
	counters["store_written"] = st.Written
	counters["store_refused_full"] = st.Refused
	counters["store_refused_too_large"] = st.TooLarge
	counters["store_write_errors"] = st.WriteErrors
	counters["store_evicted"] = st.Evicted
	counters["store_evicted_age"] = st.EvictedAge
	counters["store_evicted_alerts"] = st.EvictedAlerts
	counters["store_evicted_undelivered"] = st.EvictedUndelivered
	counters["store_torn_tails"] = st.TornTails
	counters["store_damaged_segments"] = st.DamagedSegments
	counters["store_cursors_damaged"] = st.DamagedCursors
	counters["store_indexes_pending"] = uint64(st.IndexesPending)
}

// watchStore turns the store's notices (full, records removed before
// delivery, a torn tail cut at start) into state documents. The returned
// function stops it.
func watchStore(s *store.Store, p *pipeline.Pipeline, d *daemon) func() {
	if s == nil {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case n := <-s.Notices():
				p.Emit(d.stateEvent(n.Action, n.Message, n.Details))
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-stopped }
}
