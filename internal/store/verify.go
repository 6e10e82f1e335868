package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Problem is one thing wrong in a store: the file, and where known the
// record's sequence number and offset.
type Problem struct {
	Stream  string
	File    string // path of the segment (or other file)
	Seq     uint64 // 0: not about one record
	Offset  int64  // -1: not about one place
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Offset >= 0 {
		fmt.Fprintf(&b, ": offset %d", p.Offset)
	}
	if p.Seq > 0 {
		fmt.Fprintf(&b, ": record %d", p.Seq)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// SegmentReport is what verification found in one segment.
type SegmentReport struct {
	Stream      string
	Path        string
	First, Last uint64 // sequence numbers of the records read (Last < First: none)
	Records     uint64
	Bytes       int64
	MinTime     int64
	MaxTime     int64
	LastHash    [hashSize]byte
	hashUnknown bool // the last record was unreadable: its chain hash is not known
	damaged     bool
	lastGood    uint64 // sequence number of the last readable record
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Dir      string
	Segments []SegmentReport
	Records  uint64
	Bytes    int64
	// Heads are the last sequence number and chain hash of each stream: the
	// newest hash vouches for every record before it.
	Heads    map[string]ChainHead
	Problems []Problem
	// Truncated is set when more problems were found than are listed.
	Truncated bool
}

// ChainHead is the newest record of a stream and its chain hash.
type ChainHead struct {
	Seq  uint64
	Hash [hashSize]byte
}

// OK reports whether nothing was wrong.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 }

const maxProblems = 1000

func (r *VerifyReport) add(p Problem) {
	if len(r.Problems) >= maxProblems {
		r.Truncated = true
		return
	}
	r.Problems = append(r.Problems, p)
}

// Verify reads every segment of the store in dir and checks each record's
// checksum, sequence number and chain hash, that each segment continues
// the one before it (numbers and chain), and that the indexes match. It
// changes nothing and can run while a sensor writes the store: the newest
// segment's last record may then still be in progress and is not reported
// when it is the only problem there (the tail of a live segment).
func Verify(dir string) (*VerifyReport, error) {
	if err := checkStoreDir(dir); err != nil {
		return nil, err
	}
	rep := &VerifyReport{Dir: dir, Heads: map[string]ChainHead{}}
	live := locked(dir)
	any := false
	for _, name := range Streams {
		sdir := filepath.Join(dir, name)
		if _, err := os.Stat(sdir); errors.Is(err, os.ErrNotExist) {
			continue
		}
		any = true
		if err := verifyStream(rep, name, sdir, live); err != nil {
			return nil, err
		}
	}
	if !any {
		return nil, notStore{fmt.Errorf("store: %s holds no store (no %s directory)", dir, strings.Join(Streams, ", "))}
	}
	verifyCursors(rep, dir)
	return rep, nil
}

// verifyCursors reports exporter cursor files that cannot be read. They
// stop nothing (the sensor sets them aside and the exporter resumes from
// the previous copy or the oldest record), but a responder must know an
// exporter may have delivered records twice.
func verifyCursors(rep *VerifyReport, dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "cursors", "*.json"))
	for _, p := range paths {
		if _, err := readCursorFile(p); err != nil {
			from := "the oldest record"
			if _, perr := readCursorFile(p + ".prev"); perr == nil {
				from = "its previous copy"
			}
			rep.add(Problem{File: p, Offset: -1, Message: fmt.Sprintf(
				"exporter cursor unreadable (%v); the sensor sets it aside at its next start and the exporter resumes from %s", err, from)})
		}
	}
}

func verifyStream(rep *VerifyReport, name, sdir string, live bool) error {
	paths, err := listSegments(sdir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	ents, _ := os.ReadDir(sdir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".damaged") {
			rep.add(Problem{Stream: name, File: filepath.Join(sdir, e.Name()), Offset: -1,
				Message: "damaged data moved aside at an earlier start (kept for inspection)"})
		}
	}
	// An index whose segment is gone: the segment was removed (before the
	// first segment, it is what retention leaves if it stops between the
	// two removals).
	have := map[string]bool{}
	for _, p := range paths {
		have[filepath.Base(p)] = true
	}
	for _, e := range ents {
		base, ok := strings.CutSuffix(e.Name(), ".idx")
		if !ok || have[base+".seg"] {
			continue
		}
		if first, ok := parseSegName(base + ".seg"); ok && len(paths) > 0 {
			if f0, _ := parseSegName(filepath.Base(paths[0])); first > f0 {
				msg := "segment file missing (its index is still there): its records are gone"
				if count, _, _, ok := idxFooter(filepath.Join(sdir, e.Name()), first); ok && count > 0 {
					msg = fmt.Sprintf("segment file missing (its index is still there): records %d to %d are gone", first, first+count-1)
				}
				rep.add(Problem{Stream: name, File: filepath.Join(sdir, base+".seg"), Offset: -1, Message: msg})
			}
		}
	}
	var prev *SegmentReport
	for i, p := range paths {
		sr, err := verifySegment(rep, name, p, prev, live && i == len(paths)-1)
		if err != nil {
			return err
		}
		if sr == nil {
			continue
		}
		rep.Segments = append(rep.Segments, *sr)
		rep.Records += sr.Records
		rep.Bytes += sr.Bytes
		if sr.Records > 0 {
			rep.Heads[name] = ChainHead{Seq: sr.lastGood, Hash: sr.LastHash}
		}
		prev = &rep.Segments[len(rep.Segments)-1]
	}
	return nil
}

func verifySegment(rep *VerifyReport, stream, path string, prev *SegmentReport, liveTail bool) (*SegmentReport, error) {
	bad := func(seq uint64, off int64, format string, args ...any) {
		rep.add(Problem{Stream: stream, File: path, Seq: seq, Offset: off, Message: fmt.Sprintf(format, args...)})
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	sc, err := openScanner(path)
	if err != nil {
		bad(0, 0, "%v", err)
		return nil, nil
	}
	defer sc.close()
	sr := &SegmentReport{Stream: stream, Path: path, First: sc.hdr.first, Bytes: fi.Size(), LastHash: sc.hdr.prevHash}
	if sc.hdr.stream != streamIDs[stream] {
		bad(0, 10, "segment of stream id %d in the directory of stream %q (id %d)", sc.hdr.stream, stream, streamIDs[stream])
	}
	nameFirst, _ := parseSegName(filepath.Base(path))
	if sc.hdr.first != nameFirst {
		bad(0, 16, "header says the first record is %d, the file name says %d (renamed or replaced)", sc.hdr.first, nameFirst)
	}
	if prev != nil {
		if want := prev.Last + 1; sc.hdr.first != want && prev.Last >= prev.First {
			if sc.hdr.first > want {
				bad(0, 16, "records %d to %d are missing between %s and this segment", want, sc.hdr.first-1, filepath.Base(prev.Path))
			} else {
				bad(0, 16, "first record %d overlaps the segment before (%s ends at %d)", sc.hdr.first, filepath.Base(prev.Path), want-1)
			}
		} else if sc.hdr.prevHash != prev.LastHash && prev.Records > 0 && !prev.hashUnknown {
			bad(0, 32, "the chain does not continue from %s: its last hash is not this segment's previous hash (a segment was replaced, or records removed from the end of the one before)", filepath.Base(prev.Path))
		}
	}
	expect := sc.hdr.first
	chain := sc.hdr.prevHash
	var x extractor
	var idx []byte
	var problemsHere int
	var lastProblemOff int64 = -1
	unknown := false // the record before was unreadable: no chain to check against
	for {
		rec, off, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			problemsHere++
			lastProblemOff = off
			if errors.Is(err, errCRC) {
				if last := rec.seq; last > expect && last < expect+maxFrameRaw {
					// A compressed frame: its header (unchecked) names
					// the last of the records it held.
					bad(expect, off, "checksum mismatch: the compressed records %d to %d were damaged or altered", expect, last)
					expect = last + 1
				} else {
					bad(expect, off, "checksum mismatch: the record was damaged or altered")
					expect++
				}
				unknown = true
				continue
			}
			bad(expect, off, "%v: the rest of the segment (%d bytes) cannot be read", err, fi.Size()-off)
			break
		}
		if rec.seq != expect {
			problemsHere++
			lastProblemOff = off
			bad(rec.seq, off, "sequence number %d where %d was expected", rec.seq, expect)
		}
		if h := chainHash(&chain, rec.seq, rec.time, rec.kind, rec.doc); h != rec.hash && !unknown {
			problemsHere++
			lastProblemOff = off
			bad(rec.seq, off, "chain hash mismatch: the record was altered, or one before it removed or reordered")
		}
		chain = rec.hash
		unknown = false
		info := x.extract(rec.doc)
		idx = appendIdxEntry(idx, off, rec.time, rec.kind, info.keys)
		sr.Records++
		sr.lastGood = rec.seq
		sr.LastHash = rec.hash
		if rec.time != 0 {
			if sr.MinTime == 0 || rec.time < sr.MinTime {
				sr.MinTime = rec.time
			}
			sr.MaxTime = max(sr.MaxTime, rec.time)
		}
		expect = rec.seq + 1
	}
	// A live writer's newest segment may end in a record being written.
	if liveTail && problemsHere == 1 && lastProblemOff >= 0 && rep.Problems[len(rep.Problems)-1].Offset == lastProblemOff {
		rep.Problems = rep.Problems[:len(rep.Problems)-1]
	}
	sr.First, sr.Last = sc.hdr.first, expect-1
	sr.hashUnknown = unknown
	sr.damaged = problemsHere > 0
	// A damaged segment's index has entries for records that no longer
	// read: only an intact segment's index is compared.
	if !sr.damaged {
		verifyIndex(rep, stream, path, sr, idx, liveTail)
		verifyBloom(rep, stream, path, sr, idx)
	}
	return sr, nil
}

// verifyIndex checks that a segment's index holds the entries its records
// give. A missing or stale index is rebuilt by the next start, so it is
// reported but is no damage to the records.
func verifyIndex(rep *VerifyReport, stream, path string, sr *SegmentReport, want []byte, live bool) {
	ip := strings.TrimSuffix(path, ".seg") + ".idx"
	seg := &segment{path: path, first: sr.First}
	var got []byte
	n, err := readIdx(ip, seg.first, func(off int64, t int64, kind Kind, keys []uint64) error {
		got = appendIdxEntry(got, off, t, kind, keys)
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		rep.add(Problem{Stream: stream, File: ip, Offset: -1, Message: "index missing (it is rebuilt at the next start)"})
		return
	}
	if err != nil {
		rep.add(Problem{Stream: stream, File: ip, Offset: -1, Message: fmt.Sprintf("index unreadable (rebuilt at the next start): %v", err)})
		return
	}
	if live && len(got) >= len(want) {
		got = got[:len(want)]
	}
	if string(got) != string(want) {
		rep.add(Problem{Stream: stream, File: ip, Offset: -1, Message: fmt.Sprintf("index does not match the segment (%d entries, %d records); it is rebuilt at the next start", n, sr.Records)})
	}
}

func parseSegName(n string) (uint64, bool) {
	var v uint64
	s := strings.TrimSuffix(n, ".seg")
	if s == n || s == "" {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// verifyBloom checks that a segment's key filter holds every key of its
// records: a filter that leaves one out would hide records from
// timelines.
func verifyBloom(rep *VerifyReport, stream, path string, sr *SegmentReport, entries []byte) {
	seg := &segment{path: path, first: sr.First}
	if _, err := os.Stat(seg.bloomPath()); err != nil {
		return // none: queries read the index
	}
	b := readBloom(seg)
	if b == nil {
		rep.add(Problem{Stream: stream, File: seg.bloomPath(), Offset: -1, Message: "key filter unreadable (ignored by queries; delete it)"})
		return
	}
	missing := 0
	walkIdxBytes(entries, func(_ int64, _ int64, _ Kind, keys []uint64) error {
		for _, k := range keys {
			if !b.may(k) {
				missing++
			}
		}
		return nil
	})
	if missing > 0 {
		rep.add(Problem{Stream: stream, File: seg.bloomPath(), Offset: -1,
			Message: fmt.Sprintf("key filter leaves out %d keys of the segment's records, so timelines would miss them: delete it (queries then read the index)", missing)})
	}
}
