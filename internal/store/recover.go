package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// openStream loads a stream's segments at open; the newest is read
// through (loadSegment) so a crash's torn tail is found.
func (s *Store) openStream(name string) (*stream, error) {
	st := &stream{name: name, dir: filepath.Join(s.opt.Dir, name), id: streamIDs[name], wake: make(chan struct{}), nextSeq: 1}
	if !s.ro {
		if err := makePrivateDir(st.dir, s.log); err != nil {
			return nil, fmt.Errorf("store %s: %w", s.opt.Dir, err)
		}
	}
	paths, err := listSegments(st.dir)
	if s.ro && errors.Is(err, os.ErrNotExist) {
		paths, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", st.dir, err)
	}
	var carry *segHeader // header of an empty last segment, removed
	for i, p := range paths {
		seg, hdr, err := s.loadSegment(st, p, i == len(paths)-1)
		if err != nil {
			return nil, err
		}
		carry = hdr
		if seg == nil {
			continue
		}
		st.segs = append(st.segs, seg)
		s.total += seg.size + seg.idxSize
	}
	if s.ro {
		s.findDamage(st, paths)
	}
	if n := len(st.segs); n > 0 {
		last := st.segs[n-1]
		st.nextSeq = last.first + last.count
		st.lastHash = last.lastHash
	}
	if carry != nil {
		st.nextSeq, st.lastHash = carry.first, carry.prevHash
	}
	st.first.Store(st.nextSeq)
	if len(st.segs) > 0 {
		st.first.Store(st.segs[0].first)
	}
	st.head.Store(st.nextSeq - 1)
	return st, nil
}

// loadSegment learns a segment's extent from its index footer, or by
// scanning it. The last segment of a stream is always scanned: it may end
// in a record a crash cut short, which is moved aside and cut off. An
// empty last segment is removed and its header returned instead: the
// next segment continues its sequence numbers and chain.
func (s *Store) loadSegment(st *stream, path string, last bool) (*segment, *segHeader, error) {
	first, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".seg"), 10, 64)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	seg := &segment{path: path, first: first, size: fi.Size(), sealed: true}
	if (!last || s.ro) && readIdxFooter(seg) {
		seg.idxSize += bloomSize(seg)
		return seg, nil, nil
	}
	if s.ro && fromLiveIdx(seg) {
		// Bytes after the last record the index names are a write in
		// progress, or, with no writer, a torn tail: read it through.
		if seg.size == fi.Size() || locked(s.opt.Dir) {
			return seg, nil, nil
		}
		seg = &segment{path: path, first: first, size: fi.Size(), sealed: true}
	}
	res, err := scanSegment(path, st.id, true)
	if err != nil && s.ro {
		s.log.Warn("store: segment unreadable; skipped", "segment", path, "error", err)
		st.damage = append(st.damage, Damage{Stream: st.name, File: path, First: first, Offset: -1,
			Message: fmt.Sprintf("the segment cannot be read (%v): its records were skipped", err)})
		return nil, nil, nil
	}
	if err != nil {
		// No readable header: nothing in it can be trusted or read.
		s.st.damagedSegments.Add(1)
		bad := path + ".damaged"
		s.log.Error("store: segment unreadable, moved aside; run bansho store verify", "segment", path, "error", err, "moved_to", bad)
		if rerr := os.Rename(path, bad); rerr != nil {
			return nil, nil, fmt.Errorf("store: segment %s unreadable (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		os.Remove(seg.idxPath())
		os.Remove(seg.bloomPath())
		return nil, nil, nil
	}
	if res.hdr.first != first && s.ro {
		s.log.Warn("store: segment header does not match its name; skipped", "segment", path, "first", res.hdr.first)
		st.damage = append(st.damage, Damage{Stream: st.name, File: path, First: first, Offset: -1,
			Message: fmt.Sprintf("the segment's header says it starts at record %d (renamed or replaced): its records were skipped", res.hdr.first)})
		return nil, nil, nil
	}
	if s.ro {
		// The records the scan could not read: readers never see them.
		for _, d := range res.bad {
			if last && res.tornAt >= 0 && d.Offset >= res.tornAt {
				continue // the torn tail, below
			}
			d.Stream, d.minTime, d.maxTime = st.name, res.minTime, res.maxTime
			st.damage = append(st.damage, d)
		}
		if last && res.tornAt >= 0 && !locked(s.opt.Dir) {
			d := Damage{Stream: st.name, File: path, First: first + res.count, Offset: res.tornAt,
				Message: fmt.Sprintf("the last %d bytes cannot be read: a write cut short by a crash or power loss (the sensor cuts them off at its next start)", fi.Size()-res.tornAt),
				minTime: res.maxTime}
			// A sealed index still counts the records the segment had.
			if count, _, _, ok := idxFooter(seg.idxPath(), first); ok && first+count > d.First {
				d.Last = first + count - 1
			}
			st.damage = append(st.damage, d)
		}
	}
	if res.hdr.first != first {
		return nil, nil, fmt.Errorf("store: segment %s says it starts at record %d: the file was renamed or replaced", path, res.hdr.first)
	}
	if res.problem != "" {
		if last && res.tornAt >= 0 {
			if !s.ro {
				if err := s.cutTail(path, res.tornAt); err != nil {
					return nil, nil, err
				}
			}
			seg.size = res.tornAt // readers stop there
		} else {
			if !s.ro {
				s.st.damagedSegments.Add(1)
			}
			s.log.Error("store: damaged segment; records that cannot be read are skipped; run bansho store verify", "segment", path, "problem", res.problem)
		}
	}
	seg.count, seg.minTime, seg.maxTime, seg.lastHash = res.count, res.minTime, res.maxTime, res.lastHash
	if seg.count == 0 && last {
		if !s.ro {
			os.Remove(path)
			os.Remove(seg.idxPath())
			os.Remove(seg.bloomPath())
		}
		return nil, &res.hdr, nil
	}
	if s.ro {
		seg.entries = res.entries
		return seg, nil, nil
	}
	if err := s.writeIdx(seg, res.entries); err != nil {
		// The index is derived data: on a full (or failing) disk keep it
		// in memory, where readers find it, and write it once there is
		// room (maintain). Start-up does not depend on free space.
		seg.entries = res.entries
		s.pendingIdx = append(s.pendingIdx, seg)
		s.log.Warn("store: cannot write a segment index (full disk?); kept in memory, written when there is room",
			"segment", path, "error", err)
		return seg, nil, nil
	}
	b := newBloom(s.docBytes(max(seg.size, s.opt.SegmentBytes)))
	nk := b.addEntries(res.entries)
	if n, err := writeBloom(seg, b.shrink(nk)); err == nil {
		seg.idxSize += n
	}
	return seg, nil, nil
}

// cutTail moves the bytes of a segment from off on into a .damaged file
// next to it (kept for inspection, never read again) and truncates the
// segment there.
func (s *Store) cutTail(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	n := fi.Size() - off
	tail := make([]byte, n)
	if _, err := f.ReadAt(tail, off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("store: reading the damaged tail of %s: %w", path, err)
	}
	allZero := true
	for _, c := range tail {
		if c != 0 {
			allZero = false
			break
		}
	}
	if !allZero {
		bad := fmt.Sprintf("%s.tail-%d.damaged", path, off)
		if err := os.WriteFile(bad, tail, 0o600); err != nil {
			// No room (or no writable disk) for the copy: the bytes are
			// an incomplete record nothing can read, and keeping them
			// must not stop the start. Cut them anyway, and say so.
			os.Remove(bad)
			s.log.Error("store: cannot keep the incomplete record cut from a segment's end; its bytes are dropped",
				"segment", path, "offset", off, "bytes", n, "error", err)
		}
	}
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("store: cutting the damaged tail of %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	s.st.recoveredBytes.Add(uint64(n))
	s.st.tornTails.Add(1)
	s.log.Warn("store: incomplete record at the end of a segment (crash or power loss); cut off", "segment", path, "offset", off, "bytes", n)
	s.notify(Notice{Action: "store-recovered", Message: fmt.Sprintf("cut %d bytes of an incomplete record from the end of %s", n, filepath.Base(path)),
		Details: map[string]string{"segment": path, "offset": strconv.FormatInt(off, 10), "bytes": strconv.FormatInt(n, 10)}})
	return nil
}

type scanResult struct {
	hdr              segHeader
	count            uint64
	minTime, maxTime int64
	lastHash         [hashSize]byte
	entries          []byte   // index entries
	problem          string   // the first problem found, if any
	bad              []Damage // records that cannot be read (File, First, Last, Offset, Message)
	// tornAt is the offset after the last good record when nothing good
	// follows it (a torn write at the end); -1 otherwise.
	tornAt int64
}

// scanSegment reads a whole segment, checking checksums, sequence numbers
// and, with chain set, the hash chain, and builds its index entries.
func scanSegment(path string, streamID uint8, chain bool) (*scanResult, error) {
	sc, err := openScanner(path)
	if err != nil {
		return nil, err
	}
	defer sc.close()
	if sc.hdr.stream != streamID {
		return nil, fmt.Errorf("%w: segment of stream %d, found in the directory of stream %d", errBadHeader, sc.hdr.stream, streamID)
	}
	res := &scanResult{hdr: sc.hdr, lastHash: sc.hdr.prevHash, tornAt: -1}
	var x extractor
	expect := sc.hdr.first
	prev := sc.hdr.prevHash
	goodEnd := int64(segHdrSize)
	badTail := false // bad records since the last good one
	for {
		rec, off, err := sc.next()
		if err == io.EOF {
			if badTail {
				res.tornAt = goodEnd
			}
			return res, nil
		}
		if err != nil {
			if res.problem == "" {
				res.problem = fmt.Sprintf("record %d at offset %d: %v", expect, off, err)
			}
			if errors.Is(err, errCRC) {
				// The length was sane: skip the record (or frame) and go on.
				badTail = true
				d := Damage{File: path, First: expect, Last: expect, Offset: off, Message: "checksum mismatch: damaged or altered"}
				if rec.seq > expect && rec.seq < expect+maxFrameRaw {
					d.Last, d.Message = rec.seq, "checksum mismatch: the compressed records were damaged or altered"
					expect = rec.seq + 1
				} else {
					expect++
				}
				res.bad = append(res.bad, d)
				continue
			}
			// Nothing after this can be read.
			res.bad = append(res.bad, Damage{File: path, First: expect, Offset: off,
				Message: fmt.Sprintf("%v: the rest of the segment cannot be read", err)})
			res.tornAt = goodEnd
			return res, nil
		}
		if rec.seq != expect {
			if res.problem == "" {
				res.problem = fmt.Sprintf("record at offset %d has sequence number %d, want %d", off, rec.seq, expect)
			}
			if rec.seq < expect {
				continue
			}
		}
		if chain && chainHash(&prev, rec.seq, rec.time, rec.kind, rec.doc) != rec.hash && res.problem == "" {
			res.problem = fmt.Sprintf("record %d at offset %d: %v", rec.seq, off, errAltered)
		}
		prev = rec.hash
		info := x.extract(rec.doc)
		res.entries = appendIdxEntry(res.entries, off, rec.time, rec.kind, info.keys)
		res.count = rec.seq - sc.hdr.first + 1
		res.lastHash = rec.hash
		if rec.time != 0 {
			if res.minTime == 0 || rec.time < res.minTime {
				res.minTime = rec.time
			}
			if rec.time > res.maxTime {
				res.maxTime = rec.time
			}
		}
		expect = rec.seq + 1
		goodEnd = sc.off
		badTail = false
	}
}

// writeIdx writes a complete, sealed index for seg.
func (s *Store) writeIdx(seg *segment, entries []byte) error {
	tmp := seg.idxPath() + ".tmp"
	b := marshalIdxHeader(seg.first)
	if s.enc != nil {
		copy(b, idxMagicZ)
		b = s.enc.EncodeAll(entries, b)
	} else {
		b = append(b, entries...)
	}
	b = append(b, marshalIdxFooter(seg)...)
	if err := writeFileSync(tmp, b); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, seg.idxPath()); err != nil {
		os.Remove(tmp)
		return err
	}
	seg.idxSize = int64(len(b))
	return nil
}

// writePending writes the indexes that open kept in memory for lack of
// room, and their Bloom filters. Called with wmu held. The entries stay in
// memory (readers may hold them); these are at most a segment per stream.
func (s *Store) writePending() {
	kept := s.pendingIdx[:0]
	for _, seg := range s.pendingIdx {
		if _, err := os.Stat(seg.path); err != nil {
			continue // removed by retention meanwhile
		}
		if err := s.writeIdx(seg, seg.entries); err != nil {
			kept = append(kept, seg)
			continue
		}
		s.total += seg.idxSize
		b := newBloom(s.docBytes(max(seg.size, s.opt.SegmentBytes)))
		nk := b.addEntries(seg.entries)
		if n, err := writeBloom(seg, b.shrink(nk)); err == nil {
			seg.idxSize += n
			s.total += n
		}
		s.log.Info("store: segment index written now that there is room", "segment", seg.path)
	}
	s.pendingIdx = kept
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
