package content

// Byte classes and the digit and separator tokens of every supported
// encoding. The tokens recognised here are the whole vocabulary of a match:
// every byte of a match is a token byte, so a byte outside cls can be
// skipped over without decoding anything.

// Class bits of cls.
const (
	clsAny = 1 << iota // the byte can occur inside a match in some encoding
	clsZF              // 0x00 or 0xFF: every UTF-16 digit unit holds one
)

// minSpan is the fewest bytes any match occupies: 12 ASCII digits.
const minSpan = 12

var cls = func() (t [256]uint8) {
	set := func(bs ...byte) {
		for _, b := range bs {
			t[b] |= clsAny
		}
	}
	for b := byte('0'); b <= '9'; b++ {
		set(b)        // ASCII digits, UTF-16 ASCII digits' low byte
		set(b - 0x20) // UTF-16 full-width digits' low byte 0x10-0x19
		set(b + 0x60) // UTF-8 full-width digits' last byte 0x90-0x99
		set(b + 0x1f) // CP932 full-width digits' trail byte 0x4F-0x58
	}
	set(' ', '-', '.')                      // ASCII separators
	set(0xEF, 0xBC, 0x82)                   // UTF-8 and CP932 full-width digit lead bytes
	set(0xE2, 0x88, 0x92)                   // UTF-8 U+2212
	set(0x8D)                               // UTF-8 U+FF0D (EF BC 8D)
	set(0xE3, 0x83)                         // UTF-8 U+30FC (E3 83 BC)
	set(0x80)                               // UTF-8 U+3000 (E3 80 80)
	set(0x81, 0x7C, 0x5B, 0x40)             // CP932 0x817C, 0x815B, 0x8140
	set(0x00, 0xFF, 0x0D, 0x12, 0x22, 0xFC) // UTF-16 units
	t[0x00] |= clsZF
	t[0xFF] |= clsZF
	return t
}()

// Digit forms. A number's digits must all have one form.
const (
	formHalf   = 1 + iota // ASCII '0'-'9' (also in UTF-8, CP932, UTF-16)
	formFullU8            // U+FF10-FF19 in UTF-8: EF BC 90-99
	formFullSJ            // CP932 0x824F-0x8258
	formFull16            // U+FF10-FF19 in UTF-16
)

// Separator identities. Two separators are the same only if they are the
// same bytes, so one number cannot mix, say, a CP932 and an ASCII hyphen.
const (
	sepNone = iota
	sepSpace
	sepHyphen
	sepDot
	sepU8Minus     // U+2212 in UTF-8
	sepU8FullHyph  // U+FF0D in UTF-8
	sepU8Choon     // U+30FC in UTF-8
	sepU8IdeoSpace // U+3000 in UTF-8
	sepSJMinus     // CP932 0x817C: both U+FF0D and U+2212 map here
	sepSJChoon     // CP932 0x815B
	sepSJIdeoSpace // CP932 0x8140
	sep16FullHyph  // U+FF0D in UTF-16
	sep16Minus     // U+2212 in UTF-16
	sep16Choon     // U+30FC in UTF-16
	sep16IdeoSpace // U+3000 in UTF-16
)

// weakSep reports whether s is a space. A space joins two digit groups into
// one cluster only if both are at most 4 digits long: "1234 5678 9012" is
// one number, "42 123456789018" is a number after another field.
func weakSep(s uint8) bool {
	return s == sepSpace || s == sepU8IdeoSpace || s == sepSJIdeoSpace || s == sep16IdeoSpace
}

// sepGroupReason is the reason naming a grouped layout of kind k.
func sepGroupReason(k Kind) string {
	if k == CorporateNumber {
		return "separator:1-4-4-4"
	}
	return "separator:4-4-4"
}

// byteDigit decodes a digit token of the byte-oriented encodings (ASCII,
// UTF-8, CP932) at b[i]: its value, form and width, or width 0. A CP932
// full-width digit counts only where a CP932 character can start
// (sjisAligned), so a trail byte 0x82 does not begin one.
func byteDigit(b []byte, i int) (v byte, form uint8, w int) {
	if i >= len(b) {
		return 0, 0, 0
	}
	c := b[i]
	if c-'0' < 10 {
		return c - '0', formHalf, 1
	}
	if c == 0xEF && i+2 < len(b) && b[i+1] == 0xBC && b[i+2]-0x90 < 10 {
		return b[i+2] - 0x90, formFullU8, 3
	}
	if c == 0x82 && i+1 < len(b) && b[i+1]-0x4F < 10 && sjisAligned(b, i) {
		return b[i+1] - 0x4F, formFullSJ, 2
	}
	return 0, 0, 0
}

// byteSep decodes a separator token at b[i]: its identity and width, or
// width 0.
func byteSep(b []byte, i int) (s uint8, w int) {
	if i >= len(b) {
		return 0, 0
	}
	switch b[i] {
	case ' ':
		return sepSpace, 1
	case '-':
		return sepHyphen, 1
	case '.':
		return sepDot, 1
	case 0xE2:
		if i+2 < len(b) && b[i+1] == 0x88 && b[i+2] == 0x92 {
			return sepU8Minus, 3
		}
	case 0xEF:
		if i+2 < len(b) && b[i+1] == 0xBC && b[i+2] == 0x8D {
			return sepU8FullHyph, 3
		}
	case 0xE3:
		if i+2 < len(b) {
			if b[i+1] == 0x83 && b[i+2] == 0xBC {
				return sepU8Choon, 3
			}
			if b[i+1] == 0x80 && b[i+2] == 0x80 {
				return sepU8IdeoSpace, 3
			}
		}
	case 0x81:
		if i+1 < len(b) {
			switch b[i+1] {
			case 0x7C:
				return sepSJMinus, 2
			case 0x5B:
				return sepSJChoon, 2
			case 0x40:
				return sepSJIdeoSpace, 2
			}
		}
	}
	return 0, 0
}

// sepEncoding is the encoding a byte-oriented separator implies: encASCII
// for the ASCII ones, which fit every byte-oriented encoding.
func sepEncoding(s uint8) encoding {
	switch s {
	case sepU8Minus, sepU8FullHyph, sepU8Choon, sepU8IdeoSpace:
		return encUTF8
	case sepSJMinus, sepSJChoon, sepSJIdeoSpace:
		return encCP932
	}
	return encASCII
}

// unit16 reads the UTF-16 code unit at b[i:i+2] in the given byte order.
func unit16(b []byte, i int, be bool) (uint16, bool) {
	if i < 0 || i+1 >= len(b) {
		return 0, false
	}
	if be {
		return uint16(b[i])<<8 | uint16(b[i+1]), true
	}
	return uint16(b[i+1])<<8 | uint16(b[i]), true
}

// digit16 decodes a UTF-16 digit unit.
func digit16(u uint16) (v byte, form uint8) {
	if u-'0' < 10 {
		return byte(u - '0'), formHalf
	}
	if u-0xFF10 < 10 {
		return byte(u - 0xFF10), formFull16
	}
	return 0, 0
}

// sep16 decodes a UTF-16 separator unit.
func sep16(u uint16) uint8 {
	switch u {
	case ' ':
		return sepSpace
	case '-':
		return sepHyphen
	case '.':
		return sepDot
	case 0xFF0D:
		return sep16FullHyph
	case 0x2212:
		return sep16Minus
	case 0x30FC:
		return sep16Choon
	case 0x3000:
		return sep16IdeoSpace
	}
	return sepNone
}

// sjisLead reports whether c is in the CP932 lead-byte range.
func sjisLead(c byte) bool {
	return (c >= 0x81 && c <= 0x9F) || (c >= 0xE0 && c <= 0xFC)
}

// parityLookback bounds the walk back over CP932 lead-range bytes.
const parityLookback = 24

// sjisAligned reports whether b[i] starts a character in CP932 text, not a
// trail byte. Bytes outside the lead range end a character, so the bytes
// since the last of them pair up: an odd count of lead-range bytes right
// before i makes b[i] a trail byte. The walk is bounded; a longer run is
// taken as aligned.
func sjisAligned(b []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && n < parityLookback && sjisLead(b[j]); j-- {
		n++
	}
	return n%2 == 0
}
