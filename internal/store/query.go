package store

import (
	"errors"
	"fmt"
	"os"
)

// Query selects records of a stream by time and index keys, reading only
// the segments whose time range overlaps and only the records whose index
// entry matches: a timeline over a day of events reads the indexes and a
// few documents, not every segment.
type Query struct {
	Stream string
	Since  int64 // unix ns, inclusive; 0: no lower bound
	Until  int64 // unix ns, inclusive; 0: no upper bound
	// Match decides from the index entry whether to read the record; nil
	// reads every record in the time range. Keys are valid only during
	// the call. A match is a candidate only: hashes may collide, so the
	// caller checks the document.
	Match func(e *IndexEntry) bool
	// Keys, when set, are called before each segment: a sealed segment
	// whose key filter holds none of them is skipped unread. They must
	// include every key Match can accept (a superset is fine).
	Keys func() []uint64
}

// Scan calls fn with each matching record, in stream order. Record.Doc is
// valid only during the call. fn returning errStop-like sentinel errors
// ends the scan with that error.
func (s *Store) Scan(q Query, fn func(Record) error) error {
	st, ok := s.streams[q.Stream]
	if !ok {
		return fmt.Errorf("store: no stream %q", q.Stream)
	}
	st.mu.RLock()
	segs := append([]*segment(nil), st.segs...)
	st.mu.RUnlock()
	var buf []byte
	for _, seg := range segs {
		st.mu.RLock()
		minT, maxT, count, size := seg.minTime, seg.maxTime, seg.count, seg.size
		st.mu.RUnlock()
		if count == 0 || (q.Since != 0 && maxT != 0 && maxT < q.Since) || (q.Until != 0 && minT > q.Until) {
			continue
		}
		if q.Keys != nil && !mayHold(seg, q.Keys()) {
			s.skipped.Add(1)
			continue
		}
		f, err := os.Open(seg.path)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed by retention meanwhile
		}
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		var i uint64
		e := IndexEntry{Stream: q.Stream, seg: seg.path}
		_, werr := seg.eachEntry(func(off int64, t int64, kind Kind, keys []uint64) error {
			defer func() { i++ }()
			if i >= count || off >= size {
				return errStop // past what the writer has completed
			}
			if (q.Since != 0 && t < q.Since) || (q.Until != 0 && t > q.Until) {
				return nil
			}
			e.Offset, e.Time, e.Kind, e.Keys = off, t, kind, keys
			if q.Match != nil && !q.Match(&e) {
				return nil
			}
			var rec rawRecord
			var err error
			rec, buf, err = readRecordAt(f, off, buf)
			if err != nil {
				// Damaged: verify names it; a timeline goes on.
				s.log.Warn("store: unreadable record skipped", "segment", seg.path, "offset", off, "error", err)
				return nil
			}
			return fn(Record{Stream: q.Stream, Seq: rec.seq, Time: rec.time, Kind: rec.kind, Doc: rec.doc})
		})
		f.Close()
		if werr != nil {
			return werr
		}
	}
	return nil
}

// readRecordAt reads and checks the record at off.
func readRecordAt(f *os.File, off int64, buf []byte) (rawRecord, []byte, error) {
	var hdr [recHdrSize]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return rawRecord{}, buf, err
	}
	size, crc, err := parseRecordHeader(hdr[:])
	if err != nil {
		return rawRecord{}, buf, err
	}
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := f.ReadAt(buf, off); err != nil {
		return rawRecord{}, buf, err
	}
	rec, err := parseRecord(buf, size, crc)
	return rec, buf, err
}

// HasKey reports whether an index entry holds the key of type t for value
// (one of the Key* types).
func (e *IndexEntry) HasKey(t byte, value string) bool { return e.Has(KeyHash(t, value)) }

// mayHold reports whether a sealed segment may hold one of keys (true when
// it has no usable filter).
func mayHold(seg *segment, keys []uint64) bool {
	b := readBloom(seg)
	if b == nil {
		return true
	}
	for _, k := range keys {
		if b.may(k) {
			return true
		}
	}
	return false
}

// SegmentsSkipped counts segments queries skipped by their key filters.
func (s *Store) SegmentsSkipped() uint64 { return s.skipped.Load() }
