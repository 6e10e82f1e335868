package delivery

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes the counters of every registered loop as
// bansho_exporter_*{exporter="kafka"} metrics.
type Collector struct {
	mu    sync.Mutex
	loops []*Loop
}

var (
	descLag = prometheus.NewDesc("bansho_exporter_lag_records",
		"Records stored and not yet acknowledged by the sink.", []string{"exporter"}, nil)
	descDelivered = prometheus.NewDesc("bansho_exporter_delivered_total",
		"Records the sink acknowledged.", []string{"exporter"}, nil)
	descFailed = prometheus.NewDesc("bansho_exporter_failed_total",
		"Record sends that were not acknowledged (each attempt counts).", []string{"exporter"}, nil)
	descRetried = prometheus.NewDesc("bansho_exporter_retried_total",
		"Records sent again after a failed attempt.", []string{"exporter"}, nil)
	descDead = prometheus.NewDesc("bansho_exporter_dead_lettered_total",
		"Records the sink rejected for good, kept in the store's dead-letter stream.", []string{"exporter"}, nil)
	descSkipped = prometheus.NewDesc("bansho_exporter_skipped_total",
		"Records the store could not hand over (removed by retention before delivery, damaged).", []string{"exporter"}, nil)
	descUp = prometheus.NewDesc("bansho_exporter_up",
		"1 when the last send succeeded, 0 while the sink fails.", []string{"exporter"}, nil)
)

// Add registers a loop.
func (c *Collector) Add(l *Loop) {
	c.mu.Lock()
	c.loops = append(c.loops, l)
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLag, descDelivered, descFailed, descRetried, descDead, descSkipped, descUp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	loops := append([]*Loop(nil), c.loops...)
	c.mu.Unlock()
	for _, l := range loops {
		n := l.Name()
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(l.Lag()), n)
		ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.CounterValue, float64(l.Delivered()), n)
		ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(l.Failed()), n)
		ch <- prometheus.MustNewConstMetric(descRetried, prometheus.CounterValue, float64(l.Retried()), n)
		ch <- prometheus.MustNewConstMetric(descDead, prometheus.CounterValue, float64(l.DeadLettered()), n)
		ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(l.Skipped()), n)
		up := 1.0
		if l.LastError() != "" {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, n)
	}
}
