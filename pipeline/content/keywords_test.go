package content

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"
)

// The CP932 bytes written into keywordList must be what a CP932 encoder
// makes of the keyword.
func TestKeywordCP932Bytes(t *testing.T) {
	for _, kw := range keywordList {
		if kw.cp932 == nil {
			continue
		}
		want, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(kw.text))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(kw.cp932, want) {
			t.Errorf("%s: CP932 bytes % x, encoder says % x", kw.text, kw.cp932, want)
		}
	}
}

type kwHit struct {
	kind Kind
	end  int64
}

// naiveKeywords finds every keyword occurrence by trying every pattern at
// every offset.
func naiveKeywords(b []byte) []kwHit {
	var out []kwHit
	pats := keywordPatterns()
	for i := range b {
		for _, p := range pats {
			if i+len(p.seq) > len(b) {
				continue
			}
			ok := true
			for q, pair := range p.seq {
				if c := b[i+q]; c != pair[0] && c != pair[1] {
					ok = false
					break
				}
			}
			if ok {
				h := kwHit{p.kind, int64(i + len(p.seq))}
				if !slices.Contains(out, h) {
					out = append(out, h)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b kwHit) int { return int(a.end-b.end)*2 + int(a.kind) - int(b.kind) })
	return out
}

func randomCase(r *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' && r.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// The automaton, skipping included, finds exactly what the naive search
// finds, in every encoding, whatever the chunking.
func TestKeywordAutomaton(t *testing.T) {
	d := testDetector(t)
	r := rand.New(rand.NewPCG(6, 6))
	total := 0
	for it := range iterations(t, 3000) {
		var b []byte
		for range r.IntN(12) + 1 {
			enc := r.IntN(numTestEnc)
			switch r.IntN(4) {
			case 0:
				b = append(b, encodeText(randomCase(r, keywordList[r.IntN(len(keywordList))].text), enc)...)
			case 1:
				b = append(b, encodeText(prose(r, enc != tASCII, r.IntN(40)), enc)...)
			case 2: // a keyword cut short
				kw := encodeText(keywordList[r.IntN(len(keywordList))].text, enc)
				b = append(b, kw[:r.IntN(len(kw))]...)
			case 3:
				for range r.IntN(6) {
					b = append(b, byte(r.IntN(256)))
				}
			}
		}
		want := naiveKeywords(b)
		total += len(want)
		s := d.NewStream()
		var got []kwHit
		s.onKeyword = func(k Kind, end int64) { got = append(got, kwHit{k, end}) }
		s.win, s.winBase = b, 0
		for a := 0; a < len(b); { // feed in random pieces
			n := min(len(b)-a, r.IntN(40)+1)
			s.feed(int64(a), int64(a+n))
			a += n
		}
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: automaton found %v, naive search %v", it, got, want)
		}
	}
	if total < iterations(t, 3000) {
		t.Fatalf("only %d keyword occurrences generated", total)
	}
}

func TestKeywordProximity(t *testing.T) {
	d := testDetector(t)
	r := rand.New(rand.NewPCG(8, 8))
	num := genMyNumber(r)
	corp := genCorporate(r)
	pad := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name string
		text string
		enc  int
		my   bool // keyword evidence expected for individual numbers
		corp bool
	}{
		{"before", "マイナンバー:" + num, tUTF8, true, false},
		{"after", num + " (個人番号)", tUTF8, true, false},
		{"ascii near", "My Number " + pad(250) + num, tASCII, true, false},
		{"ascii too far", "my number" + pad(320) + num, tASCII, false, false},
		{"ascii after too far", num + pad(320) + "MY NUMBER", tASCII, false, false},
		{"japanese window is wider in UTF-8", "源泉徴収票" + pad(600) + num, tUTF8, true, false},
		{"japanese too far", "源泉徴収票" + pad(950) + num, tUTF8, false, false},
		{"cp932", "扶養控除等申告書\r\n" + num, tCP932, true, false},
		{"utf-16le", "通知カード\t" + num, tUTF16LE, true, false},
		{"utf-16be", num + " 特定個人情報", tUTF16BE, true, false},
		{"half-width katakana", "ﾏｲﾅﾝﾊﾞｰ," + num, tCP932, true, false},
		{"corporate keyword only counts for corporate", "法人番号 " + num + " " + corp, tUTF8, false, true},
		{"individual keyword only counts for individual", "corporate number: " + pad(400) + num + " " + corp, tASCII, false, false},
		{"corporate", "Corporate Number " + corp, tASCII, false, true},
		{"no keyword", "番号 " + num, tUTF8, false, false},
		{"between two numbers, far from both", num + pad(700) + "my number" + pad(700) + num, tASCII, false, false},
		{"between two numbers, near the second", num + pad(700) + "my number" + pad(200) + num, tASCII, true, false},
	}
	for _, c := range cases {
		in := encodeText(c.text, c.enc)
		for _, res := range []Result{d.Scan(in), streamBytewise(d, in)} {
			if got := slices.Contains(res.MyNumber.Reasons, "keyword"); got != c.my {
				t.Errorf("%s: my number keyword evidence %v, want %v (reasons %v)", c.name, got, c.my, res.MyNumber.Reasons)
			}
			if got := slices.Contains(res.CorporateNumber.Reasons, "keyword"); got != c.corp {
				t.Errorf("%s: corporate keyword evidence %v, want %v (reasons %v)", c.name, got, c.corp, res.CorporateNumber.Reasons)
			}
		}
	}
}

// streamBytewise writes b one byte at a time.
func streamBytewise(d *Detector, b []byte) Result {
	s := d.NewStream()
	for i := range b {
		s.Write(b[i : i+1])
	}
	return s.Result()
}
