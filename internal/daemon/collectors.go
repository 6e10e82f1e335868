package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
)

// registerCollectors puts the metrics of the parts that are running
// (store, exporters, rules, enrichment) and the parts the sensor runs
// without on the /metrics endpoint, next to the sensor and pipeline
// collectors that attach registers.
func (d *daemon) registerCollectors() error {
	cs := []prometheus.Collector{&d.exp.metrics, degradedCollector{d.up}}
	if d.db != nil {
		cs = append(cs, storeCollector(d.db))
	}
	if d.rules != nil && d.rules.collector != nil {
		cs = append(cs, d.rules.collector)
	}
	if c := d.enr.collector(); c != nil {
		cs = append(cs, c)
	}
	for _, c := range cs {
		if err := d.ops.srv.Register(c); err != nil {
			return err
		}
	}
	return nil
}

var descDegraded = prometheus.NewDesc("bansho_degraded",
	"1 for each part the sensor runs without because it failed at start (docs/operations.md).", []string{"part"}, nil)

// degradedCollector is bansho_degraded{part}: one series per part that
// can degrade, 1 while the sensor runs without it.
type degradedCollector struct{ up *startup }

func (c degradedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descDegraded }

func (c degradedCollector) Collect(ch chan<- prometheus.Metric) {
	for p, pol := range policies {
		if pol != degrade {
			continue
		}
		v := 0.0
		if c.up.isDegraded(p) {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descDegraded, prometheus.GaugeValue, v, string(p))
	}
}
