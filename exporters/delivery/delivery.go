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
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
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

// New prepares a loop; Run starts it.
func New(src Source, sink Sink, opt Options) (*Loop, error) {
	if len(opt.Streams) == 0 {
		opt.Streams = []string{"alerts", "events"}
	}
	if opt.BatchRecords <= 0 {
		opt.BatchRecords = 4096
	}
	if opt.BatchBytes <= 0 {
		opt.BatchBytes = 8 << 20
	}
	if opt.BackoffMin <= 0 {
		opt.BackoffMin = 200 * time.Millisecond
	}
	if opt.BackoffMax < opt.BackoffMin {
		opt.BackoffMax = max(30*time.Second, opt.BackoffMin)
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

// streamState is what the loop holds for one stream: its reader and the
// batch in flight with each record's outcome so far.
type streamState struct {
	name    string
	rd      Reader
	batch   []Record
	res     []Result
	skipped uint64
}

// Run delivers until ctx ends. It returns nil on cancellation; an error
// only when the store itself fails (a reader cannot be opened).
func (l *Loop) Run(ctx context.Context) error {
	var states []*streamState
	defer func() {
		for _, s := range states {
			s.rd.Close()
		}
	}()
	if r, ok := l.src.(Registerer); ok {
		r.Register(l.sink.Name(), l.Cursor)
		defer r.Unregister(l.sink.Name())
	}
	for _, name := range l.opt.Streams {
		rd, err := l.src.NewReader(name, l.next[name].Load())
		if err != nil {
			return fmt.Errorf("delivery %s: %w", l.sink.Name(), err)
		}
		states = append(states, &streamState{name: name, rd: rd})
	}
	stop := make(chan struct{})
	committed := make(chan struct{})
	go l.committer(stop, committed)
	defer func() {
		close(stop)
		<-committed
	}()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		busy, failed := false, false
		for _, s := range states {
			b, f, err := l.step(ctx, s)
			if err != nil {
				return err
			}
			busy = busy || b
			failed = failed || f
		}
		switch {
		case failed:
			backoff = l.nextBackoff(backoff)
			sleep(ctx, backoff)
		case !busy:
			backoff = 0
			l.wait(ctx, states)
		default:
			backoff = 0
		}
	}
	return nil
}

// step sends one stream's batch in flight (reading a new one if there is
// none) and commits what it can. busy: there was something to send;
// failed: some of it stayed Pending.
func (l *Loop) step(ctx context.Context, s *streamState) (busy, failed bool, err error) {
	if len(s.batch) == 0 {
		s.batch, err = s.rd.Read(s.batch[:0], l.opt.BatchRecords, l.opt.BatchBytes)
		if err != nil {
			return false, false, fmt.Errorf("delivery %s: read %s: %w", l.sink.Name(), s.name, err)
		}
		if sk := s.rd.Skipped(); sk > s.skipped {
			l.st.skipped.Add(sk - s.skipped)
			l.log.Warn("records the store could not hand over were skipped", "stream", s.name, "count", sk-s.skipped)
			s.skipped = sk
		}
		if len(s.batch) == 0 {
			// Skipped records at the end: move the cursor past them, so
			// they are not counted as lag forever.
			if nx := s.rd.Next(); nx > l.next[s.name].Load() {
				l.next[s.name].Store(nx)
				l.requestCommit()
			}
			return false, false, nil
		}
		s.res = append(s.res[:0], make([]Result, len(s.batch))...)
	}
	// Send only what is still Pending: records delivered in an earlier,
	// partly failed attempt are not sent twice.
	send, idx := s.batch, []int(nil)
	if s.anyDone() {
		send = nil
		for i := range s.batch {
			if s.res[i].Status == Pending {
				send = append(send, s.batch[i])
				idx = append(idx, i)
			}
		}
	}
	res := make([]Result, len(send))
	l.st.sends.Add(1)
	serr := l.sink.Send(ctx, send, res)
	for j := range res {
		i := j
		if idx != nil {
			i = idx[j]
		}
		s.res[i] = res[j]
	}
	// Commit the acknowledged prefix; dead-letter rejections on the way.
	n, rejected, firstReason := 0, 0, ""
	for n < len(s.batch) && s.res[n].Status != Pending {
		if s.res[n].Status == Rejected {
			if derr := l.src.DeadLetter(l.sink.Name(), s.batch[n], s.res[n].Reason); derr != nil {
				// Not kept: the record must not be passed over.
				l.log.Error("cannot write a rejected record to the dead letters; it stays pending", "stream", s.name, "seq", s.batch[n].Seq, "error", derr)
				s.res[n].Status = Pending
				break
			}
			l.st.deadLettered.Add(1)
			if rejected == 0 {
				firstReason = fmt.Sprintf("seq %d: %s", s.batch[n].Seq, s.res[n].Reason)
			}
			rejected++
		} else {
			l.st.delivered.Add(1)
		}
		n++
	}
	if rejected > 0 {
		// One line per batch, not per record: a mapping conflict can
		// reject every document.
		l.log.Warn("records rejected by the sink, kept in the dead letters", "stream", s.name, "count", rejected, "first", firstReason)
	}
	pending := 0
	for i := n; i < len(s.batch); i++ {
		if s.res[i].Status == Pending {
			pending++
		}
	}
	if n > 0 {
		next := s.batch[n-1].Seq + 1
		l.next[s.name].Store(next)
		l.requestCommit()
		s.batch = s.batch[:copy(s.batch, s.batch[n:])]
		s.res = s.res[:copy(s.res, s.res[n:])]
	}
	if pending > 0 {
		l.st.failed.Add(uint64(pending))
		l.st.retried.Add(uint64(pending))
		l.st.failedSends.Add(1)
		if serr == nil {
			serr = errors.New("records not acknowledged")
		}
		msg := serr.Error()
		if prev := l.LastError(); prev != msg {
			l.log.Error("send failed; will retry", "stream", s.name, "pending", pending, "lag", l.Lag(), "error", serr)
		}
		l.st.lastError.Store(&msg)
		return true, true, nil
	}
	if prev := l.LastError(); prev != "" {
		l.log.Info("sink accepts records again", "stream", s.name, "after", prev)
		empty := ""
		l.st.lastError.Store(&empty)
	}
	return true, false, nil
}

func (l *Loop) requestCommit() {
	select {
	case l.commit <- struct{}{}:
	default: // one is pending already; it will save the latest cursors
	}
}

// committer saves the cursors whenever asked, and once more when stopped,
// so what was acknowledged last is committed before Run returns.
func (l *Loop) committer(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	var saved map[string]uint64
	save := func() {
		c := l.cursors()
		if maps.Equal(c, saved) {
			return
		}
		if err := l.src.SaveCursors(l.sink.Name(), c); err != nil {
			// Delivered but not committed: resent after a restart, never lost.
			l.log.Error("cannot commit the cursor", "error", err)
			return
		}
		saved = c
	}
	for {
		select {
		case <-l.commit:
			save()
		case <-stop:
			save()
			return
		}
	}
}

func (s *streamState) anyDone() bool {
	for _, r := range s.res {
		if r.Status != Pending {
			return true
		}
	}
	return false
}

func (l *Loop) cursors() map[string]uint64 {
	m := make(map[string]uint64, len(l.next))
	for s, v := range l.next {
		m[s] = v.Load()
	}
	return m
}

// nextBackoff doubles the wait up to BackoffMax, with up to 20% jitter so
// many sensors do not retry against a recovering sink in step.
func (l *Loop) nextBackoff(prev time.Duration) time.Duration {
	d := prev * 2
	if d < l.opt.BackoffMin {
		d = l.opt.BackoffMin
	}
	if d > l.opt.BackoffMax {
		d = l.opt.BackoffMax
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// wait blocks until a delivered stream has new records, Poll passes or ctx
// ends.
func (l *Loop) wait(ctx context.Context, states []*streamState) {
	t := time.NewTimer(l.opt.Poll)
	defer t.Stop()
	// One goroutine-free select over at most a few streams: the common
	// case is two (alerts, events).
	chs := make([]<-chan struct{}, 0, len(states))
	for _, s := range states {
		ch := l.src.Changed(s.name) // before Head: no wakeup is missed
		if l.src.Head(s.name) >= s.rd.Next() || len(s.batch) > 0 {
			// Records are there already (written between Read and now).
			return
		}
		chs = append(chs, ch)
	}
	switch len(chs) {
	case 0:
		return
	case 1:
		select {
		case <-chs[0]:
		case <-t.C:
		case <-ctx.Done():
		}
	case 2:
		select {
		case <-chs[0]:
		case <-chs[1]:
		case <-t.C:
		case <-ctx.Done():
		}
	default: // more streams than this loop is written for: poll
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
