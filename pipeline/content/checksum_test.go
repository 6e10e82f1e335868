package content

import (
	"math/rand/v2"
	"testing"
)

func TestCheckDigitVectors(t *testing.T) {
	// The vectors from the ordinances' examples (docs/mynumber.md).
	if !MyNumberValid([12]byte([]byte("123456789018"))) {
		t.Error("the individual-number test vector fails the check")
	}
	if MyNumberValid([12]byte([]byte("123456789012"))) {
		t.Error("a wrong check digit passes")
	}
	for _, s := range []string{"4011001098993", "7000012050002"} {
		if !CorporateNumberValid([13]byte([]byte(s))) {
			t.Errorf("corporate test vector %s fails the check", Mask(CorporateNumber))
		}
	}
	if MyNumberValid([12]byte([]byte("12345678901x"))) || CorporateNumberValid([13]byte([]byte("40110010989 3"))) {
		t.Error("non-digits pass the check")
	}
}

// Exactly one check digit completes any prefix, and the fast checks on
// the scanner's path agree with the exported ones and the reference.
func TestCheckDigitsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for range 20000 {
		var d [13]byte
		for i := range d {
			d[i] = '0' + byte(r.IntN(10))
		}
		my := [12]byte(d[:12])
		if got, want := MyNumberValid(my), refCheck(MyNumber, string(d[:12])); got != want {
			t.Fatalf("MyNumberValid = %v, reference %v", got, want)
		}
		var d12 [13]byte
		copy(d12[:], d[:12])
		if myNumberOK(&d12) != MyNumberValid(my) {
			t.Fatal("myNumberOK and MyNumberValid disagree")
		}
		if got, want := CorporateNumberValid(d), refCheck(CorporateNumber, string(d[:])); got != want {
			t.Fatalf("CorporateNumberValid = %v, reference %v", got, want)
		}
		if corporateOK(&d) != CorporateNumberValid(d) {
			t.Fatal("corporateOK and CorporateNumberValid disagree")
		}
		valid := 0
		for c := byte('0'); c <= '9'; c++ {
			my[11] = c
			if MyNumberValid(my) {
				valid++
			}
		}
		if valid != 1 {
			t.Fatalf("%d check digits complete an individual number", valid)
		}
		valid = 0
		for c := byte('0'); c <= '9'; c++ {
			d[0] = c
			if CorporateNumberValid(d) {
				valid++
				if c == '0' {
					t.Fatal("0 passes as a corporate check digit")
				}
			}
		}
		if valid != 1 {
			t.Fatalf("%d check digits complete a corporate number", valid)
		}
	}
}

func TestMaskShowsNoDigit(t *testing.T) {
	for _, k := range []Kind{MyNumber, CorporateNumber} {
		m := Mask(k)
		for _, c := range m {
			if c >= '0' && c <= '9' {
				t.Errorf("Mask(%v) = %q shows a digit", k, m)
			}
		}
	}
	if Mask(MyNumber) != "****-****-****" || Mask(CorporateNumber) != "*-****-****-****" {
		t.Errorf("masks %q %q", Mask(MyNumber), Mask(CorporateNumber))
	}
}
