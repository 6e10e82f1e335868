package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/internal/dockey"
)

// Write implements exporters.Exporter: it appends every document to its
// stream. Documents it cannot store are reported in an
// *exporters.LostError.
func (s *Store) Write(docs [][]byte) error { return s.WriteMeta(docs, nil) }

// WriteMeta is Write with what the encoder knew of each document
// (exporters.MetaWriter): its time, kind and index keys are taken from
// meta[i] when meta[i].Valid, and parsed from the document otherwise. meta
// is nil or as long as docs.
func (s *Store) WriteMeta(docs [][]byte, meta []dockey.Meta) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || s.ro {
		return &exporters.LostError{Exporter: "store", Lost: len(docs), Err: ErrClosed}
	}
	if meta != nil && len(meta) != len(docs) {
		meta = nil
	}
	now := s.opt.now()
	s.maintain(now, false)
	var lost int
	var lastErr error
	for i, doc := range docs {
		if len(doc) > MaxDocument {
			s.st.tooLarge.Add(1)
			lost++
			lastErr = fmt.Errorf("document of %d bytes is above the store's limit of %d", len(doc), MaxDocument)
			continue
		}
		var info docInfo
		if meta != nil && meta[i].Valid {
			m := &meta[i]
			info = docInfo{time: m.Time, kind: kindOf([]byte(m.Kind)), keys: m.Keys}
		} else {
			info = *s.x.extract(doc)
		}
		st := s.streams[StreamEvents]
		if info.kind == KindAlert {
			st = s.streams[StreamAlerts]
		}
		t := info.time
		if t == 0 {
			t = now.UnixNano()
		}
		if n, err := s.stage(st, t, info.kind, doc, info.keys, now); err != nil {
			lost += n
			lastErr = err
		}
	}
	for _, name := range Streams {
		st := s.streams[name]
		if len(st.staged) == 0 {
			continue
		}
		n := len(st.staged)
		if err := s.commit(st, now); err != nil {
			lost += n
			lastErr = err
		}
	}
	if lost > 0 {
		return &exporters.LostError{Exporter: "store", Lost: lost, Err: lastErr}
	}
	return nil
}

// AppendDeadLetter stores a document a sink rejected for good, wrapped with
// the sink's name and its reason, in the dead-letter stream.
func (s *Store) AppendDeadLetter(sink string, rec Record, reason string) error {
	doc := deadLetterDoc(sink, rec, reason, s.opt.now())
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || s.ro {
		return ErrClosed
	}
	now := s.opt.now()
	st := s.streams[StreamDeadLetter]
	info := s.x.extract(rec.Doc)
	t := rec.Time
	if t == 0 {
		t = now.UnixNano()
	}
	if _, err := s.stage(st, t, KindDeadLetter, doc, info.keys, now); err != nil {
		return err
	}
	return s.commit(st, now)
}

// stage adds one record to a stream's pending write, writing out what is
// pending first when the record does not fit in the active segment. On
// error it returns how many documents were lost: those staged before and
// this one.
func (s *Store) stage(st *stream, t int64, kind Kind, doc []byte, keys []uint64, now time.Time) (int, error) {
	recSize := int64(recOverhead + len(doc))
	// SegmentBytes is the size of the file on disk: staged records are
	// not compressed yet, so their size there is estimated from what
	// this stream's writes compressed to.
	if act := st.active(); act != nil {
		pending := int64(len(st.buf))
		if act.size+st.onDisk(pending+recSize) > s.opt.SegmentBytes && act.count+uint64(len(st.staged)) > 0 {
			if n := len(st.staged); n > 0 {
				if err := s.commit(st, now); err != nil {
					return n + 1, err
				}
			}
			// What was written is known now: roll only when it is full.
			if act.size+st.onDisk(recSize) > s.opt.SegmentBytes && act.count > 0 {
				if err := s.roll(st); err != nil {
					return 1, err
				}
			}
		}
	}
	if st.f == nil {
		err := s.newSegment(st, now)
		if errors.Is(err, syscall.ENOSPC) && s.evictOne(st.name == StreamAlerts, "disk full", nil) {
			err = s.newSegment(st, now)
		}
		if err != nil {
			s.st.writeErrors.Add(1)
			if errors.Is(err, syscall.ENOSPC) {
				s.refused(1, st, err)
			}
			return 1, err
		}
	}
	seq := st.nextSeq + uint64(len(st.staged))
	prev := &st.lastHash
	if n := len(st.staged); n > 0 {
		prev = &st.staged[n-1].hash
	}
	h := chainHash(prev, seq, t, kind, doc)
	off := st.active().size + int64(len(st.buf))
	n0 := len(st.buf)
	st.buf = appendRecord(st.buf, seq, t, kind, &h, doc)
	st.ibuf = appendIdxEntry(st.ibuf, off, t, kind, keys)
	st.staged = append(st.staged, stagedRec{seq: seq, time: t, hash: h, size: len(st.buf) - n0})
	return 0, nil
}

// onDisk estimates the bytes raw bytes of staged records take in a
// segment, from what this stream's writes compressed to (all of them until
// something was written).
func (st *stream) onDisk(raw int64) int64 {
	if st.rawIn == 0 {
		return raw
	}
	return raw * st.diskOut / st.rawIn
}

// noteRatio adds a write's size before and after compression to the
// estimate, weighing recent writes more.
func (st *stream) noteRatio(raw, disk int64) {
	st.rawIn += raw
	st.diskOut += disk
	if st.rawIn > 64<<20 {
		st.rawIn, st.diskOut = st.rawIn/2, st.diskOut/2
	}
}

func (st *stream) discard() {
	st.buf = st.buf[:0]
	st.ibuf = st.ibuf[:0]
	st.staged = st.staged[:0]
}

// commit writes a stream's staged records: it makes room first (retention
// by size and free space), writes them with one system call, and only then
// advances the stream. A failed write is cut back, so the segment never
// holds half a record.
func (s *Store) commit(st *stream, now time.Time) error {
	defer st.discard()
	if len(st.staged) == 0 {
		return nil
	}
	raw := int64(len(st.buf))
	s.compressStaged(st)
	st.noteRatio(raw, int64(len(st.buf)))
	need := int64(len(st.buf) + len(st.ibuf))
	if err := s.makeRoom(st, need, now); err != nil {
		s.refused(len(st.staged), st, err)
		return err
	}
	for attempt := 0; ; attempt++ {
		err := s.writeStaged(st)
		if err == nil {
			break
		}
		s.st.writeErrors.Add(1)
		if errors.Is(err, syscall.ENOSPC) && attempt < 8 && s.evictOne(st.name == StreamAlerts, "disk full", st) {
			s.checkFree(now, true)
			continue
		}
		if errors.Is(err, syscall.ENOSPC) {
			s.refused(len(st.staged), st, err)
		}
		s.log.Error("store: write failed; documents not stored", "stream", st.name, "documents", len(st.staged), "error", err)
		return fmt.Errorf("store %s: %w", st.name, err)
	}
	s.st.full.Store(false)
	n := len(st.staged)
	last := st.staged[n-1]
	act := st.active()
	st.mu.Lock()
	for _, r := range st.staged {
		if act.minTime == 0 || r.time < act.minTime {
			act.minTime = r.time
		}
		if r.time > act.maxTime {
			act.maxTime = r.time
		}
	}
	act.count += uint64(n)
	act.size += int64(len(st.buf))
	act.idxSize += int64(len(st.ibuf))
	act.lastHash = last.hash
	st.mu.Unlock()
	s.total += need
	s.free -= need
	st.nextSeq = last.seq + 1
	st.lastHash = last.hash
	st.head.Store(last.seq)
	s.st.written.Add(uint64(n))
	s.st.writtenBytes.Add(uint64(len(st.buf)))
	// Keys go into the filter only once written: staged records can move
	// to another segment (evictBusy) before they are.
	st.nkeys += st.bloom.addEntries(st.ibuf)
	s.dirty = true
	st.signal()
	return nil
}

func (s *Store) writeStaged(st *stream) error {
	if st.f == nil {
		return errors.New("no segment to write to")
	}
	act := st.active()
	if _, err := st.f.Write(st.buf); err != nil {
		// Cut back to the last complete record.
		st.f.Truncate(act.size)
		return err
	}
	if _, err := st.idx.Write(st.ibuf); err != nil {
		st.f.Truncate(act.size)
		st.idx.Truncate(act.idxSize)
		return err
	}
	return nil
}

// newSegment starts a segment at the stream's next sequence number.
func (s *Store) newSegment(st *stream, now time.Time) error {
	seg := &segment{path: filepath.Join(st.dir, segName(st.nextSeq)), first: st.nextSeq, lastHash: st.lastHash}
	hdr := marshalHeader(&segHeader{stream: st.id, first: st.nextSeq, created: now.UnixNano(), prevHash: st.lastHash})
	// A leftover empty file of the same name (an empty segment removed at
	// open) is replaced.
	f, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("store: new segment: %w", err)
	}
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		os.Remove(seg.path)
		return fmt.Errorf("store: new segment: %w", err)
	}
	idx, err := os.OpenFile(seg.idxPath(), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err == nil {
		_, err = idx.Write(marshalIdxHeader(seg.first))
	}
	if err != nil {
		f.Close()
		if idx != nil {
			idx.Close()
		}
		os.Remove(seg.path)
		os.Remove(seg.idxPath())
		return fmt.Errorf("store: new segment index: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		idx.Close()
		return fmt.Errorf("store: new segment: %w", err)
	}
	syncDir(st.dir)
	seg.size = segHdrSize
	seg.idxSize = idxHdrSize
	st.mu.Lock()
	// Drop the placeholder of an empty segment removed at open.
	if n := len(st.segs); n > 0 && st.segs[n-1].count == 0 && st.segs[n-1].first == seg.first {
		st.segs = st.segs[:n-1]
	}
	st.segs = append(st.segs, seg)
	st.mu.Unlock()
	if len(st.segs) == 1 {
		st.first.Store(seg.first)
	}
	st.f, st.idx, st.created = f, idx, now
	st.bloom, st.nkeys = newBloom(s.docBytes(s.opt.SegmentBytes)), 0
	os.Remove(seg.bloomPath()) // a stale filter of an earlier segment of this name
	s.total += seg.size + seg.idxSize
	return nil
}

// roll seals the active segment: its index gets a footer, both files are
// synced and closed. The next record starts a new segment.
func (s *Store) roll(st *stream) error {
	act := st.active()
	if act == nil {
		return nil
	}
	st.mu.RLock()
	footer := marshalIdxFooter(act)
	st.mu.RUnlock()
	var errs []error
	n, err := st.idx.Write(footer)
	if err != nil {
		// A torn footer is not recognised: the index is rebuilt at open.
		errs = append(errs, err)
	}
	errs = append(errs, st.f.Sync(), st.idx.Sync(), st.f.Close(), st.idx.Close())
	st.mu.Lock()
	act.idxSize += int64(n)
	act.sealed = true
	st.mu.Unlock()
	s.total += int64(n)
	st.f, st.idx = nil, nil
	if act.count > 0 && st.bloom != nil {
		// Without it (a full disk) queries read the index instead.
		if n, err := writeBloom(act, st.bloom.shrink(st.nkeys)); err == nil {
			st.mu.Lock()
			act.idxSize += n
			st.mu.Unlock()
			s.total += n
		}
	}
	st.bloom = nil
	if act.count > 0 {
		if d := s.compressIdx(act); d != 0 {
			st.mu.Lock()
			act.idxSize += d
			st.mu.Unlock()
			s.total += d
		}
	}
	if act.count == 0 {
		// Never keep an empty segment: the next one starts at the same
		// number with the same chain hash.
		st.mu.Lock()
		st.segs = st.segs[:len(st.segs)-1]
		st.mu.Unlock()
		os.Remove(act.path)
		os.Remove(act.idxPath())
		os.Remove(act.bloomPath())
		s.total -= act.size + act.idxSize
	}
	return errors.Join(errs...)
}

// Flush implements exporters.Exporter: with Fsync set, what was written is
// made durable.
func (s *Store) Flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.dirty || !s.opt.Fsync || s.closed {
		return nil
	}
	s.dirty = false
	var errs []error
	for _, st := range s.streams {
		if st.f != nil {
			if err := st.f.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("store %s: fsync: %w", st.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close implements exporters.Exporter: it seals the active segments and
// releases the store.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || s.ro {
		s.closed = true
		return nil
	}
	s.closed = true
	s.isClose.Store(true)
	var errs []error
	for _, name := range Streams {
		if err := s.roll(s.streams[name]); err != nil {
			errs = append(errs, err)
		}
		s.streams[name].signal()
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	return errors.Join(errs...)
}
