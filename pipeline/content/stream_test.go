package content

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every input split at every offset into two writes gives the one-shot
// result: numbers, keywords and layouts across the split are all found.
func TestStreamEverySplit(t *testing.T) {
	d := testDetector(t)
	r := rand.New(rand.NewPCG(12, 12))
	size := 3000
	if testing.Short() {
		size = 600
	}
	var inputs [][]byte
	for enc := range numTestEnc {
		for i, doc := range corpus(r, enc == tASCII) {
			if i%8 == 0 { // one of each layout
				in := encodeText(doc.text, enc)
				inputs = append(inputs, in[:min(len(in), size)])
			}
		}
	}
	for range iterations(t, 40) {
		inputs = append(inputs, randomInput(r))
	}
	s := d.NewStream()
	for n, in := range inputs {
		want := d.Scan(in)
		for k := 0; k <= len(in); k++ {
			s.Reset()
			s.Write(in[:k])
			s.Write(in[k:])
			if got := s.Result(); !reflect.DeepEqual(got, want) {
				t.Fatalf("input %d (%d bytes) split at %d: stream result differs\n got: %+v\nwant: %+v", n, len(in), k, got, want)
			}
		}
	}
}

// Result evaluates the undecided tail on a copy: asking for it between
// writes changes nothing, and its view of the tail is what the end of the
// data there would give.
func TestResultDoesNotDisturb(t *testing.T) {
	d := testDetector(t)
	r := rand.New(rand.NewPCG(13, 13))
	for range iterations(t, 300) {
		in := randomInput(r)
		want := d.Scan(in)
		s := d.NewStream()
		for i := range in {
			s.Write(in[i : i+1])
			if got := s.Result(); !reflect.DeepEqual(got, d.Scan(in[:i+1])) {
				t.Fatalf("Result after %d of %d bytes differs from a scan of them", i+1, len(in))
			}
		}
		if got := s.Result(); !reflect.DeepEqual(got, want) {
			t.Fatalf("stream result differs after interleaved Results")
		}
	}
}

// Memory stays bounded whatever the stream holds: the history is capped,
// the distinct sets hold at most MaxHashes, and counting goes on past them.
func TestStreamBounded(t *testing.T) {
	d, err := NewDetector(Config{HashKey: testKey, MaxHashes: 100})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(14, 14))
	s := d.NewStream()
	histCap := cap(s.hist)
	tableLen := len(s.sets[MyNumber].table)
	n := 20000
	if testing.Short() {
		n = 3000
	}
	seen := map[string]bool{}
	for i := range n {
		num := genMyNumber(r)
		seen[num] = true
		s.Write([]byte(num + "\n"))
		if i%500 == 0 {
			s.Write(make([]byte, 100000)) // long writes too
		}
	}
	res := s.Result()
	f := res.MyNumber
	if f.Occurrences != n || f.Candidates != n {
		t.Errorf("occurrences %d, candidates %d, want %d", f.Occurrences, f.Candidates, n)
	}
	if len(f.Hashes) != 100 || !f.HashesTruncated || !f.DistinctEstimated {
		t.Errorf("%d hashes, truncated %v, estimated %v; want 100, true, true", len(f.Hashes), f.HashesTruncated, f.DistinctEstimated)
	}
	if rel := float64(f.Distinct-len(seen)) / float64(len(seen)); rel < -0.1 || rel > 0.1 {
		t.Errorf("distinct estimate %d for %d distinct numbers", f.Distinct, len(seen))
	}
	// Memory grows with the stream (a stream that never holds a number
	// stays small) up to the bounds, and not past them.
	if cap(s.hist) > 2*s.d.histCap+64 || s.sets[MyNumber].len() != 100 || len(s.sets[MyNumber].table) > s.sets[MyNumber].max {
		t.Errorf("stream memory past its bounds: history cap %d→%d (bound %d), set %d, table %d→%d (bound %d)",
			histCap, cap(s.hist), 2*s.d.histCap, s.sets[MyNumber].len(), tableLen, len(s.sets[MyNumber].table), s.sets[MyNumber].max)
	}
	histCap, tableLen = cap(s.hist), len(s.sets[MyNumber].table)
	for range 1000 {
		s.Write([]byte(genMyNumber(r) + "\n"))
	}
	s.Write(make([]byte, 100000))
	if cap(s.hist) != histCap || len(s.sets[MyNumber].table) != tableLen {
		t.Errorf("stream memory grew at its bounds: history cap %d→%d, table %d→%d", histCap, cap(s.hist), tableLen, len(s.sets[MyNumber].table))
	}
	// The hashes kept are those of the smallest fingerprints, whatever the
	// order: the same numbers written backwards keep the same hashes.
	nums := make([]string, 0, len(seen))
	for num := range seen {
		nums = append(nums, num)
	}
	a, b := d.NewStream(), d.NewStream()
	for i := range nums {
		a.Write([]byte(nums[i] + ","))
		b.Write([]byte(nums[len(nums)-1-i] + ","))
	}
	if ra, rb := a.Result(), b.Result(); !reflect.DeepEqual(ra.MyNumber.Hashes, rb.MyNumber.Hashes) {
		t.Error("the hashes kept depend on the order numbers came in")
	}
}

func TestStreamReset(t *testing.T) {
	d := testDetector(t)
	s := d.NewStream()
	s.Write([]byte("マイナンバー 123456789018\n"))
	s.Write([]byte("4011001098993"))
	s.Reset()
	if got := s.Result(); !reflect.DeepEqual(got, d.Scan(nil)) {
		t.Errorf("a reset stream reports %+v", got)
	}
	s.Write([]byte("x 123456789018 x"))
	if got, want := s.Result(), d.Scan([]byte("x 123456789018 x")); !reflect.DeepEqual(got, want) {
		t.Errorf("after reset: %+v, want %+v", got, want)
	}
}

// A stream that holds no number keeps small tables: the sensor keeps
// thousands of streams, most of them of files and sockets without any.
func TestStreamWithoutNumbersStaysSmall(t *testing.T) {
	d := testDetector(t)
	s := d.NewStream()
	for range 100 {
		s.Write([]byte("2026-12-01 10:00:00 GET /index.html 200 5123\n"))
	}
	s.Result()
	for k := range s.sets {
		if n := len(s.sets[k].table); n > 16 {
			t.Errorf("set %d: table of %d slots for no numbers", k, n)
		}
	}
}

// The HMACs a stream keeps between Results stay right as its distinct
// set fills, evicts, grows past the sets whose HMACs are kept
// (cachedSums) and is reset: every Result's hashes are those a fresh scan
// of the same data reports.
func TestStreamHashesAcrossResults(t *testing.T) {
	for _, c := range []struct{ maxHashes, numbers int }{{8, 40}, {200, cachedSums + 40}} {
		d, err := NewDetector(Config{HashKey: testKey, MaxHashes: c.maxHashes})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(15, 15))
		s := d.NewStream()
		// Round 0 leaves the last numbers undecided at each Result; round 1
		// pads every number so each Result has only the set's.
		for round := range 2 {
			var data []byte
			var valid []string
			for i := range c.numbers {
				num := genMyNumber(r)
				valid = append(valid, hmacHex(testKey, num))
				w := []byte(num + ",x\n")
				if round == 1 {
					w = append(w, strings.Repeat("-", 100)+"\n"...)
				}
				data = append(data, w...)
				s.Write(w)
				got, want := s.Result().MyNumber, d.Scan(data).MyNumber
				if !slices.Equal(got.Hashes, want.Hashes) || got.Distinct != want.Distinct || got.HashesTruncated != want.HashesTruncated {
					t.Fatalf("max %d, round %d, number %d: stream and fresh scan report different hashes", c.maxHashes, round, i)
				}
				for _, h := range got.Hashes {
					if !slices.Contains(valid, h) {
						t.Fatalf("max %d, round %d, number %d: a hash of no number written", c.maxHashes, round, i)
					}
				}
			}
			s.Reset()
		}
	}
}
