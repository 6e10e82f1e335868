package content

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestConfidence(t *testing.T) {
	d := testDetector(t)
	r := rand.New(rand.NewPCG(15, 15))
	my := func() string { return genMyNumber(r) }
	csv := func(n int, gen func() string) string {
		var b strings.Builder
		b.WriteString("id,name,number\n")
		for i := range n {
			fmt.Fprintf(&b, "%d,yamada,%s\n", i, gen())
		}
		return b.String()
	}
	randomID := func() string { // 12 digits; one in ten passes the check
		var v [12]byte
		for i := range v {
			v[i] = byte(r.IntN(10))
		}
		return digitsString(v[:])
	}
	cases := []struct {
		name    string
		text    string
		enc     int
		want    Confidence
		reasons []string
		layouts []string
	}{
		{"nothing", "just text, 03-1234-5678", tASCII, ConfidenceNone, []string{}, []string{}},
		{"bare number in text", "order " + my() + " shipped", tASCII, ConfidenceLow, []string{"checksum"}, []string{"inline"}},
		{"keyword", "マイナンバー：" + my() + "です", tUTF8, ConfidenceHigh, []string{"checksum", "keyword"}, []string{"inline"}},
		{"grouped", "no. " + formatNumber(my(), true, '-', false) + " ok", tASCII, ConfidenceMedium, []string{"checksum", "separator:4-4-4"}, []string{"inline"}},
		{"full-width", "番号 " + formatNumber(my(), false, 0, true) + " です", tUTF8, ConfidenceMedium, []string{"checksum", "format:full-width"}, []string{"inline"}},
		{"two in a column", csv(2, my), tASCII, ConfidenceMedium, []string{"checksum", "layout:csv-column"}, []string{"csv-field"}},
		{"a column", csv(5, my), tASCII, ConfidenceHigh, []string{"checksum", "layout:csv-column", "checksum-ratio:high"}, []string{"csv-field"}},
		{"a list", my() + "\n" + my() + "\n" + my() + "\n", tASCII, ConfidenceHigh, []string{"checksum", "layout:one-per-line", "checksum-ratio:high"}, []string{"line"}},
		{"random ids in a column", csv(200, randomID), tASCII, ConfidenceLow, []string{"checksum", "layout:csv-column", "checksum-ratio:low"}, []string{"csv-field"}},
		{"random ids under a keyword", "個人番号\n" + csv(200, randomID), tUTF8, ConfidenceMedium, []string{"checksum", "keyword", "layout:csv-column", "checksum-ratio:low"}, []string{"csv-field"}},
		{"quoted fields, tabs", "\"" + my() + "\"\tx\n\"" + my() + "\"\ty\n", tUTF16LE, ConfidenceMedium, []string{"checksum", "layout:csv-column"}, []string{"csv-field"}},
	}
	for _, c := range cases {
		res := d.Scan(encodeText(c.text, c.enc))
		f := res.MyNumber
		if f.Confidence != c.want || !slices.Equal(f.Reasons, c.reasons) || !slices.Equal(f.Layouts, c.layouts) {
			t.Errorf("%s: confidence %v %v layouts %v; want %v %v %v", c.name, f.Confidence, f.Reasons, f.Layouts, c.want, c.reasons, c.layouts)
		}
		if res.CorporateNumber.Found() {
			t.Errorf("%s: corporate numbers found", c.name)
		}
	}
	corp := d.Scan([]byte("会社 " + formatNumber(genCorporate(r), true, ' ', false)))
	if f := corp.CorporateNumber; f.Confidence != ConfidenceMedium || !slices.Equal(f.Reasons, []string{"checksum", "separator:1-4-4-4"}) {
		t.Errorf("grouped corporate number: %v %v", f.Confidence, f.Reasons)
	}
}

func TestEncodingsReported(t *testing.T) {
	d := testDetector(t)
	r := rand.New(rand.NewPCG(16, 16))
	num := genMyNumber(r)
	for enc, want := range map[int][]string{
		tASCII:   {"ascii"},
		tCP932:   {"cp932"},
		tUTF16LE: {"utf-16le"},
		tUTF16BE: {"utf-16be"},
	} {
		res := d.Scan(encodeText("番号 "+formatNumber(num, false, 0, enc != tASCII), enc))
		if !slices.Equal(res.Encodings, want) || !slices.Equal(res.MyNumber.Encodings, want) {
			t.Errorf("%s: encodings %v / %v", testEncNames[enc], res.Encodings, res.MyNumber.Encodings)
		}
	}
	// UTF-8 shows where full-width digits or a multi-byte separator are.
	res := d.Scan([]byte(formatNumber(num, true, '\u30FC', false) + " " + formatNumber(genCorporate(r), false, 0, false)))
	if !slices.Equal(res.Encodings, []string{"ascii", "utf-8"}) {
		t.Errorf("mixed: encodings %v", res.Encodings)
	}
}

// A 13-digit run that passes the corporate check is a corporate number by
// its form, even when it is a millisecond timestamp; without a keyword or
// a layout it stays low. This pins the documented limitation.
func TestTimestampReadsAsCorporateNumber(t *testing.T) {
	d := testDetector(t)
	for ms := int64(1705312345000); ; ms++ {
		s := fmt.Sprint(ms)
		if refCheck(CorporateNumber, s) {
			f := d.Scan([]byte(`{"ts":` + s + `}`)).CorporateNumber
			if f.Occurrences != 1 || f.Confidence != ConfidenceLow {
				t.Errorf("timestamp passing the check: %d occurrences, confidence %v", f.Occurrences, f.Confidence)
			}
			return
		}
	}
}

var digitRun = regexp.MustCompile(`[0-9]{12,}`)

// checkNoLeak fails if the JSON of a result or its printed form shows a
// number: none of the inputs' numbers anywhere, and no run of 12 digits
// outside the hex hashes.
func checkNoLeak(t *testing.T, res Result, numbers []string) {
	t.Helper()
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	printed := fmt.Sprintf("%v %+v %#v", res, res, res)
	for _, out := range []string{string(js), printed} {
		for _, n := range numbers {
			if strings.Contains(out, n) {
				t.Fatalf("a number from the input appears in the output")
			}
		}
		stripped := out
		for _, h := range append(res.MyNumber.Hashes, res.CorporateNumber.Hashes...) {
			stripped = strings.ReplaceAll(stripped, h, "")
		}
		if digitRun.MatchString(stripped) {
			t.Fatalf("a run of 12 digits appears in the output outside the hashes")
		}
	}
}

func TestResultNeverShowsANumber(t *testing.T) {
	d := testDetector(t)
	r := rand.New(rand.NewPCG(17, 17))
	for range iterations(t, 500) {
		in := randomInput(r)
		var nums []string
		s := d.NewStream()
		s.onMatch = func(m match, _ bool) { nums = append(nums, string(m.dig[:m.n])) }
		s.scanAll(in)
		checkNoLeak(t, s.Result(), nums)
	}
}
