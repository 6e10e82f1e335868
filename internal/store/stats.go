package store

import (
	"github.com/prometheus/client_golang/prometheus"
)

// StreamStats describes what a stream holds.
type StreamStats struct {
	Segments int
	Records  uint64
	Bytes    int64 // segments and indexes
	First    uint64
	Head     uint64
	MinTime  int64 // unix ns; 0: none
	MaxTime  int64
}

// Stats are the store's counters since it was opened, and what it holds.
type Stats struct {
	Written            uint64 // records appended
	WrittenBytes       uint64 // bytes appended to segments
	Refused            uint64 // documents refused because the store or the file system is full
	TooLarge           uint64 // documents refused for their size
	WriteErrors        uint64 // failed writes (each may refuse several documents)
	Evicted            uint64 // records removed to make room
	EvictedAge         uint64 // records removed for their age
	EvictedAlerts      uint64 // of those removed, alerts
	EvictedUndelivered uint64 // records removed before a consumer delivered them
	TornTails          uint64 // incomplete records cut from segment ends at open
	RecoveredBytes     uint64 // bytes cut with them
	DamagedSegments    uint64 // segments found damaged at open
	DamagedCursors     uint64 // consumer cursor files found damaged and set aside
	IndexesPending     int    // segment indexes held in memory until the disk has room
	Full               bool   // the last write was refused for lack of room
	FreeBytes          int64  // free bytes on the file system at the last check
	Streams            map[string]StreamStats
}

// Stats returns the counters and a summary of every stream.
func (s *Store) Stats() Stats {
	out := Stats{
		Written:            s.st.written.Load(),
		WrittenBytes:       s.st.writtenBytes.Load(),
		Refused:            s.st.droppedFull.Load(),
		TooLarge:           s.st.tooLarge.Load(),
		WriteErrors:        s.st.writeErrors.Load(),
		Evicted:            s.st.evicted.Load(),
		EvictedAge:         s.st.evictedAge.Load(),
		EvictedAlerts:      s.st.evictedAlerts.Load(),
		EvictedUndelivered: s.st.evictedUndelivered.Load(),
		TornTails:          s.st.tornTails.Load(),
		RecoveredBytes:     s.st.recoveredBytes.Load(),
		DamagedSegments:    s.st.damagedSegments.Load(),
		DamagedCursors:     s.st.damagedCursors.Load(),
		Full:               s.st.full.Load(),
		Streams:            map[string]StreamStats{},
	}
	if !s.ro {
		s.wmu.Lock()
		out.FreeBytes = s.free
		out.IndexesPending = len(s.pendingIdx)
		s.wmu.Unlock()
	}
	for _, name := range Streams {
		st := s.streams[name]
		var ss StreamStats
		st.mu.RLock()
		ss.Segments = len(st.segs)
		for _, seg := range st.segs {
			ss.Records += seg.count
			ss.Bytes += seg.size + seg.idxSize
			if seg.minTime != 0 && (ss.MinTime == 0 || seg.minTime < ss.MinTime) {
				ss.MinTime = seg.minTime
			}
			ss.MaxTime = max(ss.MaxTime, seg.maxTime)
		}
		st.mu.RUnlock()
		ss.First, ss.Head = st.first.Load(), st.head.Load()
		out.Streams[name] = ss
	}
	return out
}

// Collector exports the store's counters as bansho_store_* metrics.
func (s *Store) Collector() prometheus.Collector { return &collector{s: s} }

type collector struct{ s *Store }

var (
	mWritten      = prometheus.NewDesc("bansho_store_records_written_total", "Records appended to the store.", nil, nil)
	mWrittenBytes = prometheus.NewDesc("bansho_store_bytes_written_total", "Bytes appended to store segments.", nil, nil)
	mRefused      = prometheus.NewDesc("bansho_store_refused_total", "Documents the store did not accept, by reason (full, too_large).", []string{"reason"}, nil)
	mWriteErrors  = prometheus.NewDesc("bansho_store_write_errors_total", "Failed writes to store segments.", nil, nil)
	mEvicted      = prometheus.NewDesc("bansho_store_evictions_total", "Records removed by retention, by reason (size: store size or free space; age).", []string{"reason"}, nil)
	mEvAlerts     = prometheus.NewDesc("bansho_store_evicted_alerts_total", "Alert records removed by retention.", nil, nil)
	mEvUndeliv    = prometheus.NewDesc("bansho_store_evicted_undelivered_total", "Records removed before every consumer delivered them.", nil, nil)
	mTorn         = prometheus.NewDesc("bansho_store_torn_tails_total", "Incomplete records cut from the end of a segment at open (crash or power loss).", nil, nil)
	mRecovered    = prometheus.NewDesc("bansho_store_recovered_bytes_total", "Bytes cut with torn tails.", nil, nil)
	mDamaged      = prometheus.NewDesc("bansho_store_damaged_segments_total", "Segments found damaged at open.", nil, nil)
	mCursors      = prometheus.NewDesc("bansho_store_cursors_damaged_total", "Exporter cursor files found damaged and set aside (the exporter resumed from an earlier position).", nil, nil)
	mPendingIdx   = prometheus.NewDesc("bansho_store_indexes_pending", "Segment indexes held in memory because the disk had no room to write them.", nil, nil)
	mFull         = prometheus.NewDesc("bansho_store_full", "1 while the store refuses documents for lack of room.", nil, nil)
	mFree         = prometheus.NewDesc("bansho_store_filesystem_free_bytes", "Free bytes on the store's file system at the last check.", nil, nil)
	mRecords      = prometheus.NewDesc("bansho_store_records", "Records held, per stream.", []string{"stream"}, nil)
	mBytes        = prometheus.NewDesc("bansho_store_bytes", "Bytes held (segments and indexes), per stream.", []string{"stream"}, nil)
	mSegments     = prometheus.NewDesc("bansho_store_segments", "Segment files, per stream.", []string{"stream"}, nil)
	mLag          = prometheus.NewDesc("bansho_store_consumer_lag_records", "Records a consumer has not delivered yet, per stream.", []string{"consumer", "stream"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mWritten, mWrittenBytes, mRefused, mWriteErrors, mEvicted, mEvAlerts, mEvUndeliv,
		mTorn, mRecovered, mDamaged, mCursors, mPendingIdx, mFull, mFree, mRecords, mBytes, mSegments, mLag} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(mWritten, st.Written)
	counter(mWrittenBytes, st.WrittenBytes)
	counter(mRefused, st.Refused, "full")
	counter(mRefused, st.TooLarge, "too_large")
	counter(mWriteErrors, st.WriteErrors)
	counter(mEvicted, st.Evicted, "size")
	counter(mEvicted, st.EvictedAge, "age")
	counter(mEvAlerts, st.EvictedAlerts)
	counter(mEvUndeliv, st.EvictedUndelivered)
	counter(mTorn, st.TornTails)
	counter(mRecovered, st.RecoveredBytes)
	counter(mDamaged, st.DamagedSegments)
	counter(mCursors, st.DamagedCursors)
	gauge(mPendingIdx, float64(st.IndexesPending))
	full := 0.0
	if st.Full {
		full = 1
	}
	gauge(mFull, full)
	gauge(mFree, float64(st.FreeBytes))
	for name, ss := range st.Streams {
		gauge(mRecords, float64(ss.Records), name)
		gauge(mBytes, float64(ss.Bytes), name)
		gauge(mSegments, float64(ss.Segments), name)
	}
	for consumer, lags := range c.s.Lags() {
		for stream, v := range lags {
			gauge(mLag, float64(v), consumer, stream)
		}
	}
}
