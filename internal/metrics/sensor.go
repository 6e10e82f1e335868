package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// SensorSnapshot is what the sensor and its queue report at a scrape.
type SensorSnapshot struct {
	Read      uint64            // records read from the ring buffer
	Queued    uint64            // events handed to the pipeline queue
	Drops     map[string]uint64 // by cause: ringbuf_full, queue_full, decode_error, output_lost, ...
	Kernel    map[string]uint64 // other kernel counters (sensor.Stats Counters)
	RingSize  int               // ring buffer bytes
	RingUsed  int               // bytes waiting to be read now (-1: unknown)
	QueueLen  int
	QueueCap  int
	Detached  int // attached programs found missing by the last check
	SelfAlert uint64
}

// SensorCollector reads a snapshot at every scrape: the counters live in
// kernel maps and atomics already, so nothing is copied on the hot path.
type SensorCollector struct {
	Snapshot func() (SensorSnapshot, error)
}

var (
	dRead       = desc("sensor", "events_read_total", "Records read from the kernel ring buffer.")
	dQueued     = desc("sensor", "events_queued_total", "Decoded events handed to the pipeline queue.")
	dDrops      = desc("sensor", "drops_total", "Events lost, by cause (ringbuf_full: in the kernel; queue_full, decode_error: in the reader; output_lost: an output could not write).", "cause")
	dUserRead   = desc("sensor", "user_read_failures_total", "Failed reads of user memory in the kernel programs (a field is then empty).")
	dKernel     = desc("sensor", "kernel_counter_total", "Other kernel-side counters (path_truncated, fd_table_full, ...).", "counter")
	dRingByOp   = desc("sensor", "ringbuf_drops_by_kind_total", "Ring-buffer-full drops split by record kind.", "kind")
	dRingSize   = desc("sensor", "ringbuf_size_bytes", "Ring buffer size.")
	dRingUsed   = desc("sensor", "ringbuf_pending_bytes", "Bytes written by the kernel and not yet read.")
	dRingFill   = desc("sensor", "ringbuf_fill_ratio", "Pending bytes over the ring buffer size (0 to 1).")
	dQueueLen   = desc("sensor", "queue_length", "Decoded events waiting for the pipeline.")
	dQueueCap   = desc("sensor", "queue_capacity", "Pipeline queue size (sensor.queue_size).")
	dDetached   = desc("self", "programs_detached", "Kernel programs or links found missing by the last integrity check (0 when all are attached).")
	dSelfAlerts = desc("self", "detach_alerts_total", "Detach alerts emitted.")
)

func desc(area, name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("bansho_"+area+"_"+name, help, labels, nil)
}

// Describe implements prometheus.Collector.
func (c SensorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dRead, dQueued, dDrops, dUserRead, dKernel, dRingByOp,
		dRingSize, dRingUsed, dRingFill, dQueueLen, dQueueCap, dDetached, dSelfAlerts} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c SensorCollector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.Snapshot()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(dKernel, err)
		// What was read before the error is still reported.
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(dRead, s.Read)
	counter(dQueued, s.Queued)
	for cause, v := range s.Drops {
		counter(dDrops, v, cause)
	}
	for name, v := range s.Kernel {
		switch {
		case name == "user_read_failed":
			counter(dUserRead, v)
		case strings.HasPrefix(name, "ringbuf_full_"):
			counter(dRingByOp, v, strings.TrimPrefix(name, "ringbuf_full_"))
		default:
			counter(dKernel, v, name)
		}
	}
	if _, ok := s.Kernel["user_read_failed"]; !ok {
		counter(dUserRead, 0)
	}
	gauge(dRingSize, float64(s.RingSize))
	if s.RingUsed >= 0 {
		gauge(dRingUsed, float64(s.RingUsed))
		if s.RingSize > 0 {
			gauge(dRingFill, float64(s.RingUsed)/float64(s.RingSize))
		}
	}
	gauge(dQueueLen, float64(s.QueueLen))
	gauge(dQueueCap, float64(s.QueueCap))
	gauge(dDetached, float64(s.Detached))
	counter(dSelfAlerts, s.SelfAlert)
}
