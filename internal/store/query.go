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
	// OnDamage, when set, hears about records of the time range that
	// cannot be returned: damaged, or missing (Store.Damage), and about
	// a damaged index (First 0: no record lost, the segment was read
	// instead). A caller that hands documents over must say so.
	OnDamage func(Damage)
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
	damage := func(d Damage) {
		if q.OnDamage != nil {
			d.Stream = q.Stream
			q.OnDamage(d)
		}
	}
	for _, d := range st.damage {
		if d.inRange(q.Since, q.Until) {
			damage(d)
		}
	}
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
		// The records of a compressed frame share its offset: the k-th
		// entry at an offset is the frame's k-th record.
		prevOff, k := int64(-1), 0
		fr := frameCache{at: -1}
		var userErr error
		skip := uint64(0)             // entries already visited, when the walk starts over
		fromIdx := seg.entries == nil // entry i is record seg.first+i (not so in a segment scan's entries)
		visit := func(off int64, t int64, kind Kind, keys []uint64) error {
			defer func() { i++ }()
			if i < skip {
				return nil
			}
			if i >= count {
				return errStop // past what the writer has completed
			}
			if off >= size || off < segHdrSize {
				if fromIdx {
					return errIdxMismatch // an entry the index cannot hold
				}
				return errStop
			}
			if off == prevOff {
				k++
			} else {
				prevOff, k = off, 0
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
			if off == fr.at {
				rec, err = fr.record(k)
			} else {
				rec, buf, err = readRecordAt(f, off, buf)
				if err == nil && rec.kind == kindBatch {
					err = fr.load(off, rec)
					if err == nil {
						rec, err = fr.record(k)
					}
				}
			}
			if err != nil {
				// Damaged: verify names it; a timeline goes on.
				s.log.Warn("store: unreadable record skipped", "segment", seg.path, "offset", off, "error", err)
				d := Damage{File: seg.path, Offset: off, Message: fmt.Sprintf("cannot be read (%v): skipped", err)}
				if fromIdx {
					d.First, d.Last = seg.first+i, seg.first+i
				}
				damage(d)
				return nil
			}
			if fromIdx && rec.seq != seg.first+i {
				return errIdxMismatch
			}
			if err := fn(Record{Stream: q.Stream, Seq: rec.seq, Time: rec.time, Kind: rec.kind, Doc: rec.doc}); err != nil {
				userErr = err
				return err
			}
			return nil
		}
		_, werr := seg.eachEntry(visit)
		if werr == nil && userErr == nil && i < count && seg.entries == nil {
			werr = fmt.Errorf("%w: %d entries for %d records", errIdxMismatch, i, count) // a torn index
		}
		if werr != nil && userErr == nil {
			// The index is derived data: without it, read the segment.
			s.log.Warn("store: index unreadable; reading the segment instead", "segment", seg.path, "error", werr)
			damage(Damage{File: seg.idxPath(), Offset: -1, NoLoss: true, Message: fmt.Sprintf("index unreadable (%v): the segment was read instead, no record lost", werr)})
			werr = nil
			if res, err := scanSegment(seg.path, st.id, false); err == nil {
				if i > 0 {
					i-- // the entry that did not match is visited again
				}
				skip, i, prevOff, k, fr, fromIdx = i, 0, -1, 0, frameCache{at: -1}, false
				_, werr = walkIdxBytes(res.entries, visit)
				if errors.Is(werr, errStop) {
					werr = nil
				}
				for _, d := range res.bad {
					if d.inRange(q.Since, q.Until) {
						damage(d)
					}
				}
			} else {
				damage(Damage{File: seg.path, First: seg.first, Last: seg.last(), Offset: -1, Message: fmt.Sprintf("the segment cannot be read (%v): its records were skipped", err)})
			}
		}
		f.Close()
		if userErr != nil {
			return userErr
		}
		if werr != nil {
			return werr
		}
	}
	return nil
}

// errIdxMismatch: an index entry that does not point at its record.
var errIdxMismatch = errors.New("the index does not match the segment")

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

// frameCache holds the records of the last compressed frame a scan read.
type frameCache struct {
	at   int64
	zb   []byte
	recs []rawRecord
}

func (c *frameCache) load(off int64, rec rawRecord) error {
	c.at = -1
	_, count, out, err := unpackFrame(rec, c.zb)
	c.zb = out
	if err != nil {
		return err
	}
	c.recs = c.recs[:0]
	for b := out; len(b) > 0; {
		size, crc, err := parseRecordHeader(b)
		if err != nil || size > len(b) {
			return fmt.Errorf("%w: a record inside is cut short", errFrame)
		}
		r, err := parseRecord(b, size, crc)
		if err != nil {
			r = rawRecord{seq: r.seq, kind: 0xff} // damaged: kept in place so positions hold
		}
		c.recs = append(c.recs, r)
		b = b[size:]
	}
	if len(c.recs) != count {
		return fmt.Errorf("%w: %d records, header says %d", errFrame, len(c.recs), count)
	}
	c.at = off
	return nil
}

func (c *frameCache) record(k int) (rawRecord, error) {
	if k >= len(c.recs) || c.recs[k].kind == 0xff {
		return rawRecord{}, errCRC
	}
	return c.recs[k], nil
}
