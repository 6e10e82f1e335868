package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// segment is what the store knows about one segment file.
type segment struct {
	path     string // .seg file
	first    uint64 // sequence number of its first record
	count    uint64 // records
	size     int64  // bytes of the .seg file
	idxSize  int64  // bytes of the .idx file
	minTime  int64  // @timestamp range of its records (unix ns; 0 = none)
	maxTime  int64
	lastHash [hashSize]byte // chain hash of its last record (the header's prev hash if empty)
	sealed   bool           // no more records will be added
	entries  []byte         // index entries held in memory (read-only stores: the last segment)
}

func (s *segment) last() uint64 { return s.first + s.count - 1 }

func (s *segment) idxPath() string { return strings.TrimSuffix(s.path, ".seg") + ".idx" }

func (s *segment) name() string { return filepath.Base(s.path) }

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

// listSegments returns the .seg files of a stream directory, sorted by the
// sequence number in their names.
func listSegments(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type named struct {
		first uint64
		path  string
	}
	var out []named
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".seg") || e.IsDir() {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(n, ".seg"), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, named{first, filepath.Join(dir, n)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].first < out[j].first })
	paths := make([]string, len(out))
	for i, n := range out {
		paths[i] = n.path
	}
	return paths, nil
}

// segReader reads a segment file up to a limit that may grow (the
// committed size of the active segment).
type segReader struct {
	f     *os.File
	off   int64
	limit func() int64 // nil: the whole file
}

func (s *segReader) Read(p []byte) (int, error) {
	if s.limit != nil {
		lim := s.limit()
		if s.off >= lim {
			return 0, io.EOF
		}
		if rest := lim - s.off; int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	n, err := s.f.ReadAt(p, s.off)
	s.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// scanner reads the records of a segment in order.
type scanner struct {
	f   *os.File
	sr  *segReader
	r   *bufio.Reader
	hdr segHeader
	off int64 // offset of the next record
	buf []byte
}

func openScanner(path string) (*scanner, error) { return openScannerLimit(path, nil) }

// openScannerLimit opens a scanner that reads no further than limit().
func openScannerLimit(path string, limit func() int64) (*scanner, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sr := &segReader{f: f, limit: limit}
	s := &scanner{f: f, sr: sr, r: bufio.NewReaderSize(sr, 256<<10)}
	hb := make([]byte, segHdrSize)
	if _, err := io.ReadFull(s.r, hb); err != nil {
		f.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: file is %s", errBadHeader, "shorter than a header")
		}
		return nil, err
	}
	h, err := parseHeader(hb)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.hdr = h
	s.off = segHdrSize
	return s, nil
}

// seek positions the scanner at offset off (a record boundary).
func (s *scanner) seek(off int64) error {
	if off < segHdrSize {
		return fmt.Errorf("seek to offset %d, inside the header", off)
	}
	s.sr.off = off
	s.r.Reset(s.sr)
	s.off = off
	return nil
}

// skip steps over the record at the current offset without checking it.
func (s *scanner) skip() error {
	var hdr [recHdrSize]byte
	if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
		return err
	}
	size, _, err := parseRecordHeader(hdr[:])
	if err != nil {
		return err
	}
	if _, err := s.r.Discard(size - recHdrSize); err != nil {
		return err
	}
	s.off += int64(size)
	return nil
}

// next returns the record at the current offset and its offset. At the end
// of the file it returns io.EOF; a record cut short returns errShort; a
// record whose checksum fails returns errCRC with the record's length
// known, so the caller may go on to the next one; an impossible length
// returns errLength, after which the rest of the segment cannot be read.
func (s *scanner) next() (rawRecord, int64, error) {
	off := s.off
	var hdr [recHdrSize]byte
	n, err := io.ReadFull(s.r, hdr[:])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return rawRecord{}, off, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return rawRecord{}, off, errShort
		}
		return rawRecord{}, off, err
	}
	size, crc, err := parseRecordHeader(hdr[:])
	if err != nil {
		return rawRecord{}, off, err
	}
	if cap(s.buf) < size {
		s.buf = make([]byte, size)
	}
	s.buf = s.buf[:size]
	copy(s.buf, hdr[:])
	if _, err := io.ReadFull(s.r, s.buf[recHdrSize:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return rawRecord{}, off, errShort
		}
		return rawRecord{}, off, err
	}
	s.off += int64(size)
	rec, err := parseRecord(s.buf, size, crc)
	return rec, off, err
}

func (s *scanner) close() error { return s.f.Close() }

// Index file (NNNN.idx next to NNNN.seg): derived data, rebuilt from the
// segment whenever it is missing or does not match.
//
//	header: magic "BNSHOIDX" | version u16 | 0 [6]byte | first seq u64
//	entry:  segment offset u32 | time i64 | kind u8 | key count u8 | keys [n]u64
//	footer (sealed segments): 0xFFFFFFFF | count u64 | min time i64 |
//	        max time i64 | last chain hash [32] | segment size u64 | crc32c u32
const (
	idxMagic      = "BNSHOIDX"
	idxHdrSize    = 24
	idxEntryFixed = 4 + 8 + 1 + 1
	idxFooterSize = 4 + 8 + 8 + 8 + hashSize + 8 + 4
	idxFooterMark = 0xFFFFFFFF
)

func marshalIdxHeader(first uint64) []byte {
	b := make([]byte, idxHdrSize)
	copy(b, idxMagic)
	binary.LittleEndian.PutUint16(b[8:], segVersion)
	binary.LittleEndian.PutUint64(b[16:], first)
	return b
}

func appendIdxEntry(dst []byte, off int64, t int64, kind Kind, keys []uint64) []byte {
	var e [idxEntryFixed]byte
	binary.LittleEndian.PutUint32(e[0:], uint32(off))
	binary.LittleEndian.PutUint64(e[4:], uint64(t))
	e[12] = byte(kind)
	e[13] = byte(len(keys))
	dst = append(dst, e[:]...)
	for _, k := range keys {
		dst = binary.LittleEndian.AppendUint64(dst, k)
	}
	return dst
}

func marshalIdxFooter(s *segment) []byte {
	b := make([]byte, idxFooterSize)
	binary.LittleEndian.PutUint32(b[0:], idxFooterMark)
	binary.LittleEndian.PutUint64(b[4:], s.count)
	binary.LittleEndian.PutUint64(b[12:], uint64(s.minTime))
	binary.LittleEndian.PutUint64(b[20:], uint64(s.maxTime))
	copy(b[28:], s.lastHash[:])
	binary.LittleEndian.PutUint64(b[28+hashSize:], uint64(s.size))
	binary.LittleEndian.PutUint32(b[idxFooterSize-4:], crc32.Checksum(b[:idxFooterSize-4], crcTable))
	return b
}

// readIdxFooter fills s from the footer of its index, if the index is
// complete (sealed) and names the same segment size.
func readIdxFooter(s *segment) bool {
	f, err := os.Open(s.idxPath())
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() < idxHdrSize+idxFooterSize {
		return false
	}
	b := make([]byte, idxFooterSize)
	if _, err := f.ReadAt(b, st.Size()-idxFooterSize); err != nil {
		return false
	}
	if binary.LittleEndian.Uint32(b) != idxFooterMark ||
		crc32.Checksum(b[:idxFooterSize-4], crcTable) != binary.LittleEndian.Uint32(b[idxFooterSize-4:]) {
		return false
	}
	hb := make([]byte, idxHdrSize)
	if _, err := f.ReadAt(hb, 0); err != nil || string(hb[:8]) != idxMagic ||
		binary.LittleEndian.Uint64(hb[16:]) != s.first {
		return false
	}
	size := int64(binary.LittleEndian.Uint64(b[28+hashSize:]))
	if size != s.size {
		return false
	}
	s.count = binary.LittleEndian.Uint64(b[4:])
	s.minTime = int64(binary.LittleEndian.Uint64(b[12:]))
	s.maxTime = int64(binary.LittleEndian.Uint64(b[20:]))
	copy(s.lastHash[:], b[28:])
	s.idxSize = st.Size()
	return true
}

// IndexEntry is one record's index entry.
type IndexEntry struct {
	Stream string
	Seq    uint64
	Offset int64 // in the segment file
	Time   int64 // @timestamp, unix ns
	Kind   Kind
	Keys   []uint64 // valid only during the callback
	seg    string
}

// Has reports whether the entry holds key hash h.
func (e *IndexEntry) Has(h uint64) bool {
	for _, k := range e.Keys {
		if k == h {
			return true
		}
	}
	return false
}

// errStop ends an index walk early without error.
var errStop = errors.New("stop")

// entries calls fn for each index entry of seg, in order (entry n is
// record seg.first+n), from memory or the .idx file; fn returning errStop
// ends the walk. It reports how many entries it passed.
func (seg *segment) eachEntry(fn func(off int64, t int64, kind Kind, keys []uint64) error) (uint64, error) {
	var n uint64
	var err error
	if seg.entries != nil {
		n, err = walkIdxBytes(seg.entries, fn)
	} else {
		n, err = readIdx(seg.idxPath(), seg.first, fn)
	}
	if errors.Is(err, errStop) {
		err = nil
	}
	return n, err
}

// readIdx calls fn for each entry of an index file; it stops without error
// at a torn or missing tail (the segment scan covers what is missing) and
// reports how many entries it read. The file is read whole: indexes are a
// small fraction of their segments, and walking memory is what makes a
// timeline over a day fast.
func readIdx(path string, first uint64, fn func(off int64, t int64, kind Kind, keys []uint64) error) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if len(b) < idxHdrSize {
		return 0, fmt.Errorf("%s: short index header", path)
	}
	if string(b[:8]) != idxMagic || binary.LittleEndian.Uint64(b[16:]) != first {
		return 0, fmt.Errorf("%s: not the index of segment %d", path, first)
	}
	n, err := walkIdxBytes(b[idxHdrSize:], fn)
	if err != nil && !errors.Is(err, errStop) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return n, err
}

func walkIdxBytes(b []byte, fn func(off int64, t int64, kind Kind, keys []uint64) error) (uint64, error) {
	keys := make([]uint64, maxKeys)
	var n uint64
	for i := 0; ; n++ {
		if len(b)-i < 4 || binary.LittleEndian.Uint32(b[i:]) == idxFooterMark || len(b)-i < idxEntryFixed {
			return n, nil
		}
		e := b[i : i+idxEntryFixed]
		nk := int(e[13])
		if nk > maxKeys {
			return n, fmt.Errorf("entry %d has %d keys", n, nk)
		}
		kb := b[i+idxEntryFixed:]
		if len(kb) < 8*nk {
			return n, nil // torn
		}
		for k := 0; k < nk; k++ {
			keys[k] = binary.LittleEndian.Uint64(kb[8*k:])
		}
		if err := fn(int64(binary.LittleEndian.Uint32(e)), int64(binary.LittleEndian.Uint64(e[4:])), Kind(e[12]), keys[:nk]); err != nil {
			return n, err
		}
		i += idxEntryFixed + 8*nk
	}
}

// offsetOf finds the offset of record seq in seg from its index.
func (s *Store) offsetOf(st *stream, seg *segment, seq uint64) (int64, bool) {
	want := seq - seg.first
	var off int64 = -1
	var i uint64
	st.mu.RLock()
	// An active segment's index may be written ahead of the records
	// being visible, never behind: entries up to count are complete.
	count := seg.count
	st.mu.RUnlock()
	if want >= count {
		return 0, false
	}
	seg.eachEntry(func(o int64, _ int64, _ Kind, _ []uint64) error {
		if i == want {
			off = o
			return errStop
		}
		i++
		return nil
	})
	return off, off >= segHdrSize
}

// fromLiveIdx fills seg from the index of a segment a writer may still be
// appending to (no footer yet): the entries give the count and times, and
// the last record they point at must be complete and sound, else the
// caller scans the segment. A reader then stops after that record.
func fromLiveIdx(seg *segment) bool {
	var count uint64
	var minT, maxT, lastOff int64 = 0, 0, -1
	_, err := readIdx(seg.idxPath(), seg.first, func(off int64, t int64, _ Kind, _ []uint64) error {
		if off <= lastOff || off >= seg.size {
			return errStop
		}
		count++
		lastOff = off
		if t != 0 && (minT == 0 || t < minT) {
			minT = t
		}
		maxT = max(maxT, t)
		return nil
	})
	if (err != nil && !errors.Is(err, errStop)) || count == 0 {
		return false
	}
	f, err := os.Open(seg.path)
	if err != nil {
		return false
	}
	defer f.Close()
	rec, buf, err := readRecordAt(f, lastOff, nil)
	if err != nil || rec.seq != seg.first+count-1 {
		return false
	}
	seg.count, seg.minTime, seg.maxTime, seg.lastHash = count, minT, maxT, rec.hash
	seg.size = lastOff + int64(len(buf))
	return true
}
