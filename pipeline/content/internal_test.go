package content

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestFingerprintRoundTrip(t *testing.T) {
	d := testDetector(t)
	r := rand.New(rand.NewPCG(4, 4))
	seen := map[uint64]string{}
	for range 50000 {
		k := Kind(r.IntN(2))
		var dig [13]byte
		n := 12 + int(k)
		for i := range n {
			dig[i] = '0' + byte(r.IntN(10))
		}
		f := d.fingerprint(k, &dig)
		if back := d.unfingerprint(k, f); back != dig {
			t.Fatalf("unfingerprint does not invert fingerprint (%v)", k)
		}
		key := string(dig[:n]) + k.String()
		if prev, ok := seen[f]; ok && prev != key {
			t.Fatal("two numbers share a fingerprint")
		}
		seen[f] = key
	}
	other, _ := NewDetector(Config{HashKey: []byte("another key")})
	dig := [13]byte([]byte("1234567890180"))
	dig[12] = 0
	if d.fingerprint(MyNumber, &dig) == other.fingerprint(MyNumber, &dig) {
		t.Error("fingerprints do not depend on the key")
	}
}

func TestHashIsHMACOfASCIIDigits(t *testing.T) {
	// An independent HMAC-SHA256 over the ASCII digits, per docs/mynumber.md.
	d := testDetector(t)
	r := d.Scan([]byte("番号 123456789018 と 4011001098993"))
	if want := hmacHex(testKey, "123456789018"); !slices.Equal(r.MyNumber.Hashes, []string{want}) {
		t.Errorf("my number hashes %v, want %v", r.MyNumber.Hashes, []string{want})
	}
	if want := hmacHex(testKey, "4011001098993"); !slices.Equal(r.CorporateNumber.Hashes, []string{want}) {
		t.Errorf("corporate hashes %v, want %v", r.CorporateNumber.Hashes, []string{want})
	}
}

// The distinct set against a plain model: it must hold exactly the
// smallest bound fingerprints seen, whatever the order.
func TestDistinctSetBottomK(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, bound := range []int{1, 2, 7, 64, 1000} {
		var set distinctSet
		set.init(bound)
		for round := range 3 {
			set.reset()
			model := map[uint64]bool{}
			var seen []uint64
			for range 20 * bound {
				key := r.Uint64() >> uint(r.IntN(3)*20) // some small keys
				if r.IntN(4) == 0 && len(seen) > 0 {
					key = seen[r.IntN(len(seen))] // and repeats
				}
				model[key] = true
				seen = append(seen, key)
				if set.has(key) {
					continue
				}
				if set.len() < bound {
					set.add(key)
				} else if key < set.maxKey() {
					set.replaceMax(key)
				}
			}
			want := slices.Sorted(maps.Keys(model))[:min(bound, len(model))]
			got := slices.Sorted(slices.Values(set.keys))
			if !slices.Equal(got, want) {
				t.Fatalf("bound %d round %d: set holds %d keys, not the %d smallest", bound, round, len(got), len(want))
			}
			for _, k := range want {
				if !set.has(k) {
					t.Fatalf("bound %d: a held key is not found in the table", bound)
				}
			}
		}
	}
}

func TestHLLEstimate(t *testing.T) {
	d := testDetector(t)
	for _, n := range []int{10, 1000, 5000, 100000} {
		var h hll
		for i := range n {
			var dig [13]byte
			v := uint64(i) * 7919
			for j := 11; j >= 0; j-- {
				dig[j] = '0' + byte(v%10)
				v /= 10
			}
			h.add(d.fingerprint(MyNumber, &dig))
		}
		got := h.estimate()
		if rel := math.Abs(got-float64(n)) / float64(n); rel > 0.1 {
			t.Errorf("HLL estimates %.0f for %d distinct (%.1f%% off)", got, n, 100*rel)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{},
		{HashKey: []byte("k"), MaxHashes: -1},
		{HashKey: []byte("k"), MaxHashes: maxMaxHashes + 1},
		{HashKey: []byte("k"), KeywordWindow: -1},
		{HashKey: []byte("k"), KeywordWindow: maxWindow + 1},
	} {
		if _, err := NewDetector(c); err == nil {
			t.Errorf("NewDetector(%+v) accepted a bad config", c)
		}
	}
	d, err := NewDetector(Config{HashKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if d.maxHashes != defaultMaxHashes || d.window != defaultWindow {
		t.Errorf("defaults: max hashes %d, window %d", d.maxHashes, d.window)
	}
}

func TestParseHashKey(t *testing.T) {
	hexKey := "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	for _, c := range []struct {
		in   string
		want string
	}{
		{hexKey, "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"},
		{"abcdef0123456789", "abcdef0123456789"}, // too short to be read as hex, 16 bytes of text
		{"correct horse battery staple", "correct horse battery staple"},
		{hexKey[:63] + "g", hexKey[:63] + "g"},
	} {
		got, err := ParseHashKey(c.in)
		if err != nil || string(got) != c.want {
			t.Errorf("ParseHashKey(%q) = %x, %v", c.in, got, err)
		}
	}
	if _, err := ParseHashKey(""); err == nil {
		t.Error("an empty key is accepted")
	}
	// Under 16 bytes a key can be guessed, and with it every hash reversed
	// by trying the 10^11 possible numbers: refused, and the key is not
	// in the message.
	for _, short := range []string{"abc", "abcdef012345678"} {
		_, err := ParseHashKey(short)
		if err == nil || strings.Contains(err.Error(), short) || !strings.Contains(err.Error(), "at least 16 bytes") {
			t.Errorf("a %d-character key: %v", len(short), err != nil)
		}
	}
}

func hmacHex(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
