package daemon

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// part is a piece of the sensor that start-up assembles.
type part string

const (
	partConfig     part = "configuration"          // keys, rules, exporter settings, hash key
	partKernel     part = "kernel"                 // BTF, the programs, privileges
	partContentKey part = "content_key"            // the hash key file: created or read
	partMetrics    part = "metrics"                // the /metrics, /healthz, /readyz endpoint
	partFileOutput part = "output_file"            // outputs.file
	partStore      part = "store"                  // the local store
	partKafka      part = "exporter_kafka"         // delivery from the store to Kafka
	partES         part = "exporter_elasticsearch" // delivery from the store to Elasticsearch
	partTLSProbes  part = "tls_probes"             // SSL_write uprobes
	partEnrichment part = "enrichment"             // users, containers, Kubernetes, network
)

// policy is what a part's failure at start does.
type policy int

const (
	// stop: start-up ends with the error (exit 1). Only for a kernel that
	// cannot run the sensor at all, a configuration that is wrong, and
	// missing privileges: starting without these would record nothing,
	// or record it wrongly.
	stop policy = iota
	// degrade: the sensor runs without the part. The failure is logged,
	// named in sensor-started (degraded_<part>), in every health document
	// (bansho.health.degraded) and in bansho_degraded{part}. A sensor
	// must not go blind because one output or its bookkeeping is broken.
	degrade
)

// policies is the one place that says which failures stop start-up.
var policies = map[part]policy{
	partConfig:     stop,
	partKernel:     stop,
	partContentKey: stop, // the key file cannot be read or created: permissions
	partMetrics:    degrade,
	partFileOutput: degrade,
	partStore:      degrade, // the exporters, which read from it, then degrade too
	partKafka:      degrade,
	partES:         degrade,
	partTLSProbes:  degrade,
	partEnrichment: degrade,
}

// StartError is a failure that stopped start-up, with the part it is in.
type StartError struct {
	Part string
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// startup applies the policies and keeps what the sensor runs without.
type startup struct {
	log      *slog.Logger
	mu       sync.Mutex
	degraded map[part]string // part: why
}

func newStartup(log *slog.Logger) *startup {
	return &startup{log: log, degraded: map[part]string{}}
}

// try runs a part's start. An error stops start-up or degrades, as the
// part's policy says; try reports whether the part started.
func (u *startup) try(p part, start func() error) bool {
	err := start()
	if err == nil {
		return true
	}
	if policies[p] == stop {
		panic(fmt.Sprintf("daemon: part %s stops start-up: use fail, not try", p))
	}
	u.degrade(p, err)
	return false
}

// fail is the error that ends start-up in a part whose policy is stop.
func (u *startup) fail(p part, err error) error {
	return &StartError{Part: string(p), Err: err}
}

// degrade records that the sensor runs without p.
func (u *startup) degrade(p part, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.degraded[p]; ok {
		return
	}
	u.degraded[p] = err.Error()
	u.log.Error("running without "+string(p), "part", string(p), "error", err)
}

// isDegraded reports whether p failed at start.
func (u *startup) isDegraded(p part) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.degraded[p]
	return ok
}

// names lists the degraded parts, sorted.
func (u *startup) names() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, 0, len(u.degraded))
	for p := range u.degraded {
		out = append(out, string(p))
	}
	sort.Strings(out)
	return out
}

// details adds degraded_<part>: why to a sensor-started document.
func (u *startup) details(d map[string]string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for p, why := range u.degraded {
		d["degraded_"+string(p)] = why
	}
}
