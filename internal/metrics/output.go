package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/internal/dockey"
)

// Outputs counts, per output, documents written, documents lost, failed
// calls and write latency. Wrap each exporter with Wrap before handing it
// to the pipeline.
type Outputs struct {
	written *prometheus.CounterVec
	lost    *prometheus.CounterVec
	errors  *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// NewOutputs makes the per-output metrics; register it on the server.
func NewOutputs() *Outputs {
	return &Outputs{
		written: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bansho_output_documents_written_total",
			Help: "Documents an output accepted, per output (a buffering output may still lose them at a flush: see documents_lost)."}, []string{"output"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bansho_output_documents_lost_total",
			Help: "Documents an output reported it could not write (disk full, I/O error), at a write or a later flush, per output."}, []string{"output"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bansho_output_errors_total",
			Help: "Failed write, flush or close calls, per output and operation."}, []string{"output", "op"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bansho_output_write_seconds",
			Help:    "Time one batch write took, per output.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 10)}, []string{"output"}),
	}
}

// Describe implements prometheus.Collector.
func (o *Outputs) Describe(ch chan<- *prometheus.Desc) {
	o.written.Describe(ch)
	o.lost.Describe(ch)
	o.errors.Describe(ch)
	o.latency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (o *Outputs) Collect(ch chan<- prometheus.Metric) {
	o.written.Collect(ch)
	o.lost.Collect(ch)
	o.errors.Collect(ch)
	o.latency.Collect(ch)
}

// Wrap returns x counted under its name. The label children are made once
// here, so a write costs two atomic adds and a histogram observation.
func (o *Outputs) Wrap(x exporters.Exporter) exporters.Exporter {
	n := x.Name()
	return &countedExporter{Exporter: x,
		written: o.written.WithLabelValues(n), lost: o.lost.WithLabelValues(n),
		werr: o.errors.WithLabelValues(n, "write"), ferr: o.errors.WithLabelValues(n, "flush"),
		cerr: o.errors.WithLabelValues(n, "close"), latency: o.latency.WithLabelValues(n)}
}

type countedExporter struct {
	exporters.Exporter
	written, lost, werr, ferr, cerr prometheus.Counter
	latency                         prometheus.Observer
}

func (c *countedExporter) Write(docs [][]byte) error { return c.WriteMeta(docs, nil) }

// WriteMeta passes the encoder's metadata on to an output that uses it.
func (c *countedExporter) WriteMeta(docs [][]byte, meta []dockey.Meta) error {
	start := time.Now()
	var err error
	if mw, ok := c.Exporter.(exporters.MetaWriter); ok && meta != nil {
		err = mw.WriteMeta(docs, meta)
	} else {
		err = c.Exporter.Write(docs)
	}
	c.latency.Observe(time.Since(start).Seconds())
	ok := len(docs)
	if err != nil {
		c.werr.Inc()
		var le *exporters.LostError
		if errors.As(err, &le) {
			c.lost.Add(float64(le.Lost))
			ok -= le.Lost
		} else {
			ok = 0
		}
	}
	if ok > 0 {
		c.written.Add(float64(ok))
	}
	return err
}

// Flush counts documents a buffering output accepted earlier and lost now.
func (c *countedExporter) Flush() error {
	err := c.Exporter.Flush()
	if err != nil {
		c.ferr.Inc()
		var le *exporters.LostError
		if errors.As(err, &le) {
			c.lost.Add(float64(le.Lost))
		}
	}
	return err
}

func (c *countedExporter) Close() error {
	err := c.Exporter.Close()
	if err != nil {
		c.cerr.Inc()
	}
	return err
}
