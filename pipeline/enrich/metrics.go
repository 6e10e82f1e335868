package enrich

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes the stage's counters as bansho_enrich_* metrics.
type Collector struct {
	Stage   *Stage
	Users   *Users
	Kubelet *Kubelet
}

var (
	descEvents   = prometheus.NewDesc("bansho_enrich_events_total", "Events enriched.", nil, nil)
	descUnknown  = prometheus.NewDesc("bansho_enrich_unknown_process_total", "Events emitted without their process in the process table.", nil, nil)
	descHeld     = prometheus.NewDesc("bansho_enrich_held_total", "Events held for a process not yet known.", nil, nil)
	descReleased = prometheus.NewDesc("bansho_enrich_released_total", "Held events whose process then appeared.", nil, nil)
	descHoldFull = prometheus.NewDesc("bansho_enrich_hold_full_total", "Events not held because the hold queue was full.", nil, nil)
	descFilled   = prometheus.NewDesc("bansho_enrich_procfs_filled_total", "Unknown processes read from /proc on first sight.", nil, nil)
	descCgroup   = prometheus.NewDesc("bansho_enrich_cgroup_errors_total", "Unreadable or malformed /proc/PID/cgroup files.", nil, nil)
	descProcs    = prometheus.NewDesc("bansho_enrich_processes", "Processes in the process table.", []string{"state"}, nil)
	descEvicted  = prometheus.NewDesc("bansho_enrich_evicted_processes_total", "Ended processes dropped from the process table.", nil, nil)
	descReplaced = prometheus.NewDesc("bansho_enrich_replaced_processes_total", "Pids reused before their exit was seen (a lost exit).", nil, nil)
	descBadLines = prometheus.NewDesc("bansho_enrich_names_bad_lines_total", "Broken passwd/group lines skipped.", nil, nil)
	descKubeErr  = prometheus.NewDesc("bansho_enrich_kubelet_errors_total", "Failed polls of the kubelet pod list.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEvents, descUnknown, descHeld, descReleased, descHoldFull, descFilled,
		descCgroup, descProcs, descEvicted, descReplaced, descBadLines, descKubeErr} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.Stage.Stats()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descEvents, st.Events)
	counter(descUnknown, st.Unknown)
	counter(descHeld, st.Held)
	counter(descReleased, st.Released)
	counter(descHoldFull, st.HoldFull)
	counter(descFilled, st.ProcfsFilled)
	counter(descCgroup, st.CgroupErrors)
	counter(descEvicted, st.EvictedProcs)
	counter(descReplaced, st.ReplacedProcs)
	ch <- prometheus.MustNewConstMetric(descProcs, prometheus.GaugeValue, float64(st.LiveProcs), "live")
	ch <- prometheus.MustNewConstMetric(descProcs, prometheus.GaugeValue, float64(st.ExitedProcs), "exited")
	if c.Users != nil {
		counter(descBadLines, c.Users.BadLines.Load())
	}
	if c.Kubelet != nil {
		counter(descKubeErr, c.Kubelet.Errors.Load())
	}
}

// Counters adds the stage's counters to a health document's counters
// (bansho.health.counters.enrich_*).
func (s *Stage) Counters(m map[string]uint64) {
	st := s.Stats()
	m["enrich_unknown_process"] = st.Unknown
	m["enrich_held"] = st.Held
	m["enrich_hold_full"] = st.HoldFull
	m["enrich_procfs_filled"] = st.ProcfsFilled
	m["enrich_cgroup_errors"] = st.CgroupErrors
	m["enrich_processes_live"] = st.LiveProcs
	m["enrich_processes_evicted"] = st.EvictedProcs
}
