package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// PipelineSnapshot is what the pipeline and the content scanner report.
type PipelineSnapshot struct {
	Encoded        uint64 // documents encoded and handed to every output
	OutputErrors   uint64 // failed writes or flushes, over all outputs
	Scanned        uint64 // events whose data was scanned for numbers
	ReadBack       uint64 // in-kernel copies read back from the file
	ReadBackFailed uint64
	MyNumberHits   uint64 // scanned events with My Numbers found
	CorporateHits  uint64 // scanned events with corporate numbers found
	// The at-rest scan of files written past the samples; Rest is false
	// when it does not run.
	Rest        bool
	RestScanned uint64            // files scanned whole
	RestBytes   uint64            // bytes read for them
	RestSkipped map[string]uint64 // files not scanned, by reason
	RestPending int               // files waiting
}

// PipelineCollector reads a PipelineSnapshot at every scrape.
type PipelineCollector struct {
	Snapshot func() PipelineSnapshot
}

var (
	dEncoded  = desc("pipeline", "documents_encoded_total", "ECS documents encoded and handed to the outputs.")
	dOutErrs  = desc("pipeline", "output_errors_total", "Failed output writes or flushes, over all outputs.")
	dScanned  = desc("content", "scans_total", "Events whose sampled data was scanned for My Numbers.")
	dReadBack = desc("content", "readbacks_total", "In-kernel copies whose data was read back from the destination file.")
	dRBFail   = desc("content", "readback_failures_total", "Read-backs that failed (the file was gone or unreadable).")
	dFindings = desc("content", "findings_total", "Scanned events with numbers found, by kind (my_number, corporate_number).", "kind")

	dRestScans   = desc("content", "rest_scans_total", "Files written past the samples that were scanned whole at rest.")
	dRestBytes   = desc("content", "rest_bytes_total", "Bytes read by the at-rest scans.")
	dRestSkipped = desc("content", "rest_skipped_total", "Files written past the samples that were not scanned at rest, by reason (too_large, queue_full, vanished, replaced, unreadable, shutdown).", "reason")
	dRestPending = desc("content", "rest_pending", "Files waiting for the at-rest scan.")
)

// Describe implements prometheus.Collector.
func (c PipelineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dEncoded, dOutErrs, dScanned, dReadBack, dRBFail, dFindings,
		dRestScans, dRestBytes, dRestSkipped, dRestPending} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c PipelineCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.Snapshot()
	m := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	m(dEncoded, s.Encoded)
	m(dOutErrs, s.OutputErrors)
	m(dScanned, s.Scanned)
	m(dReadBack, s.ReadBack)
	m(dRBFail, s.ReadBackFailed)
	m(dFindings, s.MyNumberHits, "my_number")
	m(dFindings, s.CorporateHits, "corporate_number")
	if s.Rest {
		m(dRestScans, s.RestScanned)
		m(dRestBytes, s.RestBytes)
		for _, r := range sortedKeys(s.RestSkipped) {
			m(dRestSkipped, s.RestSkipped[r], r)
		}
		ch <- prometheus.MustNewConstMetric(dRestPending, prometheus.GaugeValue, float64(s.RestPending))
	}
}

// healthCollector exports the loops' ages and the readiness conditions.
type healthCollector struct{ h *Health }

var (
	dLoopAge = desc("health", "loop_age_seconds", "Seconds since a loop (reader, pipeline, health) last turned; /healthz fails past health.stall_after.", "loop")
	dReady   = desc("health", "ready", "1 when a readiness condition is met, per condition; /readyz needs all.", "condition")
)

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- dLoopAge; ch <- dReady }

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	if c.h == nil {
		return
	}
	for _, l := range c.h.loopAges(c.h.now()) {
		ch <- prometheus.MustNewConstMetric(dLoopAge, prometheus.GaugeValue, l.age.Seconds(), l.name)
	}
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	for n, ok := range c.h.ready {
		v := 0.0
		if ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(dReady, prometheus.GaugeValue, v, n)
	}
}

func sortedKeys(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
