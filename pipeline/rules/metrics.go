package rules

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes the engine's counters (and a reloader's, when set)
// as bansho_rules_* metrics.
func Collector(e *Engine, r *Reloader) prometheus.Collector { return &collector{e: e, r: r} }

type collector struct {
	e *Engine
	r *Reloader
}

var (
	mEvents    = prometheus.NewDesc("bansho_rules_events_total", "Events the rule engine evaluated.", nil, nil)
	mAlerts    = prometheus.NewDesc("bansho_rules_alerts_total", "Alerts the rule engine made.", nil, nil)
	mSuppr     = prometheus.NewDesc("bansho_rules_alerts_suppressed_total", "Alerts not made: the same rule fired for the same process, file and destination within the dedupe window.", nil, nil)
	mErrors    = prometheus.NewDesc("bansho_rules_eval_errors_total", "Condition terms that failed to evaluate.", nil, nil)
	mKeys      = prometheus.NewDesc("bansho_rules_state_keys", "Keys held by sequence and threshold rules.", nil, nil)
	mEvictions = prometheus.NewDesc("bansho_rules_state_evictions_total", "Keys forgotten to stay within rules.max_state_keys.", nil, nil)
	mRules     = prometheus.NewDesc("bansho_rules_enabled", "Enabled rules in the running set.", nil, nil)
	mReloads   = prometheus.NewDesc("bansho_rules_reloads_total", "Rule reloads by result.", []string{"result"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mEvents, mAlerts, mSuppr, mErrors, mKeys, mEvictions, mRules, mReloads} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(mEvents, prometheus.CounterValue, float64(c.e.Evaluated()))
	ch <- prometheus.MustNewConstMetric(mAlerts, prometheus.CounterValue, float64(c.e.Alerts()))
	ch <- prometheus.MustNewConstMetric(mSuppr, prometheus.CounterValue, float64(c.e.Suppressed()))
	ch <- prometheus.MustNewConstMetric(mErrors, prometheus.CounterValue, float64(c.e.Errors()))
	keys, ev := c.e.StateKeys()
	ch <- prometheus.MustNewConstMetric(mKeys, prometheus.GaugeValue, float64(keys))
	ch <- prometheus.MustNewConstMetric(mEvictions, prometheus.CounterValue, float64(ev))
	ch <- prometheus.MustNewConstMetric(mRules, prometheus.GaugeValue, float64(c.e.Set().Enabled()))
	if c.r != nil {
		ok, failed := c.r.Reloads()
		ch <- prometheus.MustNewConstMetric(mReloads, prometheus.CounterValue, float64(ok), "ok")
		ch <- prometheus.MustNewConstMetric(mReloads, prometheus.CounterValue, float64(failed), "failed")
	}
}
