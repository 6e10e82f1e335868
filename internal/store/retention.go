package store

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"
)

// refused counts documents refused for lack of room and tells the
// operator (at most once a minute).
func (s *Store) refused(n int, st *stream, err error) {
	s.st.droppedFull.Add(uint64(n))
	s.st.full.Store(true)
	what := "routine documents are"
	if st.name == StreamAlerts {
		what = "even alerts are"
	}
	s.notify(Notice{Action: "store-full",
		Message: fmt.Sprintf("the store is full and nothing more can be removed: %s being refused", what),
		Details: map[string]string{"dir": s.opt.Dir, "stream": st.name, "error": err.Error()}})
}

// makeRoom removes old segments until need more bytes fit under MaxBytes
// and above MinFreeBytes. Routine streams are refused when nothing more can
// be removed; alerts may use what the file system still has.
func (s *Store) makeRoom(st *stream, need int64, now time.Time) error {
	s.checkFree(now, false)
	// Routine documents never push out alerts; an alert may push out
	// anything older, alerts last.
	for s.total+need > s.opt.MaxBytes {
		if !s.evictOne(st.name == StreamAlerts, "store size limit", st) {
			return fmt.Errorf("store is at its size limit (%d bytes) with nothing left to remove", s.opt.MaxBytes)
		}
	}
	for s.free-need < s.opt.MinFreeBytes {
		if !s.evictOne(false, "file system free space", st) {
			if st.name == StreamAlerts {
				return nil // alerts may use the reserve
			}
			return fmt.Errorf("file system free space (%d bytes) is below the %d bytes the store leaves free, with nothing left to remove", s.free, s.opt.MinFreeBytes)
		}
		s.checkFree(now, true)
	}
	return nil
}

// checkFree refreshes the free-space figure at most once a second, or at
// once with force.
func (s *Store) checkFree(now time.Time, force bool) {
	if !force && now.Sub(s.freeAt) < time.Second && now.After(s.freeAt) {
		return
	}
	free, err := s.opt.statfs(s.opt.Dir)
	if err != nil {
		s.log.Warn("store: cannot read free space", "dir", s.opt.Dir, "error", err)
		return
	}
	s.free = int64(free)
	s.freeAt = now
}

// evictOne removes the oldest removable segment: routine streams first,
// alerts only when allowAlerts and no routine segment is left. The active
// segment of a stream is rolled first when it is all that is left, except
// for busy, the stream whose staged records are about to be written.
func (s *Store) evictOne(allowAlerts bool, reason string, busy *stream) bool {
	order := []string{StreamEvents, StreamDeadLetter}
	if allowAlerts {
		order = append(order, StreamAlerts)
	}
	// A stream is emptied, its active segment last, before the next one
	// in the order loses anything.
	for _, name := range order {
		st := s.streams[name]
		if len(st.segs) > 1 || (len(st.segs) == 1 && st.f == nil) {
			s.removeOldest(st, reason)
			return true
		}
		// A stream with staged records (written later in this Write)
		// keeps its active segment: their offsets point into it.
		if act := st.active(); act != nil && act.count > 0 && st != busy && len(st.staged) == 0 {
			// Roll it so it can go. A failed seal (the index footer on
			// a full disk) still closes the segment: the index is
			// rebuilt from the segment when needed.
			if err := s.roll(st); err != nil {
				s.log.Warn("store: sealing a segment to free space", "stream", name, "error", err)
			}
			if len(st.segs) > 0 && st.f == nil {
				s.removeOldest(st, reason)
				return true
			}
		}
	}
	// Only the active segment of the stream being written is left.
	if busy != nil && (allowAlerts || busy.name != StreamAlerts) {
		if act := busy.active(); act != nil && act.count > 0 {
			return s.evictBusy(busy, reason)
		}
	}
	return false
}

// evictBusy removes the active segment of a stream whose staged records
// are about to be written: the segment is sealed and removed, a new one is
// started and the staged records are moved to it (their index offsets
// rebased). Without a new segment the staged records cannot be written;
// the caller's write then fails and is counted.
func (s *Store) evictBusy(st *stream, reason string) bool {
	delta := st.active().size - segHdrSize
	if err := s.roll(st); err != nil {
		s.log.Warn("store: sealing a segment to free space", "stream", st.name, "error", err)
	}
	if len(st.segs) == 0 || st.f != nil {
		return false
	}
	s.removeOldest(st, reason)
	if err := s.newSegment(st, s.opt.now()); err != nil {
		s.log.Error("store: cannot start a segment after freeing space", "stream", st.name, "error", err)
		return false
	}
	rebaseIdx(st.ibuf, delta)
	return true
}

// rebaseIdx moves the segment offsets of staged index entries back by
// delta bytes.
func rebaseIdx(ibuf []byte, delta int64) {
	for i := 0; i+idxEntryFixed <= len(ibuf); {
		off := int64(binary.LittleEndian.Uint32(ibuf[i:])) - delta
		binary.LittleEndian.PutUint32(ibuf[i:], uint32(off))
		i += idxEntryFixed + 8*int(ibuf[i+13])
	}
}

func (s *Store) removeOldest(st *stream, reason string) {
	st.mu.Lock()
	seg := st.segs[0]
	st.segs = st.segs[1:]
	next := st.nextSeq
	if len(st.segs) > 0 {
		next = st.segs[0].first
	}
	st.first.Store(next)
	st.mu.Unlock()
	os.Remove(seg.path)
	os.Remove(seg.idxPath())
	os.Remove(seg.bloomPath())
	s.total -= seg.size + seg.idxSize
	s.free += seg.size + seg.idxSize
	if seg.count == 0 {
		return
	}
	if reason == "age" {
		s.st.evictedAge.Add(seg.count)
	} else {
		s.st.evicted.Add(seg.count)
	}
	if st.name == StreamAlerts {
		s.st.evictedAlerts.Add(seg.count)
	}
	// Records a consumer had not delivered yet: its live position when it
	// runs, else its last committed cursor.
	var undelivered uint64
	for name, c := range s.positions(st.name) {
		if c <= seg.last() {
			n := seg.last() - max(c, seg.first) + 1
			undelivered = max(undelivered, n)
			s.log.Error("store: removed records an exporter had not delivered", "exporter", name, "stream", st.name,
				"first", max(c, seg.first), "last", seg.last(), "reason", reason)
		}
	}
	if undelivered > 0 {
		s.st.evictedUndelivered.Add(undelivered)
		s.notify(Notice{Action: "store-evicted-undelivered",
			Message: fmt.Sprintf("%d %s records removed (%s) before every exporter delivered them", undelivered, st.name, reason),
			Details: map[string]string{"stream": st.name, "segment": seg.name(), "reason": reason}})
	}
	s.log.Info("store: removed segment", "stream", st.name, "segment", seg.name(), "records", seg.count, "reason", reason)
}

// maintain applies age retention and rolls old active segments, at most
// once a minute unless forced.
func (s *Store) maintain(now time.Time, force bool) {
	if !force && now.Sub(s.maintAt) < time.Minute && now.After(s.maintAt) {
		return
	}
	s.maintAt = now
	if len(s.pendingIdx) > 0 {
		s.writePending()
	}
	for _, name := range Streams {
		st := s.streams[name]
		if act := st.active(); act != nil && act.count > 0 && now.Sub(st.created) >= s.opt.SegmentAge {
			if err := s.roll(st); err != nil {
				s.log.Error("store: cannot roll segment", "stream", name, "error", err)
			}
		}
		maxAge := s.opt.MaxAge
		if name == StreamAlerts {
			maxAge = s.opt.AlertMaxAge
		}
		if maxAge <= 0 {
			continue
		}
		cut := now.Add(-maxAge).UnixNano()
		for len(st.segs) > 0 && !(st.f != nil && len(st.segs) == 1) {
			seg := st.segs[0]
			if seg.maxTime == 0 || seg.maxTime >= cut {
				break
			}
			s.removeOldest(st, "age")
		}
	}
}
