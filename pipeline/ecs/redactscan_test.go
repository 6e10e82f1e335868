package ecs

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bansho-sec/bansho/pipeline/content"
)

// The scanner before its ASCII fast paths: the reference they must agree
// with, at every starting offset.

func nextNumberRef(s string, from int) (start, end int, ok bool) {
	if !mayHoldNumberRef(s[from:]) {
		return 0, 0, false
	}
	for i := from; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if digitOf(r) < 0 || (i > 0 && precededByDigit(s, i)) {
			i += size
			continue
		}
		if end, ok := matchMyNumberRef(s, i); ok {
			return i, end, true
		}
		// Not a number: skip the rest of this digit run.
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if digitOf(r) < 0 {
				break
			}
			i += size
		}
	}
	return 0, 0, false
}

func matchMyNumberRef(s string, i int) (end int, ok bool) {
	var d [12]byte
	// 12 in a row.
	if j, n := readDigitsRef(s, i, d[:], 12); n == 12 && !nextIsDigit(s, j) && content.MyNumberValid(d) {
		return j, true
	}
	// 4-4-4 with a consistent separator.
	j, n := readDigitsRef(s, i, d[0:4], 4)
	if n != 4 {
		return 0, false
	}
	sep, size := utf8.DecodeRuneInString(s[j:])
	if !isSeparator(sep) {
		return 0, false
	}
	j += size
	if j, n = readDigitsRef(s, j, d[4:8], 4); n != 4 {
		return 0, false
	}
	if r, size2 := utf8.DecodeRuneInString(s[j:]); r != sep {
		return 0, false
	} else {
		j += size2
	}
	if j, n = readDigitsRef(s, j, d[8:12], 4); n != 4 || nextIsDigit(s, j) {
		return 0, false
	}
	// A further group may follow ("1234-5678-9018-1111", a card number's
	// layout): the three groups are still masked when they are a valid
	// individual number. Masking a card number too costs nothing; keeping
	// an individual number that happens to precede a group would leak it.
	if !content.MyNumberValid(d) {
		return 0, false
	}
	return j, true
}

func readDigitsRef(s string, i int, dst []byte, max int) (int, int) {
	n := 0
	for n < max && i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		d := digitOf(r)
		if d < 0 {
			break
		}
		dst[n] = byte('0' + d)
		n++
		i += size
	}
	return i, n
}

func mayHoldNumberRef(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			n++
		} else if c == 0xEF && i+2 < len(s) && s[i+1] == 0xBC && s[i+2] >= 0x90 && s[i+2] <= 0x99 {
			n++
			i += 2
		}
	}
	return n >= 12
}

// agree fails when the fast scanner and the reference differ on s at any
// offset; failures show s with its digits hidden.
func agree(t *testing.T, s string) {
	t.Helper()
	for from := 0; from <= len(s); from++ {
		if a, b := mayHoldNumber(s[from:]), mayHoldNumberRef(s[from:]); a != b {
			t.Fatalf("mayHoldNumber(%q[%d:]) = %v, reference %v", mask(s), from, a, b)
		}
		s1, e1, ok1 := nextNumber(s, from)
		s2, e2, ok2 := nextNumberRef(s, from)
		if s1 != s2 || e1 != e2 || ok1 != ok2 {
			t.Fatalf("nextNumber(%q, %d) = %d, %d, %v; reference %d, %d, %v", mask(s), from, s1, e1, ok1, s2, e2, ok2)
		}
	}
}

// randomText strings digit runs of every length (ASCII, full-width or
// both), valid numbers in each layout, separators, other runes and
// broken UTF-8 together.
func randomText(r *rand.Rand) string {
	fw := func(d byte) string { return string(rune('０' + rune(d-'0'))) }
	var b strings.Builder
	for range 1 + r.IntN(8) {
		switch r.IntN(8) {
		case 0, 1:
			n := 1 + r.IntN(14)
			for range n {
				d := byte('0' + r.IntN(10))
				if r.IntN(4) == 0 {
					b.WriteString(fw(d))
				} else {
					b.WriteByte(d)
				}
			}
		case 2:
			v := []byte(valid)
			if r.IntN(2) == 0 { // another valid number: fix its check digit
				for i := range 11 {
					v[i] = byte('0' + r.IntN(10))
				}
				for c := byte('0'); c <= '9'; c++ {
					v[11] = c
					if content.MyNumberValid([12]byte(v)) {
						break
					}
				}
			}
			sep := []string{"", "-", " ", ".", "－", "−", "ー", "‐", "　", "/"}[r.IntN(10)]
			for g := 0; g < 3; g++ {
				if g > 0 {
					b.WriteString(sep)
				}
				for _, d := range v[4*g : 4*g+4] {
					if r.IntN(6) == 0 {
						b.WriteString(fw(d))
					} else {
						b.WriteByte(d)
					}
				}
			}
		case 3:
			b.WriteString([]string{"-", " ", ".", "－", "−", "ー", "‐", "　", "/", "_"}[r.IntN(10)])
		case 4:
			b.WriteString([]string{"roster", "/srv/mynumber/", "日本", "é", "\u2028", "x"}[r.IntN(6)])
		case 5:
			b.WriteString([]string{"\xef", "\xef\xbc", "\xef\xbc\x9a", "\xef\xbd\x90", "\xff", "\x80"}[r.IntN(6)])
		default:
			b.WriteByte(byte(r.IntN(256)))
		}
	}
	return b.String()
}

func TestScannerMatchesReference(t *testing.T) {
	for _, s := range []string{"", valid, "1234-5678-9018-1111", "９999 1234 5678 9018", "/mnt/backup/roster-2026-11-22.csv.gz",
		"2026-11-22T10:00:00+09:00", "１２３４５６７８９０１８", "１２３４－５６７８－９０１８", "\xef\xbc\x91\xef\xbc"} {
		agree(t, s)
	}
	r := rand.New(rand.NewPCG(7, 11))
	found := 0
	for range 30000 {
		s := randomText(r)
		agree(t, s)
		if _, _, ok := nextNumber(s, 0); ok {
			found++
		}
	}
	if found < 3000 {
		t.Fatalf("only %d of the texts hold a number: the test tests little", found)
	}
}

func FuzzScannerMatchesReference(f *testing.F) {
	f.Add("grep " + valid + " x")
	f.Add("1234－5678－9018 ０１２")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1024 {
			return // every offset: quadratic
		}
		agree(t, s)
	})
}
