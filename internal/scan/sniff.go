package scan

import "unicode/utf8"

// headSniffer keeps the first bytes of a file to name its encoding when no
// number was found in it (when one was, the matches name it).
type headSniffer struct {
	buf [sniffSize]byte
	n   int
}

const sniffSize = 64 << 10

func (h *headSniffer) reset() { h.n = 0 }

func (h *headSniffer) write(p []byte) { h.n += copy(h.buf[h.n:], p) }

// encoding guesses: "utf-8", "utf-16le" or "utf-16be" from a byte order
// mark; UTF-16 from where the zero bytes fall; "ascii", "utf-8" or "cp932"
// if the bytes are valid as such, in that order; else "unknown", which
// includes binary data and empty files.
func (h *headSniffer) encoding() string {
	b := h.buf[:h.n]
	switch {
	case len(b) == 0:
		return "unknown"
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		return "utf-8"
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		return "utf-16le"
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		return "utf-16be"
	}
	// UTF-16 text has zero bytes on one side: the high byte of ASCII.
	var zeros [2]int
	for i, c := range b {
		if c == 0 {
			zeros[i&1]++
		}
	}
	half := len(b) / 2
	switch {
	case zeros[1] > 0 && zeros[1] >= half/4 && zeros[0] <= zeros[1]/16:
		return "utf-16le"
	case zeros[0] > 0 && zeros[0] >= half/4 && zeros[1] <= zeros[0]/16:
		return "utf-16be"
	case zeros[0]+zeros[1] > 0:
		return "unknown" // binary
	}
	full := h.n < sniffSize // the whole file: no character cut at the end
	if ascii(b) {
		return "ascii"
	}
	if validUTF8(b, full) {
		return "utf-8"
	}
	if validCP932(b, full) {
		return "cp932"
	}
	return "unknown"
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// validUTF8 allows a character cut short at the end of a partial head.
func validUTF8(b []byte, full bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if full {
		return false
	}
	for cut := 1; cut < utf8.UTFMax && cut < len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) {
			return true
		}
	}
	return false
}

// validCP932: ASCII, half-width katakana (0xA1-0xDF), or a lead byte
// (0x81-0x9F, 0xE0-0xFC) and a trail byte (0x40-0x7E, 0x80-0xFC).
func validCP932(b []byte, full bool) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x80 || c >= 0xA1 && c <= 0xDF {
			continue
		}
		if !(c >= 0x81 && c <= 0x9F || c >= 0xE0 && c <= 0xFC) {
			return false
		}
		if i+1 == len(b) {
			return !full
		}
		t := b[i+1]
		if t < 0x40 || t == 0x7F || t > 0xFC {
			return false
		}
		i++
	}
	return true
}
