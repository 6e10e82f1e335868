package store

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBloom(t *testing.T) {
	b := newBloom(64 << 20)
	if len(b) != 64<<10 {
		t.Fatalf("size %d", len(b))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 50_000) // about what a 64 MiB segment holds
	for i := range keys {
		keys[i] = rng.Uint64()
		b.add(keys[i])
	}
	for _, k := range keys {
		if !b.may(k) {
			t.Fatal("a key added is reported absent")
		}
	}
	fp := 0
	for i := 0; i < 100_000; i++ {
		if b.may(rng.Uint64()) {
			fp++
		}
	}
	if fp > 3000 {
		t.Fatalf("false positive rate %.1f%%", float64(fp)/1000)
	}
	t.Logf("false positives %.2f%% at %d keys in %d bytes", float64(fp)/1000, len(keys), len(b))
}

// A query with keys reads the same records as one without, and skips the
// segments that cannot hold the keys.
func TestScanSkipsSegmentsByKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openT(t, Options{Dir: dir, SegmentBytes: 64 << 10})
	for i := 0; i < 40; i++ {
		s.Write(docs(i*100, 100, "event"))
	}
	// A key only in the records of one batch, late in the stream.
	s.Write([][]byte{[]byte(`{"@timestamp":"2026-11-22T02:00:00Z","process":{"entity_id":"rare"}}`)})
	s.Write(docs(4000, 500, "event"))
	s.Close()
	blooms, _ := filepath.Glob(filepath.Join(dir, StreamEvents, "*.bloom"))
	segs, _ := filepath.Glob(filepath.Join(dir, StreamEvents, "*.seg"))
	if len(blooms) != len(segs) || len(segs) < 20 {
		t.Fatalf("%d filters for %d segments", len(blooms), len(segs))
	}
	ro, err := OpenReadOnly(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	count := func(key uint64, withKeys bool) int {
		n := 0
		q := Query{Stream: StreamEvents, Match: func(e *IndexEntry) bool { return e.Has(key) }}
		if withKeys {
			q.Keys = func() []uint64 { return []uint64{key} }
		}
		if err := ro.Scan(q, func(Record) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, k := range []uint64{KeyHash(KeyEntity, "e3"), KeyHash(KeyFile, "/srv/mynumber/f5.csv"), KeyHash(KeyUser, "u1"),
		KeyHash(KeyDir, "/srv/mynumber"), KeyHash(KeyEntity, "rare")} {
		if a, b := count(k, false), count(k, true); a != b || a == 0 {
			t.Fatalf("key %x: %d records without the filter, %d with", k, a, b)
		}
	}
	before := ro.SegmentsSkipped()
	if count(KeyHash(KeyEntity, "rare"), true) != 1 || ro.SegmentsSkipped()-before < uint64(len(segs))-3 {
		t.Fatalf("a rare key skipped %d of %d segments", ro.SegmentsSkipped()-before, len(segs))
	}
	// A filter altered to hide records is named by verify.
	b := readBloom(&segment{path: segs[1], first: mustFirst(t, segs[1])})
	for i := range b {
		b[i] = 0
	}
	writeBloom(&segment{path: segs[1], first: mustFirst(t, segs[1])}, b)
	rep, _ := Verify(dir)
	if len(rep.Problems) != 1 || rep.Problems[0].File != blooms[1] || !strings.Contains(rep.Problems[0].Message, "leaves out") {
		t.Fatalf("verify of an emptied filter: %v", rep.Problems)
	}
	os.Remove(blooms[1]) // what verify says to do
	// A damaged filter is ignored, not trusted.
	os.WriteFile(blooms[0], []byte("BNSHOBLMgarbage"), 0o600)
	if count(KeyHash(KeyEntity, "e3"), true) != count(KeyHash(KeyEntity, "e3"), false) {
		t.Fatal("a damaged filter left records out")
	}
}

func mustFirst(t *testing.T, p string) uint64 {
	n, ok := parseSegName(filepath.Base(p))
	if !ok {
		t.Fatalf("%s", p)
	}
	return n
}
