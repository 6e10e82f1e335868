package delivery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"
)

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
