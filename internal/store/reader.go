package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrClosed is returned by writes to a closed or read-only store, and by
// Reader.Wait when the store closes.
var ErrClosed = errors.New("store closed")

// ErrEnd is returned by Reader.Wait on a read-only store when every record
// has been read: nothing more will come.
var ErrEnd = errors.New("store: end of stream")

// Record is one stored document.
type Record struct {
	Stream string
	Seq    uint64
	Time   int64 // @timestamp, unix ns
	Kind   Kind
	Doc    []byte
}

// Reader reads one stream of a store in order, from a sequence number on,
// and can follow the tail of a store open for writing. It never reads past
// what the writer has completed. Not safe for concurrent use; open one
// reader per consumer and stream.
type Reader struct {
	s    *Store
	st   *stream
	next uint64
	sc   *scanner
	seg  *segment

	// Skipped counts records the reader could not return: removed by
	// retention before it got to them, or unreadable (damaged).
	Skipped uint64
	// OnProblem, when set, hears about damaged records and gaps.
	OnProblem func(msg string)
}

// NewReader returns a reader of stream that starts at sequence number from
// (0 or 1: the oldest record stored; a cursor from LoadCursors).
func (s *Store) NewReader(stream string, from uint64) (*Reader, error) {
	st, ok := s.streams[stream]
	if !ok {
		return nil, fmt.Errorf("store: no stream %q", stream)
	}
	if from < 1 {
		from = st.first.Load()
	}
	return &Reader{s: s, st: st, next: from}, nil
}

// Next is the sequence number of the next record the reader returns: the
// cursor to save once everything before it is delivered.
func (r *Reader) Next() uint64 { return r.next }

// Lag is how many records are stored after the reader's position.
func (r *Reader) Lag() uint64 { return r.s.Lag(r.st.name, r.next) }

// Close releases the reader's file.
func (r *Reader) Close() error {
	if r.sc != nil {
		err := r.sc.close()
		r.sc, r.seg = nil, nil
		return err
	}
	return nil
}

func (r *Reader) problem(format string, args ...any) {
	if r.OnProblem != nil {
		r.OnProblem(fmt.Sprintf(format, args...))
	}
}

// Wait blocks until the stream has a record at or after the reader's
// position, ctx ends (ctx.Err()), the store closes (ErrClosed), or, on a
// read-only store, everything has been read (ErrEnd).
func (r *Reader) Wait(ctx context.Context) error {
	for {
		ch := r.st.changed()
		if r.st.head.Load() >= r.next {
			return nil
		}
		if r.s.ro {
			return ErrEnd
		}
		if r.s.isClose.Load() {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ReadWait is Read that waits (as Wait) while nothing is available.
func (r *Reader) ReadWait(ctx context.Context, dst []Record, arena []byte, maxRecords, maxBytes int) ([]Record, []byte, error) {
	for {
		n := len(dst)
		var err error
		dst, arena, err = r.Read(dst, arena, maxRecords, maxBytes)
		if err != nil || len(dst) > n {
			return dst, arena, err
		}
		if err := r.Wait(ctx); err != nil {
			return dst, arena, err
		}
		// Wait returned with records to read, unless they were all
		// skipped (removed or damaged): Read again either way.
	}
}

// Read appends up to maxRecords records (and about maxBytes of documents)
// to dst without waiting; the documents are copied into arena, which it
// returns grown. It returns what was available, possibly nothing.
func (r *Reader) Read(dst []Record, arena []byte, maxRecords, maxBytes int) ([]Record, []byte, error) {
	head := r.st.head.Load()
	start := len(arena)
	for n := 0; n < maxRecords && len(arena)-start < maxBytes && r.next <= head; {
		if r.sc == nil || r.passed() {
			ok, err := r.open()
			if err != nil {
				return dst, arena, err
			}
			if !ok {
				break
			}
			continue
		}
		rec, off, err := r.sc.next()
		if err != nil {
			if errors.Is(err, errCRC) {
				r.problem("stream %s segment %s: record %d at offset %d is damaged (%v); skipped", r.st.name, r.seg.name(), r.next, off, err)
				r.Skipped++
				r.next++
				continue
			}
			if err == io.EOF {
				if !r.isSealed() {
					break // the writer's next records are not complete yet
				}
				// Sealed after this read hit the end: the writer may
				// have completed more records first. Read on from here.
				if r.sc.off < r.segSize() {
					if err := r.sc.seek(r.sc.off); err != nil {
						return dst, arena, err
					}
					continue
				}
			}
			// The rest of this segment cannot be read.
			last := r.segLast()
			if last >= r.next {
				r.problem("stream %s segment %s: unreadable from record %d at offset %d (%v); records %d to %d skipped",
					r.st.name, r.seg.name(), r.next, off, err, r.next, last)
				r.Skipped += last - r.next + 1
				r.next = last + 1
			}
			r.Close()
			continue
		}
		if rec.seq != r.next {
			if rec.seq < r.next {
				continue
			}
			r.problem("stream %s segment %s: records %d to %d missing", r.st.name, r.seg.name(), r.next, rec.seq-1)
			r.Skipped += rec.seq - r.next
		}
		a := len(arena)
		arena = append(arena, rec.doc...)
		dst = append(dst, Record{Stream: r.st.name, Seq: rec.seq, Time: rec.time, Kind: rec.kind, Doc: arena[a:len(arena):len(arena)]})
		r.next = rec.seq + 1
		n++
	}
	return dst, arena, nil
}

// passed reports whether the reader has read all of a sealed segment.
func (r *Reader) passed() bool {
	r.st.mu.RLock()
	defer r.st.mu.RUnlock()
	return r.seg.sealed && r.next > r.seg.last()
}

func (r *Reader) isSealed() bool {
	r.st.mu.RLock()
	defer r.st.mu.RUnlock()
	return r.seg.sealed
}

func (r *Reader) segSize() int64 {
	r.st.mu.RLock()
	defer r.st.mu.RUnlock()
	return r.seg.size
}

func (r *Reader) segLast() uint64 {
	r.st.mu.RLock()
	defer r.st.mu.RUnlock()
	return r.seg.last()
}

// committedSize is how much of seg the writer has completed: the reader
// never reads further, so it never sees a write in progress or the bytes
// of a failed write that is being cut back.
func (st *stream) committedSize(seg *segment) func() int64 {
	return func() int64 {
		st.mu.RLock()
		defer st.mu.RUnlock()
		return seg.size
	}
}

// open positions the reader at r.next: in the segment that holds it, or at
// the next record still stored when retention removed it or a damaged
// segment was moved aside (counted as skipped).
func (r *Reader) open() (bool, error) {
	r.Close()
	for attempt := 0; attempt < 5; attempt++ {
		r.st.mu.RLock()
		var seg, after *segment
		for _, sg := range r.st.segs {
			if r.next >= sg.first && r.next < sg.first+sg.count {
				seg = sg
				break
			}
			if sg.first > r.next && sg.count > 0 {
				after = sg
				break
			}
		}
		r.st.mu.RUnlock()
		if seg == nil && after != nil {
			r.problem("stream %s: records %d to %d are no longer stored (removed by retention or damaged) and were not read", r.st.name, r.next, after.first-1)
			r.Skipped += after.first - r.next
			r.next = after.first
			seg = after
		}
		if seg == nil {
			return false, nil
		}
		sc, err := openScannerLimit(seg.path, r.st.committedSize(seg))
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile: look again
		}
		if err != nil {
			r.problem("stream %s segment %s: cannot be read (%v); records %d to %d skipped", r.st.name, seg.name(), err, r.next, seg.last())
			r.Skipped += seg.last() - r.next + 1
			r.next = seg.last() + 1
			continue
		}
		r.sc, r.seg = sc, seg
		if err := r.skipTo(r.next); err != nil {
			r.Close()
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// skipTo moves the open scanner to record seq, using the index when it
// has the record's offset, else stepping over records.
func (r *Reader) skipTo(seq uint64) error {
	if seq == r.seg.first {
		return nil
	}
	if off, ok := r.s.offsetOf(r.st, r.seg, seq); ok {
		// The index of a damaged segment has no entries for its
		// unreadable records: check the record found is the one wanted.
		if err := r.sc.seek(off); err != nil {
			return err
		}
		if rec, _, err := r.sc.next(); err == nil && rec.seq == seq {
			return r.sc.seek(off)
		}
		if err := r.sc.seek(segHdrSize); err != nil {
			return err
		}
	}
	for skip := seq - r.seg.first; skip > 0; skip-- {
		if err := r.sc.skip(); err != nil {
			return nil // Read reports the problem where it is
		}
	}
	return nil
}
