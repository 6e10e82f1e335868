package content

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
)

// A slow reference for the matcher, written from the rules rather than
// from the fast code: decode the whole input into tokens by comparing
// literal byte strings at every offset, cut the tokens into runs of
// digits, chain runs joined by one separator, and judge every chain. It
// shares no code with the detector apart from the types it reports in.

type refMatch struct {
	kind    Kind
	valid   bool
	grouped bool
	full    bool
	enc     encoding
	start   int
	end     int
	digits  string
}

func (m refMatch) String() string {
	// Tests print matches only through this, which hides the digits.
	return fmt.Sprintf("{%v valid=%v grouped=%v full=%v enc=%v [%d,%d) digits=%s}",
		m.kind, m.valid, m.grouped, m.full, m.enc.names(), m.start, m.end, Mask(m.kind))
}

func cmpRef(a, b refMatch) int {
	return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.end, b.end), cmp.Compare(a.enc, b.enc))
}

type refTok struct {
	digit bool
	sep   bool
	val   byte
	form  string // digits: "half", "u8", "sj", "u16full"
	lit   string // separators: identity
	weak  bool
	enc   encoding
	start int
	end   int
}

type refLit struct {
	bytes string
	tok   refTok
}

// refByteLits are the tokens of the byte-oriented encodings.
var refByteLits = func() []refLit {
	var l []refLit
	for d := byte(0); d < 10; d++ {
		l = append(l,
			refLit{string('0' + d), refTok{digit: true, val: d, form: "half", enc: encASCII}},
			refLit{string(rune(0xFF10 + int(d))), refTok{digit: true, val: d, form: "u8", enc: encUTF8}},
			refLit{string([]byte{0x82, 0x4F + d}), refTok{digit: true, val: d, form: "sj", enc: encCP932}},
		)
	}
	seps := []struct {
		s    string
		weak bool
		enc  encoding
	}{
		{" ", true, encASCII}, {"-", false, encASCII}, {".", false, encASCII},
		{"\u2212", false, encUTF8}, {"\uFF0D", false, encUTF8}, {"\u30FC", false, encUTF8}, {"\u3000", true, encUTF8},
		{"\x81\x7C", false, encCP932}, {"\x81\x5B", false, encCP932}, {"\x81\x40", true, encCP932},
	}
	for _, s := range seps {
		l = append(l, refLit{s.s, refTok{sep: true, lit: s.s, weak: s.weak, enc: s.enc}})
	}
	return l
}()

// refAligned: a CP932 character can start at b[i] if an even number of
// lead-range bytes precede it, counting back at most 24.
func refAligned(b []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && n < 24; j-- {
		c := b[j]
		if !(c >= 0x81 && c <= 0x9F || c >= 0xE0 && c <= 0xFC) {
			break
		}
		n++
	}
	return n%2 == 0
}

func refByteTokens(b []byte) []refTok {
	var toks []refTok
	for i := 0; i < len(b); {
		t := refTok{start: i, end: i + 1}
		for _, l := range refByteLits {
			if bytes.HasPrefix(b[i:], []byte(l.bytes)) && (l.tok.form != "sj" || refAligned(b, i)) {
				t = l.tok
				t.start, t.end = i, i+len(l.bytes)
				break
			}
		}
		toks = append(toks, t)
		i = t.end
	}
	return toks
}

// ref16Tokens decodes b as UTF-16 units starting at offset first.
func ref16Tokens(b []byte, first int, be bool) []refTok {
	var toks []refTok
	for i := first; i+1 < len(b); i += 2 {
		u := rune(b[i]) | rune(b[i+1])<<8
		if be {
			u = rune(b[i])<<8 | rune(b[i+1])
		}
		t := refTok{start: i, end: i + 2}
		switch {
		case u >= '0' && u <= '9':
			t.digit, t.val, t.form = true, byte(u-'0'), "half"
		case u >= 0xFF10 && u <= 0xFF19:
			t.digit, t.val, t.form = true, byte(u-0xFF10), "u16full"
		case u == ' ' || u == 0x3000:
			t.sep, t.weak, t.lit = true, true, string(u)
		case u == '-' || u == '.' || u == 0xFF0D || u == 0x2212 || u == 0x30FC:
			t.sep, t.lit = true, string(u)
		}
		toks = append(toks, t)
	}
	return toks
}

// refChain is a chain of digit runs joined by single separators.
type refChain struct {
	runs [][]refTok
	seps []refTok
}

func refChains(toks []refTok) []refChain {
	// Runs of consecutive digit tokens, by token index.
	type span struct{ a, b int }
	var runs []span
	for i := 0; i < len(toks); i++ {
		if !toks[i].digit {
			continue
		}
		j := i
		for j < len(toks) && toks[j].digit {
			j++
		}
		runs = append(runs, span{i, j})
		i = j - 1
	}
	var out []refChain
	for i := 0; i < len(runs); {
		c := refChain{runs: [][]refTok{toks[runs[i].a:runs[i].b]}}
		j := i + 1
		for ; j < len(runs); j++ {
			prev, next := runs[j-1], runs[j]
			if next.a != prev.b+1 || !toks[prev.b].sep {
				break
			}
			s := toks[prev.b]
			if s.weak && (prev.b-prev.a > 4 || next.b-next.a > 4) {
				break
			}
			c.runs = append(c.runs, toks[next.a:next.b])
			c.seps = append(c.seps, s)
		}
		out = append(out, c)
		i = j
	}
	return out
}

// refJudge turns a chain into a match, if it has the shape of one.
func refJudge(c refChain) (refMatch, bool) {
	var m refMatch
	form := c.runs[0][0].form
	var digits []byte
	var lens []int
	enc := encoding(0)
	for _, r := range c.runs {
		lens = append(lens, len(r))
		for _, t := range r {
			if t.form != form {
				return m, false
			}
			digits = append(digits, '0'+t.val)
			enc |= t.enc
		}
	}
	for _, s := range c.seps {
		if s.lit != c.seps[0].lit {
			return m, false
		}
		enc |= s.enc
	}
	switch {
	case slices.Equal(lens, []int{12}):
		m.kind = MyNumber
	case slices.Equal(lens, []int{13}):
		m.kind = CorporateNumber
	case slices.Equal(lens, []int{4, 4, 4}):
		m.kind, m.grouped = MyNumber, true
	case slices.Equal(lens, []int{1, 4, 4, 4}):
		m.kind, m.grouped = CorporateNumber, true
	default:
		return m, false
	}
	// Byte-oriented: ASCII fits any; UTF-8 and CP932 exclude each other.
	if enc&encUTF8 != 0 && enc&encCP932 != 0 {
		return m, false
	}
	if enc != encASCII {
		enc &^= encASCII
	}
	m.enc = enc
	m.full = form != "half"
	m.digits = string(digits)
	m.start = c.runs[0][0].start
	last := c.runs[len(c.runs)-1]
	m.end = last[len(last)-1].end
	m.valid = refCheck(m.kind, m.digits)
	return m, true
}

// refCheck applies the check digit rules as the ordinances state them.
func refCheck(k Kind, d string) bool {
	v := func(i int) int { return int(d[i] - '0') }
	if k == MyNumber {
		sum := 0
		for n := 1; n <= 11; n++ {
			p := v(11 - n) // n-th digit from the right among the first 11
			q := n + 1
			if n >= 7 {
				q = n - 5
			}
			sum += p * q
		}
		want := 0
		if r := sum % 11; r > 1 {
			want = 11 - r
		}
		return v(11) == want
	}
	sum := 0
	for n := 1; n <= 12; n++ {
		p := v(13 - n) // n-th digit from the right among the last 12
		q := 1
		if n%2 == 0 {
			q = 2
		}
		sum += p * q
	}
	return v(0) == 9-sum%9
}

// refScan finds every number in b, valid or not.
func refScan(b []byte) []refMatch {
	var out []refMatch
	for _, c := range refChains(refByteTokens(b)) {
		if m, ok := refJudge(c); ok {
			out = append(out, m)
		}
	}
	// UTF-16: units at even offsets, in both byte orders.
	for _, be := range []bool{false, true} {
		for _, c := range refChains(ref16Tokens(b, 0, be)) {
			if m, ok := refJudge(c); ok {
				m.enc = encUTF16LE
				if be {
					m.enc = encUTF16BE
				}
				out = append(out, m)
			}
		}
	}
	slices.SortFunc(out, cmpRef)
	return out
}

// fastScan runs the detector over b as one whole stream and returns every
// match it decided, in the reference's terms.
func fastScan(d *Detector, b []byte) ([]refMatch, Result) {
	s := d.NewStream()
	var got []refMatch
	s.onMatch = func(m match, _ bool) { got = append(got, toRef(&m)) }
	s.scanAll(b)
	r := s.Result()
	slices.SortFunc(got, cmpRef)
	return got, r
}

func toRef(m *match) refMatch {
	return refMatch{
		kind: m.kind, valid: m.valid, grouped: m.grouped, full: m.full, enc: m.enc,
		start: int(m.start), end: int(m.end), digits: string(m.dig[:m.n]),
	}
}
