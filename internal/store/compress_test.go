package store

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func storedBytes(t *testing.T, dir, stream string) int64 {
	segs, _ := filepath.Glob(filepath.Join(dir, stream, "*.seg"))
	var n int64
	for _, p := range segs {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// The records of each write are one compressed frame: much smaller on
// disk, read back exactly, from any record, by readers, scans and verify.
func TestCompressedFrames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openT(t, Options{Dir: dir, SegmentBytes: 64 << 10})
	var raw int64
	for i := 0; i < 30; i++ {
		b := docs(i*100, 100, "event")
		for _, d := range b {
			raw += int64(len(d))
		}
		if err := s.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	stored := storedBytes(t, dir, StreamEvents)
	if stored*4 > raw {
		t.Fatalf("%d bytes of documents stored in %d", raw, stored)
	}
	t.Logf("%d bytes of documents in %d bytes of segments (%.1fx)", raw, stored, float64(raw)/float64(stored))
	check := func(s *Store, from uint64) {
		recs := readAll(t, s, StreamEvents, from)
		if len(recs) != 3000-int(from)+1 {
			t.Fatalf("from %d: %d records", from, len(recs))
		}
		checkSeq(t, recs, from)
		for _, r := range recs {
			if !bytes.Equal(r.Doc, doc(int(r.Seq-1), "event")) {
				t.Fatalf("record %d differs", r.Seq)
			}
		}
	}
	for _, from := range []uint64{1, 150, 199, 200, 201, 2999} {
		check(s, from)
	}
	s.Close()
	ro, err := OpenReadOnly(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(ro, 1)
	check(ro, 1234)
	// Index scans pick single records out of frames.
	var got []uint64
	key := KeyHash(KeyEntity, "e7")
	ro.Scan(Query{Stream: StreamEvents, Match: func(e *IndexEntry) bool { return e.Has(key) }}, func(r Record) error {
		if !bytes.Contains(r.Doc, []byte(`"entity_id":"e7"`)) {
			t.Fatalf("record %d does not have the key", r.Seq)
		}
		got = append(got, r.Seq)
		return nil
	})
	if len(got) != 60 || got[0] != 8 || got[1] != 58 {
		t.Fatalf("scan: %d records %v", len(got), got[:min(3, len(got))])
	}
	rep, err := Verify(dir)
	if err != nil || !rep.OK() || rep.Records != 3000 {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

// A power cut in the middle of writing a frame loses that one write.
func TestCompressedTornTail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openT(t, Options{Dir: dir})
	for i := 0; i < 5; i++ {
		s.Write(docs(i*100, 100, "event"))
	}
	s.crash()
	seg := lastSegment(t, dir, StreamEvents)
	fi, _ := os.Stat(seg)
	os.Truncate(seg, fi.Size()-100)
	s = openT(t, Options{Dir: dir})
	defer s.Close()
	if h := s.Head(StreamEvents); h != 400 || s.Stats().TornTails != 1 {
		t.Fatalf("head %d, torn tails %d", h, s.Stats().TornTails)
	}
	s.Write(docs(400, 100, "event"))
	recs := readAll(t, s, StreamEvents, 0)
	checkSeq(t, recs, 1)
	if len(recs) != 500 || !bytes.Equal(recs[450].Doc, doc(450, "event")) {
		t.Fatalf("%d records after recovery", len(recs))
	}
}

// A flipped byte in a compressed frame: verify names the segment, the
// frame's offset and its first record; readers skip that write's records
// and read the rest.
func TestCompressedDamage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openT(t, Options{Dir: dir})
	for i := 0; i < 5; i++ {
		s.Write(docs(i*100, 100, "event"))
	}
	s.Close()
	seg := lastSegment(t, dir, StreamEvents)
	// The third frame starts where the second ends: find it by scanning.
	sc, err := openScanner(seg)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for {
		_, off, err := sc.nextPhysical()
		if err != nil {
			break
		}
		offs = append(offs, off)
	}
	sc.close()
	if len(offs) != 5 {
		t.Fatalf("%d frames, want 5", len(offs))
	}
	flip(t, seg, offs[2]+100)
	rep, _ := Verify(dir)
	if len(rep.Problems) == 0 {
		t.Fatal("verify found nothing")
	}
	p := rep.Problems[0]
	if p.File != seg || p.Offset != offs[2] || p.Seq != 201 || !strings.Contains(p.Message, "checksum") {
		t.Fatalf("problem %s", p)
	}
	ro, _ := OpenReadOnly(dir, nil)
	r, _ := ro.NewReader(StreamEvents, 0)
	var recs []Record
	var arena []byte
	for {
		n := len(recs)
		recs, arena, _ = r.Read(recs, arena, 1000, 1<<30)
		if len(recs) == n {
			break
		}
	}
	if len(recs) != 400 || r.Skipped != 100 || recs[200].Seq != 301 {
		t.Fatalf("read %d, skipped %d", len(recs), r.Skipped)
	}
}
