package ecs

import (
	"strings"
	"testing"
)

// valid is the published test vector (123456789018); others are derived.
const valid = "123456789018"

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"grep " + valid + " roster.csv":     "grep " + MaskedMyNumber + " roster.csv",
		"/srv/" + valid + ".pdf":            "/srv/" + MaskedMyNumber + ".pdf",
		"1234-5678-9018 and 1234 5678 9018": MaskedMyNumber + " and " + MaskedMyNumber,
		"１２３４５６７８９０１８":                      MaskedMyNumber,
		"id=1234.5678.9018;":                "id=" + MaskedMyNumber + ";",
		"echo " + valid + " 42":             "echo " + MaskedMyNumber + " 42",
		"a" + valid + "b":                   "a" + MaskedMyNumber + "b",
		"both " + valid + "," + valid:       "both " + MaskedMyNumber + "," + MaskedMyNumber,
		// A further group after it, as in a card number's layout.
		"1234-5678-9018-1111":           MaskedMyNumber + "-1111",
		"1234 5678 9018 1234-5678-9018": MaskedMyNumber + " " + MaskedMyNumber,
		// ... or before it.
		"9999 1234 5678 9018": "9999 " + MaskedMyNumber,
	}
	for in, want := range cases {
		got, changed := Redact(in)
		if got != want || !changed {
			t.Errorf("Redact(%d-byte input) = %q, want %q", len(in), mask(got), mask(want))
		}
	}
	keep := []string{
		"123456789012",              // invalid check digit
		"1" + valid,                 // 13 digits
		valid + "5",                 // 13 digits
		"1234-5678.9018",            // mixed separators
		"4011001098993",             // a corporate number: public, kept
		"/usr/bin/python3.11",       // no number at all
		"2026-11-22T10:00:00+09:00", // a timestamp
	}
	for _, in := range keep {
		if got, changed := Redact(in); changed || got != in {
			t.Errorf("Redact(%q) changed it to %q", in, got)
		}
	}
}

func TestRedactAllocatesNothingWithoutNumbers(t *testing.T) {
	s := "/usr/bin/cat /srv/mynumber/roster-2026-11-22.csv"
	if n := testing.AllocsPerRun(100, func() { Redact(s) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// mask hides digits in test failure output.
func mask(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, s)
}

func FuzzRedactLeavesNoValidNumber(f *testing.F) {
	f.Add("grep " + valid + " x")
	f.Add("1234-5678-9018")
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := Redact(s)
		// Re-redacting must change nothing: no valid number survived.
		if again, changed := Redact(out); changed {
			t.Fatalf("a number survived redaction: %q", mask(again))
		}
	})
}
