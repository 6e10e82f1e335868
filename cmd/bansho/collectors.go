package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bansho-sec/bansho/internal/store"
)

// registerCollectors puts the metrics of the components that are running
// (store, exporters, rules, enrichment) on the /metrics endpoint, next to
// the sensor and pipeline collectors that attach registers.
func (o *ops) registerCollectors(db *store.Store, enr *enrichment) error {
	cs := []prometheus.Collector{exporterMetrics}
	if db != nil {
		cs = append(cs, storeCollector(db))
	}
	if rulesCollector != nil {
		cs = append(cs, rulesCollector)
	}
	if c := enr.collector(); c != nil {
		cs = append(cs, c)
	}
	for _, c := range cs {
		if err := o.srv.Register(c); err != nil {
			return err
		}
	}
	return nil
}
