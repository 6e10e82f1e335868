package ecs

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"
)

// appendStringBodyRef is appendStringBody a byte at a time, as it was
// before plain8: the reference the fast path must agree with.
func appendStringBodyRef(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf:
			b = append(b, c)
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < utf8.RuneSelf:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			default:
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return b
}

// Every byte value, at every place of a word and across words, escapes
// as the byte-at-a-time loop does; so do random strings.
func TestAppendStringBodyWordAtATime(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := appendStringBody(nil, s), appendStringBodyRef(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %q, want %q", s, got, want)
		}
	}
	base := []byte("abcdefghijklmnopqrstuvwxyz012345")
	for c := 0; c < 256; c++ {
		for pos := 0; pos < len(base); pos++ {
			s := append([]byte(nil), base...)
			s[pos] = byte(c)
			check(string(s))
			check(string(s[:pos+1]))
		}
	}
	for _, s := range []string{"", "a", "日本語のパス/名前.csv", "x\u2028y\u2029z", "\xef\xbc\x91\xef\xbc", "~~~~~~~~\x7f\x7f"} {
		check(s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("a/.-\"\\\n\t\x00\x1f\x20\x7e\x7f\x80\xbf\xc3\xa9\xe2\x80\xa8\xef\xbc\x91\xf0\x9f\x98\x80")
	for range 20000 {
		s := make([]byte, r.IntN(40))
		for i := range s {
			if r.IntN(4) == 0 {
				s[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				s[i] = byte(r.IntN(256))
			}
		}
		check(string(s))
	}
}

func FuzzAppendStringBody(f *testing.F) {
	f.Add("/srv/mynumber/roster.csv")
	f.Add("a\"b\\c\x00\u2028日本")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendStringBody(nil, s), appendStringBodyRef(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %q, want %q", s, got, want)
		}
	})
}

// appendTime writes what the time package's AppendFormat writes, on
// random instants from before year 0 to after 9999, and on the edges of
// days, months, leap years and centuries, in any zone.
func TestAppendTimeIsAppendFormat(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		want := `"` + tm.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") + `"`
		if got := string(appendTime(nil, tm)); got != want {
			t.Fatalf("%d.%09d: %s, want %s", tm.Unix(), tm.Nanosecond(), got, want)
		}
	}
	check(time.Time{})
	jst := time.FixedZone("JST", 9*3600)
	for _, y := range []int{-1, 0, 1, 1899, 1900, 1969, 1970, 1999, 2000, 2024, 2100, 2400, 9999, 10000} {
		for _, m := range []time.Month{1, 2, 3, 12} {
			for _, d := range []int{0, 1, 28, 29, 30, 31} {
				for _, s := range []int{-1, 0, 86399, 86400} {
					check(time.Date(y, m, d, 0, 0, s, 999999999, time.UTC))
					check(time.Date(y, m, d, 0, 0, s, 0, jst))
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 5))
	lo, hi := time.Date(-2, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(10002, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for range 200000 {
		check(time.Unix(lo+r.Int64N(hi-lo), r.Int64N(1e9)))
	}
}
