package store

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func lastSegment(t *testing.T, dir, stream string) string {
	t.Helper()
	paths, err := listSegments(filepath.Join(dir, stream))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	return paths[len(paths)-1]
}

// Power-cut simulations on the newest segment: the store opens, cuts the
// torn record off, counts and reports it, and goes on writing a valid
// chain.
func TestTornTail(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string) // applied after 500 good records
		keep   uint64                          // records that survive
	}{
		{"truncated mid-record", func(t *testing.T, p string) {
			fi, _ := os.Stat(p)
			if err := os.Truncate(p, fi.Size()-37); err != nil {
				t.Fatal(err)
			}
		}, 499},
		{"truncated in a record header", func(t *testing.T, p string) {
			fi, _ := os.Stat(p)
			rec := int64(recOverhead + len(doc(499, "event")))
			if err := os.Truncate(p, fi.Size()-rec+3); err != nil {
				t.Fatal(err)
			}
		}, 499},
		{"garbage tail", func(t *testing.T, p string) {
			appendBytes(t, p, bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0x01}, 300))
		}, 500},
		{"zero-filled tail", func(t *testing.T, p string) {
			appendBytes(t, p, make([]byte, 4096))
		}, 500},
		{"last record's body flipped", func(t *testing.T, p string) {
			fi, _ := os.Stat(p)
			flip(t, p, fi.Size()-5)
		}, 499},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			s := openT(t, Options{Dir: dir, NoCompress: true})
			s.Write(docs(0, 500, "event"))
			s.crash()
			seg := lastSegment(t, dir, StreamEvents)
			c.damage(t, seg)

			s = openT(t, Options{Dir: dir, NoCompress: true})
			defer s.Close()
			st := s.Stats()
			if st.TornTails != 1 || st.RecoveredBytes == 0 {
				t.Fatalf("torn tails %d, recovered bytes %d", st.TornTails, st.RecoveredBytes)
			}
			select {
			case n := <-s.Notices():
				if n.Action != "store-recovered" || n.Details["segment"] != seg {
					t.Fatalf("notice %+v", n)
				}
			default:
				t.Fatal("no store-recovered notice")
			}
			if got := s.Head(StreamEvents); got != c.keep {
				t.Fatalf("head %d after recovery, want %d", got, c.keep)
			}
			s.Write(docs(int(c.keep), 100, "event"))
			recs := readAll(t, s, StreamEvents, 0)
			if uint64(len(recs)) != c.keep+100 {
				t.Fatalf("read %d records, want %d", len(recs), c.keep+100)
			}
			checkSeq(t, recs, 1)
			for i, r := range recs {
				if !bytes.Equal(r.Doc, doc(i, "event")) {
					t.Fatalf("record %d differs", r.Seq)
				}
			}
			// The cut bytes are kept aside (unless they were all zero), and
			// verify reports them but finds every segment sound.
			s.Close()
			rep, err := Verify(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range rep.Problems {
				if !strings.HasSuffix(p.File, ".damaged") {
					t.Errorf("verify after recovery: %s", p)
				}
			}
		})
	}
}

func appendBytes(t *testing.T, p string, b []byte) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, p string, off int64) {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x20
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// recordOffset returns the offset of record seq in a segment.
func recordOffset(t *testing.T, path string, seq uint64) int64 {
	sc, err := openScanner(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.close()
	for {
		rec, off, err := sc.next()
		if err != nil {
			t.Fatalf("record %d not found in %s: %v", seq, path, err)
		}
		if rec.seq == seq {
			return off
		}
	}
}

// A byte flipped in a sealed segment (damage or tampering): verify names
// the segment, the record and its offset; readers skip the record and
// report it; the rest is read.
func TestVerifyNamesDamagedRecord(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openT(t, Options{Dir: dir, SegmentBytes: 64 << 10, NoCompress: true})
	s.Write(docs(0, 2000, "event"))
	s.Close()
	paths, _ := listSegments(filepath.Join(dir, StreamEvents))
	if len(paths) < 4 {
		t.Fatalf("%d segments", len(paths))
	}
	victim := paths[1]
	first, _ := parseSegName(filepath.Base(victim))
	seq := first + 3
	off := recordOffset(t, victim, seq)
	flip(t, victim, off+recOverhead+20) // inside the document

	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("verify found nothing")
	}
	p := rep.Problems[0]
	if p.File != victim || p.Seq != seq || p.Offset != off || !strings.Contains(p.Message, "checksum") {
		t.Fatalf("problem %s; want %s record %d offset %d", p, victim, seq, off)
	}
	for _, want := range []string{filepath.Base(victim), "record " + strconv.FormatUint(seq, 10), "offset " + strconv.FormatInt(off, 10)} {
		if !strings.Contains(p.String(), want) {
			t.Fatalf("%q does not name %q", p.String(), want)
		}
	}

	// Rewriting the record with a valid checksum (tampering) is caught by
	// the chain.
	flip(t, victim, off+recOverhead+20)
	tamper(t, victim, off)
	rep, _ = Verify(dir)
	if rep.OK() || rep.Problems[0].Seq != seq || !strings.Contains(rep.Problems[0].Message, "chain hash") {
		t.Fatalf("tampering: %v", rep.Problems)
	}

	s = openT(t, Options{Dir: dir, SegmentBytes: 64 << 10, NoCompress: true})
	defer s.Close()
	recs := readAll(t, s, StreamEvents, 0)
	if len(recs) != 2000 {
		// A tampered record has a valid checksum: readers return it; only
		// the chain (verify) shows it was altered.
		t.Fatalf("read %d", len(recs))
	}
	// A segment removed from the middle breaks the sequence: verify names
	// the gap.
	s.Close()
	os.Remove(paths[2])
	rep, _ = Verify(dir)
	found := false
	for _, p := range rep.Problems {
		if p.File == paths[3] && strings.Contains(p.Message, "missing") {
			found = true
		}
	}
	if !found {
		t.Fatalf("removed segment not reported: %v", rep.Problems)
	}
}

// tamper rewrites the document of the record at off (same length) and
// fixes its checksum, as someone covering their tracks would.
func tamper(t *testing.T, path string, off int64) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	size, _, err := parseRecordHeader(b[off:])
	if err != nil {
		t.Fatal(err)
	}
	d := b[off+recOverhead : off+int64(size)]
	i := bytes.Index(d, []byte(`"u`))
	d[i+2] = 'z'
	rec := b[off : off+int64(size)]
	body := rec[recHdrSize:]
	var re []byte
	re = appendRecordRaw(re, body)
	copy(rec, re)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendRecordRaw(dst, body []byte) []byte {
	var h [recHdrSize]byte
	putU32(h[0:], uint32(len(body)))
	putU32(h[4:], crcOf(body))
	return append(append(dst, h[:]...), body...)
}

func putU32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }

func crcOf(b []byte) uint32 { return crc32.Checksum(b, crcTable) }
