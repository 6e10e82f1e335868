package ecs

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/bansho-sec/bansho/internal/dockey"
)

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD and
// control characters are escaped, so the output is valid JSON whatever a
// process put in its argv or file names.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendStringBody(b, s)
	return append(b, '"')
}

// appendStringBody is appendString without the quotes.
func appendStringBody(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while they are all printable ASCII other
		// than '"' and '\\' (most of a document's strings are): several
		// times faster than a byte at a time. A byte below 0x20, and one
		// that equals '"' or '\\' once xored with it, borrows in the
		// subtraction and sets its high bit; &^x drops the high bits a byte
		// of 0x80 or more set, which x itself then shows. A false alarm
		// only takes the byte path.
		for i+8 <= len(s) {
			const ones, highs = 0x0101010101010101, 0x8080808080808080
			w := s[i : i+8]
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			borrows := (x - ones*0x20) | ((x ^ ones*'"') - ones) | ((x ^ ones*'\\') - ones)
			if (borrows&^x|x)&highs != 0 {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end a line in JavaScript.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

const hexDigits = "0123456789abcdef"

// maxDepth bounds object nesting; the deepest document path is
// root.bansho.content.my_number (4 levels).
const maxDepth = 8

// obj appends one JSON object, with comma handling, to b. It lives on the
// caller's stack: no allocation beyond growing b.
type obj struct {
	b        []byte
	depth    int
	used     [maxDepth]bool // per level: a member was written
	redacted bool           // a string from the traced system had a My Number masked
	trusted  bool           // an alert's trigger came from this encoder: masked() copies it as is
	ix       *dockey.Meta   // when set, the index keys of the document are noted here
}

// note adds the value of the member written since mark (`"k":value`, a
// comma before it or not) to the document's index keys. A value the
// writer had to escape is not the value the store would parse back: the
// keys are then left to the store to parse (Valid false).
func (o *obj) note(t byte, mark int) {
	if o.ix == nil || mark >= len(o.b) {
		return
	}
	v := o.b[mark:]
	i := bytes.Index(v, []byte(`":`))
	if i < 0 {
		o.ix.Valid = false
		return
	}
	v = v[i+2:]
	if len(v) >= 2 && v[0] == '"' {
		v = v[1 : len(v)-1]
		if bytes.IndexByte(v, '\\') >= 0 {
			o.ix.Valid = false
			return
		}
	}
	if t == dockey.File {
		o.ix.Keys = dockey.AddPath(o.ix.Keys, v)
	} else {
		o.ix.Keys = dockey.Add(o.ix.Keys, t, v)
	}
}

// noteString adds a value written elsewhere (a cached section) as it
// would be written: one that JSON escapes leaves the keys to the store.
func (o *obj) noteString(t byte, v string) {
	if o.ix == nil || v == "" {
		return
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			o.ix.Valid = false
			return
		}
	}
	o.ix.Keys = dockey.Add(o.ix.Keys, t, v)
}

func (o *obj) open() {
	o.b = append(o.b, '{')
	o.used[o.depth] = false
	o.depth++
}

func (o *obj) close() {
	o.b = append(o.b, '}')
	o.depth--
}

// sep writes the comma before a member when one came before it.
func (o *obj) sep() {
	if l := o.depth - 1; o.used[l] {
		o.b = append(o.b, ',')
	} else {
		o.used[l] = true
	}
}

// key writes a constant member name (no escaping: names are literals).
func (o *obj) key(k string) {
	// sep inlined: one append of the comma and the quote.
	b := o.b
	if l := o.depth - 1; o.used[l] {
		b = append(b, ',', '"')
	} else {
		o.used[l] = true
		b = append(b, '"')
	}
	b = append(b, k...)
	o.b = append(b, '"', ':')
}

// dynKey writes a member name that is data (a counter or detail name).
func (o *obj) dynKey(k string) {
	o.sep()
	o.b = appendString(o.b, k)
	o.b = append(o.b, ':')
}

// section opens a nested object under k.
func (o *obj) section(k string) {
	o.key(k)
	o.open()
}

func (o *obj) str(k, v string) {
	o.key(k)
	o.b = appendString(o.b, v)
}

// strNE writes k only when v is not empty.
func (o *obj) strNE(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

// raw writes v, already JSON, under k.
func (o *obj) raw(k, v string) {
	o.key(k)
	o.b = append(o.b, v...)
}

func (o *obj) uint(k string, v uint64) {
	o.key(k)
	o.b = strconv.AppendUint(o.b, v, 10)
}

func (o *obj) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *obj) boolean(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// ustr writes a number as a JSON string (ECS ids are keywords).
func (o *obj) ustr(k string, v uint64) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = strconv.AppendUint(o.b, v, 10)
	o.b = append(o.b, '"')
}

// octal writes the permission bits of a mode as ECS does: "0640".
func (o *obj) octal(k string, mode uint32) {
	o.key(k)
	mode &= 0o7777
	o.b = append(o.b, '"', byte('0'+mode>>9&7), byte('0'+mode>>6&7), byte('0'+mode>>3&7), byte('0'+mode&7), '"')
}

func (o *obj) time(k string, t time.Time) {
	o.key(k)
	o.b = appendTime(o.b, t)
}

// user writes a string that came from the traced system (argv, a path, a
// file name), with any My Number in it masked.
func (o *obj) user(k, v string) {
	v, changed := Redact(v)
	o.redacted = o.redacted || changed
	o.str(k, v)
}

func (o *obj) userNE(k, v string) {
	if v != "" {
		o.user(k, v)
	}
}

// users writes an array of strings from the traced system, masked.
func (o *obj) users(k string, v []string) {
	o.key(k)
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		s, changed := Redact(s)
		o.redacted = o.redacted || changed
		o.b = appendString(o.b, s)
	}
	o.b = append(o.b, ']')
}

// strs writes an array of strings the sensor made (no masking needed).
func (o *obj) strs(k string, v []string) {
	o.key(k)
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendString(o.b, s)
	}
	o.b = append(o.b, ']')
}

// appendTime writes t as a quoted RFC 3339 UTC time with nanoseconds,
// e.g. "2026-11-22T01:02:03.456789000Z"; the same as AppendFormat with
// that layout, a few times faster (three per document).
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	b = append(b, '"')
	if year < 0 || year > 9999 {
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
		return append(b, '"')
	}
	b = append2(append2(b, year/100), year%100)
	b = append(b, '-')
	b = append2(b, int(month))
	b = append(b, '-')
	b = append2(b, day)
	b = append(b, 'T')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, min)
	b = append(b, ':')
	b = append2(b, sec)
	b = append(b, '.')
	ns := t.Nanosecond()
	for div := 100000000; div > 0; div /= 10 {
		b = append(b, byte('0'+ns/div%10))
	}
	return append(b, 'Z', '"')
}

func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}
