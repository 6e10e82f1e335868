package content

import (
	"encoding/binary"
	"math/bits"
)

// A cluster is a maximal sequence of digit groups joined by separators,
// read in one encoding: "1234-5678-9012", "123456789018", "03-1234-5678".
// A number is a cluster of exactly the right shape, so a 12-digit number
// is never found inside a longer run of digits, a card number written
// 4-4-4-4, a phone number or a decimal.
type cluster struct {
	n     int      // digits, all groups; may exceed 13
	ng    int      // groups; may exceed 4
	glen  [4]uint8 // lengths of the first 4 groups, capped at 255
	dig   [13]byte // the first 13 digits, ASCII
	form  uint8    // digit form of the first digit
	sep   uint8    // separator between the first two groups
	mixed bool     // more than one digit form or separator
	end   int      // offset just past the last digit
}

func (c *cluster) digit(v byte, f uint8) {
	if c.n == 0 {
		c.form = f
	} else if f != c.form {
		c.mixed = true
	}
	if c.n < len(c.dig) {
		c.dig[c.n] = '0' + v
	}
	c.n++
}

func (c *cluster) group(g int) {
	if c.ng < len(c.glen) {
		c.glen[c.ng] = uint8(min(g, 255))
	}
	c.ng++
}

func (c *cluster) separator(s uint8) {
	if c.sep == sepNone {
		c.sep = s
	} else if s != c.sep {
		c.mixed = true
	}
}

// shape returns the kind of number c is laid out as, and whether it is
// grouped; ok is false for any other shape.
func (c *cluster) shape() (k Kind, grouped, ok bool) {
	switch {
	case c.ng == 1 && c.n == 12:
		return MyNumber, false, true
	case c.ng == 1 && c.n == 13:
		return CorporateNumber, false, true
	case c.ng == 3 && c.glen == [4]uint8{4, 4, 4, 0}:
		return MyNumber, true, true
	case c.ng == 4 && c.glen == [4]uint8{1, 4, 4, 4}:
		return CorporateNumber, true, true
	}
	return 0, false, false
}

// valid checks the check digit of c, which has the shape of kind k.
func (c *cluster) valid(k Kind) bool {
	if k == MyNumber {
		return myNumberOK(&c.dig)
	}
	return corporateOK(&c.dig)
}

// asciiDigits returns the end of the ASCII digits at b[i:], eight bytes at
// a time while it can.
func asciiDigits(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0xF0F0F0F0F0F0F0F0
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:]) ^ 0x30*ones // digits become 0-9
		// A byte is not a digit if its high nibble is set, or adding 6
		// carries into it. A carry out of a non-digit can only mark bytes
		// above it, never the first non-digit.
		if nd := (x | (x + 6*ones)) & highs; nd != 0 {
			return i + bits.TrailingZeros64(nd)/8
		}
		i += 8
	}
	for i < len(b) && b[i]-'0' < 10 {
		i++
	}
	return i
}

// parseByte reads the cluster whose first digit token is at b[i], in the
// byte-oriented encodings.
func parseByte(b []byte, i int, c *cluster) {
	*c = cluster{}
	j := i
	for {
		g := 0
		if k := asciiDigits(b, j); k > j { // the common case, in bulk
			if c.n == 0 {
				c.form = formHalf
			} else if c.form != formHalf {
				c.mixed = true
			}
			if c.n == 0 && j+len(c.dig) <= len(b) {
				// Copy 13 bytes in two words; what follows the digits
				// is overwritten or cleared below.
				binary.LittleEndian.PutUint64(c.dig[0:], binary.LittleEndian.Uint64(b[j:]))
				binary.LittleEndian.PutUint64(c.dig[5:], binary.LittleEndian.Uint64(b[j+5:]))
			} else {
				for x := j; x < k && c.n+x-j < len(c.dig); x++ {
					c.dig[c.n+x-j] = b[x]
				}
			}
			c.n += k - j
			g += k - j
			j = k
		}
		for {
			v, f, w := byteDigit(b, j)
			if w == 0 {
				break
			}
			c.digit(v, f)
			g++
			j += w
		}
		c.group(g)
		s, sw := byteSep(b, j)
		if sw == 0 {
			break
		}
		if _, _, w := byteDigit(b, j+sw); w == 0 {
			break
		}
		if weakSep(s) {
			if g > 4 {
				break
			}
			k, m := j+sw, 0
			for m <= 4 {
				_, _, w := byteDigit(b, k)
				if w == 0 {
					break
				}
				k += w
				m++
			}
			if m > 4 {
				break
			}
		}
		c.separator(s)
		j += sw
	}
	c.end = j
	clear(c.dig[min(c.n, len(c.dig)):])
}

// parse16 reads the cluster whose first digit unit is at b[u], in UTF-16
// of the given byte order.
func parse16(b []byte, u int, be bool, c *cluster) {
	*c = cluster{}
	j := u
	digitAt := func(j int) (byte, uint8) {
		x, ok := unit16(b, j, be)
		if !ok {
			return 0, 0
		}
		return digit16(x)
	}
	for {
		g := 0
		for {
			v, f := digitAt(j)
			if f == 0 {
				break
			}
			c.digit(v, f)
			g++
			j += 2
		}
		c.group(g)
		x, ok := unit16(b, j, be)
		if !ok {
			break
		}
		s := sep16(x)
		if s == sepNone {
			break
		}
		if _, f := digitAt(j + 2); f == 0 {
			break
		}
		if weakSep(s) {
			if g > 4 {
				break
			}
			k, m := j+2, 0
			for m <= 4 {
				if _, f := digitAt(k); f == 0 {
					break
				}
				k += 2
				m++
			}
			if m > 4 {
				break
			}
		}
		c.separator(s)
		j += 2
	}
	c.end = j
}

// match is one well-formed number, valid check digit or not. It lives only
// inside the detector.
type match struct {
	kind    Kind
	valid   bool
	grouped bool
	full    bool // full-width digits
	be      bool // UTF-16BE
	unit    int8 // 1: byte-oriented, 2: UTF-16
	enc     encoding
	n       int
	dig     [13]byte
	start   int64 // absolute offset of the first byte of the match
	end     int64 // absolute offset just past it
}

// byteRun finds the numbers of the byte-oriented encodings in the run of
// class bytes b[rs:re], reporting those starting in [from, to).
func (s *Stream) byteRun(b []byte, base int64, rs, re, from, to int) {
	var c cluster
	for i := rs; i < re && i < to; {
		_, _, w := byteDigit(b, i)
		if w == 0 {
			i++
			continue
		}
		parseByte(b, i, &c)
		if i >= from && !c.mixed {
			s.evalByte(&c, base, i)
		}
		i = c.end
	}
}

func (s *Stream) evalByte(c *cluster, base int64, i int) {
	k, grouped, ok := c.shape()
	if !ok {
		return
	}
	se := sepEncoding(c.sep)
	var enc encoding
	switch c.form {
	case formHalf:
		enc = se
	case formFullU8:
		if se == encCP932 {
			return
		}
		enc = encUTF8
	case formFullSJ:
		if se == encUTF8 {
			return
		}
		enc = encCP932
	}
	m := match{
		kind: k, valid: c.valid(k), grouped: grouped, full: c.form != formHalf,
		unit: 1, enc: enc, n: c.n, dig: c.dig,
		start: base + int64(i), end: base + int64(c.end),
	}
	s.report(&m)
}

// u16Run finds the UTF-16 numbers in the run b[rs:re], in both byte
// orders, reading code units at even offsets from the stream's start,
// where UTF-16 text begins. Text at odd offsets is not lost when ASCII
// surrounds it: its bytes read the same digits as units of the other byte
// order at even offsets (bytes "00 31 00 32" at odd offsets are
// little-endian "31 00 32 00" at even ones). Reading odd offsets too would
// find, in ordinary little-endian text, big-endian phantoms made of a
// digit's low byte and its neighbour's.
func (s *Stream) u16Run(b []byte, base int64, rs, re, from, to int) {
	var c cluster
	first := rs + int((base+int64(rs))&1)
	for _, be := range [2]bool{false, true} {
		for u := first; u+1 < re && u < to; {
			x, _ := unit16(b, u, be)
			if _, f := digit16(x); f == 0 {
				u += 2
				continue
			}
			parse16(b, u, be, &c)
			if u >= from && !c.mixed {
				if k, grouped, ok := c.shape(); ok {
					m := match{
						kind: k, valid: c.valid(k), grouped: grouped, full: c.form == formFull16,
						be: be, unit: 2, enc: encUTF16LE, n: c.n, dig: c.dig,
						start: base + int64(u), end: base + int64(c.end),
					}
					if be {
						m.enc = encUTF16BE
					}
					s.report(&m)
				}
			}
			u = c.end
		}
	}
}
