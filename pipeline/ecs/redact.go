package ecs

import (
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/bansho-sec/bansho/pipeline/content"
)

// MaskedMyNumber replaces an individual number found in a string.
const MaskedMyNumber = "****-****-****"

// Redact masks every individual number (12 digits with a valid check
// digit, ASCII or full-width, with or without -, space, . or full-width
// separators, and no further digit on either side) in a string that came
// from the traced system: argv, paths, file names. The sensor must never
// become a store of My Numbers, and a command line like
// `grep 1234... roster.csv` or a file named after a person's number would
// otherwise carry one. Corporate numbers are public and are kept.
// Returns s itself (no allocation) when there is nothing to mask.
func Redact(s string) (string, bool) {
	start, end, ok := nextNumber(s, 0)
	if !ok {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s) + len(MaskedMyNumber))
	last := 0
	for ok {
		b.WriteString(s[last:start])
		b.WriteString(MaskedMyNumber)
		last = end
		start, end, ok = nextNumber(s, end)
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// nextNumber finds the first individual number in s at or after byte
// from: its byte range [start, end). ASCII, the common case, is read a
// byte at a time without decoding.
func nextNumber(s string, from int) (start, end int, ok bool) {
	if !mayHoldNumber(s[from:]) {
		return 0, 0, false
	}
	for i := from; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < '0' || c > '9' {
				i++
				continue
			}
		} else if !isFullWidthDigit(s, i) {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		// A digit: a number starts only where a digit run does.
		if i > 0 && precededByDigit(s, i) {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		if end, ok := matchMyNumber(s, i); ok {
			return i, end, true
		}
		// Not a number: skip the rest of this digit run.
		for i < len(s) {
			if c := s[i]; c >= '0' && c <= '9' {
				i++
			} else if isFullWidthDigit(s, i) {
				i += 3
			} else {
				break
			}
		}
	}
	return 0, 0, false
}

// isFullWidthDigit reports whether a full-width digit (U+FF10..U+FF19,
// EF BC 90..99 in UTF-8) starts at s[i].
func isFullWidthDigit(s string, i int) bool {
	return s[i] == 0xEF && i+2 < len(s) && s[i+1] == 0xBC && s[i+2] >= 0x90 && s[i+2] <= 0x99
}

// matchMyNumber tries the two layouts at i: 12 digits in a row, or three
// groups of 4 with one separator used twice. Either must end the digit
// run: no digit may follow.
func matchMyNumber(s string, i int) (end int, ok bool) {
	var d [12]byte
	// 12 in a row.
	if j, n := readDigits(s, i, d[:], 12); n == 12 && !nextIsDigit(s, j) && content.MyNumberValid(d) {
		return j, true
	}
	// 4-4-4 with a consistent separator.
	j, n := readDigits(s, i, d[0:4], 4)
	if n != 4 {
		return 0, false
	}
	sep, size := utf8.DecodeRuneInString(s[j:])
	if !isSeparator(sep) {
		return 0, false
	}
	j += size
	if j, n = readDigits(s, j, d[4:8], 4); n != 4 {
		return 0, false
	}
	if r, size2 := utf8.DecodeRuneInString(s[j:]); r != sep {
		return 0, false
	} else {
		j += size2
	}
	if j, n = readDigits(s, j, d[8:12], 4); n != 4 || nextIsDigit(s, j) {
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

// readDigits reads up to max digits at i into dst as ASCII.
func readDigits(s string, i int, dst []byte, max int) (int, int) {
	n := 0
	for n < max && i < len(s) {
		if c := s[i]; c >= '0' && c <= '9' {
			dst[n] = c
			i++
		} else if isFullWidthDigit(s, i) {
			dst[n] = '0' + s[i+2] - 0x90
			i += 3
		} else {
			break
		}
		n++
	}
	return i, n
}

func nextIsDigit(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return digitOf(r) >= 0
}

// mayHoldNumber is a cheap pre-check: at least 12 digit characters.
// Words of eight ASCII bytes have their digits counted at once.
func mayHoldNumber(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	n, i := 0, 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if x&highs != 0 {
			break // not all ASCII: the bytes from here one by one
		}
		// Bytes below 0x80 do not carry: a byte's high bit says it is at
		// least '0' in the first sum and more than '9' in the second.
		n += bits.OnesCount64((x + ones*(0x80-'0')) &^ (x + ones*(0x80-'9'-1)) & highs)
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			n++
		} else if isFullWidthDigit(s, i) {
			n++
			i += 2
		}
	}
	return n >= 12
}

func digitOf(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= '０' && r <= '９':
		return int(r - '０')
	}
	return -1
}

func isSeparator(r rune) bool {
	switch r {
	case '-', ' ', '.', '－', '−', 'ー', '‐', '　':
		return true
	}
	return false
}

func precededByDigit(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return digitOf(r) >= 0
}
