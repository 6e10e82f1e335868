package content

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var testKey = []byte("bansho test key, not a secret")

func testDetector(t testing.TB) *Detector {
	t.Helper()
	d, err := NewDetector(Config{HashKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// randomInput mixes numbers (valid or not, plain or grouped, every digit
// form, separator and encoding), stray digits and separators, adjacent
// digits, text, keywords, delimiters and random bytes.
func randomInput(r *rand.Rand) []byte {
	var b []byte
	for range r.IntN(24) + 1 {
		enc := r.IntN(numTestEnc)
		text := func(s string) { b = append(b, encodeText(s, enc)...) }
		number := func() string {
			k := Kind(r.IntN(2))
			d := genMyNumber(r)
			if k == CorporateNumber {
				d = genCorporate(r)
			}
			if r.IntN(4) == 0 {
				d = corrupt(k, d)
			}
			return formatNumber(d, r.IntN(2) == 0, separators[r.IntN(len(separators))], r.IntN(3) == 0)
		}
		switch r.IntN(15) {
		case 0, 1, 2, 3:
			text(number())
		case 4: // a digit run of any length
			v := make([]byte, r.IntN(20)+1)
			for i := range v {
				v[i] = byte(r.IntN(10))
			}
			text(formatNumber(digitsString(v), false, 0, r.IntN(3) == 0))
		case 5:
			text(string(separators[r.IntN(len(separators))]))
		case 6: // random bytes, half of them from the match alphabet
			for range r.IntN(8) + 1 {
				if r.IntN(2) == 0 {
					b = append(b, byte(r.IntN(256)))
				} else {
					b = append(b, classBytes[r.IntN(len(classBytes))])
				}
			}
		case 7:
			text(prose(r, false, r.IntN(30)))
		case 8:
			text(prose(r, true, r.IntN(20)))
		case 9:
			text(keywordList[r.IntN(len(keywordList))].text)
		case 10:
			text([]string{",", "\t", ";", "\n", "\r\n", "\"", "'", "|"}[r.IntN(8)])
		case 11: // long runs of match bytes
			text(strings.Repeat([]string{" ", "0", "-", "\u3000", "1 "}[r.IntN(5)], r.IntN(40)+1))
		case 12: // digit groups with random lengths and separators
			for g := range r.IntN(5) + 1 {
				if g > 0 {
					text(string(separators[r.IntN(len(separators))]))
				}
				v := make([]byte, r.IntN(6)+1)
				for i := range v {
					v[i] = byte(r.IntN(10))
				}
				text(formatNumber(digitsString(v), false, 0, r.IntN(4) == 0))
			}
		case 13: // a number with a digit or a separated group next to it
			s := number()
			switch r.IntN(4) {
			case 0:
				s = "7" + s
			case 1:
				s += "\uFF17"
			case 2:
				s = "12-" + s
			case 3:
				s += " 42"
			}
			text(s)
		case 14: // a BOM; CP932 has none
			if enc == tCP932 {
				enc = tUTF8
			}
			text("\uFEFF")
		}
	}
	return b
}

var classBytes = func() (out []byte) {
	for c := 0; c < 256; c++ {
		if cls[c] != 0 {
			out = append(out, byte(c))
		}
	}
	return out
}()

func iterations(t *testing.T, n int) int {
	if testing.Short() {
		return n / 10
	}
	return n
}

// TestMatchesReference compares every match the detector decides, valid
// or not, with the reference, on random inputs.
func TestMatchesReference(t *testing.T) {
	d := testDetector(t)
	seed := uint64(20260501)
	r := rand.New(rand.NewPCG(seed, 1))
	found := 0
	for it := range iterations(t, 5000) {
		in := randomInput(r)
		want := refScan(in)
		got, _ := fastScan(d, in)
		found += len(want)
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d iteration %d (%d bytes): detector and reference differ\n got: %v\nwant: %v",
				seed, it, len(in), got, want)
		}
	}
	if found < iterations(t, 5000) {
		t.Fatalf("the generator produced too few numbers (%d) to test anything", found)
	}
}

// TestStreamSplitsRandom writes random inputs in random chunk sizes and
// checks that the stream decides exactly the matches of a one-shot scan,
// and reports the same Result.
func TestStreamSplitsRandom(t *testing.T) {
	big := testDetector(t)
	small, err := NewDetector(Config{HashKey: testKey, MaxHashes: 2}) // past the bound often
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(7)
	r := rand.New(rand.NewPCG(seed, 2))
	for it := range iterations(t, 2000) {
		d := big
		if it%2 == 1 {
			d = small
		}
		s := d.NewStream()
		in := randomInput(r)
		wantM, wantR := fastScan(d, in)
		for range 3 {
			s.Reset()
			var got []refMatch
			s.onMatch = func(m match, provisional bool) {
				if !provisional {
					got = append(got, toRef(&m))
				}
			}
			maxChunk := []int{1, 3, 17, 64, 200, 5000}[r.IntN(6)]
			for p := in; len(p) > 0; {
				n := min(len(p), r.IntN(maxChunk)+1)
				s.Write(p[:n])
				p = p[n:]
				if r.IntN(20) == 0 {
					s.Result() // must not disturb the stream
				}
			}
			s.onMatch = func(m match, provisional bool) {
				if provisional {
					got = append(got, toRef(&m))
				}
			}
			gotR := s.Result()
			slices.SortFunc(got, cmpRef)
			if !slices.Equal(got, wantM) {
				t.Fatalf("seed %d iteration %d, chunks up to %d: stream matches differ\n got: %v\nwant: %v",
					seed, it, maxChunk, got, wantM)
			}
			if !reflect.DeepEqual(gotR, wantR) {
				t.Fatalf("seed %d iteration %d, chunks up to %d: stream result differs\n got: %+v\nwant: %+v",
					seed, it, maxChunk, gotR, wantR)
			}
		}
	}
}
