// Package delivery ships what the local store holds to a sink (Kafka,
// Elasticsearch) at least once: each exporter reads the store from its own
// committed cursor, sends a batch, and commits only the records the sink
// acknowledged. A sink outage or a restart of the sensor therefore costs
// resends, never records. Records a sink rejects for good (a mapping error,
// a document too large) are written to the store's dead-letter stream with
// the reason, counted, and passed over, so one bad document cannot stop
// delivery.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Record is one stored document as the delivery loop sees it.
type Record struct {
	Stream string
	Seq    uint64
	Time   int64  // @timestamp, unix ns
	Kind   string // event.kind: event, alert, metric, state
	Doc    []byte
}

// Reader reads one stream in order from a position; Read does not wait.
type Reader interface {
	// Read appends up to max records (about maxBytes of documents) to dst.
	// The documents stay valid until the next Read.
	Read(dst []Record, max, maxBytes int) ([]Record, error)
	// Next is the sequence number of the next record Read returns.
	Next() uint64
	// Skipped counts records the store could not return (removed by
	// retention before delivery, damaged).
	Skipped() uint64
	Close() error
}

// Registerer is implemented by a source that wants to know each
// consumer's position (the store counts evicting undelivered records).
type Registerer interface {
	Register(name string, cursor func(stream string) uint64)
	Unregister(name string)
}

// Source is what the delivery loop needs from the store.
type Source interface {
	NewReader(stream string, from uint64) (Reader, error)
	// Head is the last sequence number written to a stream (0: none).
	Head(stream string) uint64
	// Changed is closed when records are next added to the stream.
	Changed(stream string) <-chan struct{}
	// LoadCursors returns the next sequence number to deliver per stream.
	LoadCursors(name string) (map[string]uint64, error)
	// SaveCursors commits them durably.
	SaveCursors(name string, next map[string]uint64) error
	// DeadLetter keeps a document the sink rejected for good.
	DeadLetter(sink string, rec Record, reason string) error
}

// Status is what became of one record of a batch.
type Status uint8

const (
	// Pending: not acknowledged (sink down, timeout, 429, 5xx); sent again.
	Pending Status = iota
	// Delivered: the sink acknowledged it.
	Delivered
	// Rejected: the sink refused it for good; it goes to the dead letters.
	Rejected
)

// Result is the outcome of one record; Reason says why it was rejected.
type Result struct {
	Status Status
	Reason string
}

// Sink sends batches. Send fills res[i] for batch[i] (all Pending on entry)
// and returns an error describing why records stayed Pending, if any did.
type Sink interface {
	Name() string
	Send(ctx context.Context, batch []Record, res []Result) error
	Close() error
}

// Options tune a delivery loop; zero values take the defaults.
type Options struct {
	Streams      []string      // streams to deliver, in priority order (default: alerts, events)
	BatchRecords int           // records per send (default 4096)
	BatchBytes   int           // about this many bytes per send (default 8 MiB)
	BackoffMin   time.Duration // first wait after a failed send (default 200ms)
	BackoffMax   time.Duration // longest wait (default 30s)
	Poll         time.Duration // look for new records at least this often (default 1s)
	Log          *slog.Logger
}

// Loop delivers one source to one sink.
type Loop struct {
	src  Source
	sink Sink
	opt  Options
	log  *slog.Logger

	next map[string]*atomic.Uint64 // acknowledged position per stream
	st   stats

	// commit asks the committer to save the cursors: the fsync of the
	// cursor file stays off the send path. A cursor saved a batch late
	// costs resends after a crash, never records.
	commit chan struct{}
}

// stats are a loop's counters; read them with the getters.
type stats struct {
	delivered, failed, retried, deadLettered, skipped atomic.Uint64
	sends, failedSends                                atomic.Uint64
	lastError                                         atomic.Pointer[string]
}

// Defaults of Options (and of outputs.*.batch_records and backoff_max).
const (
	DefaultBatchRecords = 4096
	DefaultBackoffMax   = 30 * time.Second
)

// New prepares a loop; Run starts it.
func New(src Source, sink Sink, opt Options) (*Loop, error) {
	if len(opt.Streams) == 0 {
		opt.Streams = []string{"alerts", "events"}
	}
	if opt.BatchRecords <= 0 {
		opt.BatchRecords = DefaultBatchRecords
	}
	if opt.BatchBytes <= 0 {
		opt.BatchBytes = 8 << 20
	}
	if opt.BackoffMin <= 0 {
		opt.BackoffMin = 200 * time.Millisecond
	}
	if opt.BackoffMax < opt.BackoffMin {
		opt.BackoffMax = max(DefaultBackoffMax, opt.BackoffMin)
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	l := &Loop{src: src, sink: sink, opt: opt, log: opt.Log.With("exporter", sink.Name()),
		next: map[string]*atomic.Uint64{}, commit: make(chan struct{}, 1)}
	cur, err := src.LoadCursors(sink.Name())
	if err != nil {
		return nil, fmt.Errorf("delivery %s: %w", sink.Name(), err)
	}
	for _, s := range opt.Streams {
		v := &atomic.Uint64{}
		n := cur[s]
		if n < 1 {
			n = 1
		}
		v.Store(n)
		l.next[s] = v
	}
	return l, nil
}

// Name is the sink's name.
func (l *Loop) Name() string { return l.sink.Name() }

// Cursor is the next sequence number the loop will commit in a stream (what
// the store must keep); 0 for a stream it does not deliver.
func (l *Loop) Cursor(stream string) uint64 {
	if v, ok := l.next[stream]; ok {
		return v.Load()
	}
	return 0
}

// Lag is how many records of the delivered streams are not acknowledged yet.
func (l *Loop) Lag() uint64 {
	var lag uint64
	for s, v := range l.next {
		if h, n := l.src.Head(s), v.Load(); h+1 > n {
			lag += h + 1 - n
		}
	}
	return lag
}

// Delivered counts records the sink acknowledged.
func (l *Loop) Delivered() uint64 { return l.st.delivered.Load() }

// Failed counts sends of records that were not acknowledged (each attempt
// of each record counts once).
func (l *Loop) Failed() uint64 { return l.st.failed.Load() }

// Retried counts records sent again after a failed attempt.
func (l *Loop) Retried() uint64 { return l.st.retried.Load() }

// DeadLettered counts records the sink rejected for good, kept in the
// store's dead-letter stream.
func (l *Loop) DeadLettered() uint64 { return l.st.deadLettered.Load() }

// Skipped counts records the store could not hand over (removed by
// retention before delivery, damaged).
func (l *Loop) Skipped() uint64 { return l.st.skipped.Load() }

// LastError is the last send error ("" after a successful send).
func (l *Loop) LastError() string {
	if p := l.st.lastError.Load(); p != nil {
		return *p
	}
	return ""
}
