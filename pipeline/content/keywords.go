package content

import (
	"sync"
	"unicode/utf16"
)

// Keywords near a number raise confidence. Each is matched in UTF-8,
// CP932 and both UTF-16 byte orders; the ASCII ones ignoring case.
// 個人番号カード needs no entry of its own: 個人番号 matches inside it.
var keywordList = []struct {
	text  string
	kind  Kind
	cp932 []byte // the CP932 bytes of text; nil for ASCII text
}{
	{"マイナンバー", MyNumber, []byte{0x83, 0x7d, 0x83, 0x43, 0x83, 0x69, 0x83, 0x93, 0x83, 0x6f, 0x81, 0x5b}},
	{"ﾏｲﾅﾝﾊﾞｰ", MyNumber, []byte{0xcf, 0xb2, 0xc5, 0xdd, 0xca, 0xde, 0xb0}},
	{"個人番号", MyNumber, []byte{0x8c, 0xc2, 0x90, 0x6c, 0x94, 0xd4, 0x8d, 0x86}},
	{"共通番号", MyNumber, []byte{0x8b, 0xa4, 0x92, 0xca, 0x94, 0xd4, 0x8d, 0x86}},
	{"通知カード", MyNumber, []byte{0x92, 0xca, 0x92, 0x6d, 0x83, 0x4a, 0x81, 0x5b, 0x83, 0x68}},
	{"特定個人情報", MyNumber, []byte{0x93, 0xc1, 0x92, 0xe8, 0x8c, 0xc2, 0x90, 0x6c, 0x8f, 0xee, 0x95, 0xf1}},
	{"扶養控除等申告書", MyNumber, []byte{0x95, 0x7d, 0x97, 0x7b, 0x8d, 0x54, 0x8f, 0x9c, 0x93, 0x99, 0x90, 0x5c, 0x8d, 0x90, 0x8f, 0x91}},
	{"源泉徴収票", MyNumber, []byte{0x8c, 0xb9, 0x90, 0xf2, 0x92, 0xa5, 0x8e, 0xfb, 0x95, 0x5b}},
	{"支払調書", MyNumber, []byte{0x8e, 0x78, 0x95, 0xa5, 0x92, 0xb2, 0x8f, 0x91}},
	{"my number", MyNumber, nil},
	{"mynumber", MyNumber, nil},
	{"法人番号", CorporateNumber, []byte{0x96, 0x40, 0x90, 0x6c, 0x94, 0xd4, 0x8d, 0x86}},
	{"指定通知書", CorporateNumber, []byte{0x8e, 0x77, 0x92, 0xe8, 0x92, 0xca, 0x92, 0x6d, 0x8f, 0x91}},
	{"corporate number", CorporateNumber, nil},
}

// kwPattern is one keyword in one encoding: a sequence of byte pairs, each
// position accepting either byte of its pair (the two cases of a letter, or
// one byte twice).
type kwPattern struct {
	seq   [][2]byte
	kind  Kind
	width int // typical bytes per character of text in this encoding
}

func keywordPatterns() []kwPattern {
	var out []kwPattern
	exact := func(b []byte, k Kind, width int) {
		p := kwPattern{kind: k, width: width}
		for _, c := range b {
			p.seq = append(p.seq, [2]byte{c, c})
		}
		out = append(out, p)
	}
	fold := func(c byte) [2]byte {
		if c >= 'a' && c <= 'z' {
			return [2]byte{c, c - 'a' + 'A'}
		}
		return [2]byte{c, c}
	}
	for _, kw := range keywordList {
		u16 := utf16.Encode([]rune(kw.text))
		if kw.cp932 == nil { // ASCII, case-insensitive
			var p8, le, be kwPattern
			p8 = kwPattern{kind: kw.kind, width: 1}
			le = kwPattern{kind: kw.kind, width: 2}
			be = kwPattern{kind: kw.kind, width: 2}
			for i := 0; i < len(kw.text); i++ {
				f := fold(kw.text[i])
				p8.seq = append(p8.seq, f)
				le.seq = append(le.seq, f, [2]byte{0, 0})
				be.seq = append(be.seq, [2]byte{0, 0}, f)
			}
			out = append(out, p8, le, be)
			continue
		}
		exact([]byte(kw.text), kw.kind, 3)
		exact(kw.cp932, kw.kind, 2)
		le := make([]byte, 0, 2*len(u16))
		be := make([]byte, 0, 2*len(u16))
		for _, u := range u16 {
			le = append(le, byte(u), byte(u>>8))
			be = append(be, byte(u>>8), byte(u))
		}
		exact(le, kw.kind, 2)
		exact(be, kw.kind, 2)
	}
	return out
}

// kwOut says which keywords end in a DFA state: per kind, the widest
// encoding width among them (0: none) and that keyword's length in bytes.
type kwOut struct {
	width [numKinds]uint8
	size  [numKinds]uint8
}

// kwDFA is a deterministic automaton finding every keyword occurrence in a
// byte stream: the subset construction over all patterns at once (what
// Aho-Corasick builds), with bytes folded into classes so a state's row is
// short. State 0 is the start.
type kwDFA struct {
	class  [256]uint8
	nclass int
	next   []uint16 // state*nclass + class
	out    []kwOut
	hasOut []bool
	// inner has a bit for every pair of bytes that occurs inside some
	// keyword, and minLen is the shortest keyword's length.
	inner  [1 << 13]uint8
	minLen int
}

func (d *kwDFA) isInner(x uint16) bool {
	return d.inner[x>>3]&(1<<(x&7)) != 0
}

// skip returns how far the automaton, in its start state before p[i], can
// jump ahead: past every byte no keyword occurrence can start at. A
// keyword starting in [i, j] with j = i+minLen-2 covers the pair at
// (j, j+1); if no keyword contains that pair, none starts in [i, j], and
// the search moves on by minLen-1 bytes. Where the pair could belong to a
// keyword, or near the end of p, it returns the position to read from.
func (d *kwDFA) skip(p []byte, i int) int {
	for j := i + d.minLen - 2; j+1 < len(p); j += d.minLen - 1 {
		if d.isInner(uint16(p[j]) | uint16(p[j+1])<<8) {
			return i
		}
		i = j + 1
	}
	return i
}

var (
	kwOnce sync.Once
	kwAuto *kwDFA
)

func keywordDFA() *kwDFA {
	kwOnce.Do(func() { kwAuto = buildKeywordDFA(keywordPatterns()) })
	return kwAuto
}

func buildKeywordDFA(pats []kwPattern) *kwDFA {
	d := &kwDFA{}
	d.minLen = len(pats[0].seq)
	for _, p := range pats {
		d.minLen = min(d.minLen, len(p.seq))
		for q := 0; q+1 < len(p.seq); q++ {
			for _, b0 := range dedupPair(p.seq[q]) {
				for _, b1 := range dedupPair(p.seq[q+1]) {
					x := uint16(b0) | uint16(b1)<<8
					d.inner[x>>3] |= 1 << (x & 7)
				}
			}
		}
	}
	// Byte classes: bytes accepted at the same set of pattern positions
	// behave the same; all other bytes share class 0.
	sig := map[string]uint8{"": 0}
	var sigs [256][]byte
	for pi, p := range pats {
		for qi, pair := range p.seq {
			for _, b := range dedupPair(pair) {
				sigs[b] = append(sigs[b], byte(pi), byte(pi>>8), byte(qi), byte(qi>>8))
			}
		}
	}
	for b := 0; b < 256; b++ {
		k := string(sigs[b])
		id, ok := sig[k]
		if !ok {
			id = uint8(len(sig))
			sig[k] = id
		}
		d.class[b] = id
	}
	d.nclass = len(sig)
	// A representative byte per class for computing transitions.
	rep := make([]int, d.nclass)
	for b := 255; b >= 0; b-- {
		rep[d.class[b]] = b
	}

	// Subset construction. A state is the set of (pattern, position)
	// reached; the start positions are always in it (the Σ* prefix), so
	// they are left implicit.
	type pos struct{ p, q uint16 }
	key := func(ps []pos) string {
		b := make([]byte, 0, 4*len(ps))
		for _, x := range ps {
			b = append(b, byte(x.p), byte(x.p>>8), byte(x.q), byte(x.q>>8))
		}
		return string(b)
	}
	ids := map[string]uint16{}
	var states [][]pos
	add := func(ps []pos) uint16 {
		k := key(ps)
		if id, ok := ids[k]; ok {
			return id
		}
		id := uint16(len(states))
		ids[k] = id
		states = append(states, ps)
		var o kwOut
		has := false
		for _, x := range ps {
			p := pats[x.p]
			if int(x.q) == len(p.seq) && uint8(p.width) >= o.width[p.kind] {
				o.width[p.kind] = uint8(p.width)
				o.size[p.kind] = uint8(len(p.seq))
				has = true
			}
		}
		d.out = append(d.out, o)
		d.hasOut = append(d.hasOut, has)
		return id
	}
	add(nil)
	for s := 0; s < len(states); s++ {
		for c := 0; c < d.nclass; c++ {
			b := byte(rep[c])
			var nps []pos
			step := func(x pos) {
				p := pats[x.p]
				if int(x.q) < len(p.seq) && (p.seq[x.q][0] == b || p.seq[x.q][1] == b) {
					nps = append(nps, pos{x.p, x.q + 1})
				}
			}
			for pi := range pats {
				step(pos{uint16(pi), 0})
			}
			for _, x := range states[s] {
				step(x)
			}
			// Keep the set canonical: sorted, no duplicates.
			sortPos(nps, func(a, b pos) bool { return a.p < b.p || (a.p == b.p && a.q < b.q) })
			d.next = append(d.next, add(nps))
		}
	}
	return d
}

func dedupPair(p [2]byte) []byte {
	if p[0] == p[1] {
		return p[:1]
	}
	return p[:]
}

// sortPos is an insertion sort; the sets are a handful of elements.
func sortPos[T any](s []T, less func(a, b T) bool) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && less(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
