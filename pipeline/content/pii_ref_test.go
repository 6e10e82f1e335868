package content

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/width"
)

// The implementation PIITypes had before its fast paths (anchors looked
// for in the one pass, the width fold skipped when it changes nothing,
// the phone prefilter), kept to check they change no answer.

func refDecodeText(p []byte) (string, string) {
	switch {
	case bytes.HasPrefix(p, []byte{0xEF, 0xBB, 0xBF}):
		return strings.ToValidUTF8(string(p[3:]), "\uFFFD"), "utf-8"
	case bytes.HasPrefix(p, []byte{0xFF, 0xFE}):
		return decodeUTF16(p[2:], false), "utf-16le"
	case bytes.HasPrefix(p, []byte{0xFE, 0xFF}):
		return decodeUTF16(p[2:], true), "utf-16be"
	}
	var even, odd int
	for i, c := range p {
		if c == 0 {
			if i%2 == 0 {
				even++
			} else {
				odd++
			}
		}
	}
	if n := len(p) / 2; n >= 4 && (odd > n/4 || even > n/4) {
		if odd >= even {
			return decodeUTF16(p, false), "utf-16le"
		}
		return decodeUTF16(p, true), "utf-16be"
	}
	if mostlyUTF8(p) {
		return strings.ToValidUTF8(string(p), "\uFFFD"), "utf-8"
	}
	if out, err := japanese.ShiftJIS.NewDecoder().Bytes(p); err == nil {
		return string(out), "cp932"
	}
	for cut := 1; cut <= 2 && cut < len(p); cut++ {
		if out, err := japanese.ShiftJIS.NewDecoder().Bytes(p[:len(p)-cut]); err == nil {
			return string(out), "cp932"
		}
	}
	return strings.ToValidUTF8(string(p), "\uFFFD"), "unknown"
}

func refPIITypes(p []byte) []string {
	if len(p) == 0 {
		return nil
	}
	if len(p) > piiScan {
		p = p[:piiScan]
	}
	text, _ := refDecodeText(p)
	return refPIITypesText(text)
}

func refPIITypesText(text string) []string {
	if len(text) > piiScan {
		cut := piiScan
		for cut > 0 && !utf8RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	folded := asciiLower(width.Fold.String(text))
	found := map[string]bool{}
	for i := range len(folded) {
		for kind, kws := range piiKeywords {
			for _, kw := range kws {
				if !found[kind] && strings.HasPrefix(folded[i:], kw) &&
					(kw[0] >= 0x80 || (i == 0 || !isWordByte(folded[i-1])) &&
						(i+len(kw) == len(folded) || !isWordByte(folded[i+len(kw)]))) {
					found[kind] = true
				}
			}
		}
	}
	if !found[PIIBirthDate] && (refHasWareki(folded) || hasBirthDate(folded)) {
		found[PIIBirthDate] = true
	}
	if !found[PIIPhone] && refHasPhone(folded) {
		found[PIIPhone] = true
	}
	if !found[PIIAddress] && (around(folded, []string{"〒"}, 0, 16, rePostal) ||
		around(folded, []string{"都", "道", "府", "県"}, 24, 40, rePrefecture)) {
		found[PIIAddress] = true
	}
	if !found[PIIBankAccount] && around(folded, []string{"普通", "当座", "貯蓄"}, 0, 48, reAccount) {
		found[PIIBankAccount] = true
	}
	var out []string
	for _, k := range PIIKinds {
		if found[k] {
			out = append(out, k)
		}
	}
	return out
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func refHasPhone(s string) bool {
	return digitRuns(s, func(i, j int) bool {
		paren := i > 0 && s[i-1] == '('
		if s[i] != '0' || !(paren || j < len(s) && s[j] == '-' || j-i == 11) {
			return false
		}
		from := i - 1
		if from >= 0 && s[from] == '(' {
			from--
		}
		return rePhone.MatchString(window(s, from, i+20))
	})
}

func refHasWareki(s string) bool {
	if around(s, eras, 0, 40, reWareki) {
		return true
	}
	for i := 0; i+1 < len(s); i++ {
		switch s[i] {
		case 'm', 't', 's', 'h', 'r':
		default:
			continue
		}
		if i > 0 && isWordByte(s[i-1]) {
			continue
		}
		k := i + 1
		if s[k] == ' ' && k+1 < len(s) {
			k++
		}
		if (s[k] >= '0' && s[k] <= '9' || strings.HasPrefix(s[k:], "元")) && reWareki.MatchString(window(s, i-1, i+24)) {
			return true
		}
	}
	return false
}

// piiFragments are pieces of text PIITypes reacts to, and near misses.
var piiFragments = func() []string {
	f := []string{
		"〒", "〒100-0001", "〒 1000001", "都", "道", "府", "県", "東京都千代田区", "神奈川県横浜市", "北海道札幌市", "大阪府",
		"明治", "大正", "昭和", "平成", "令和", "元", "年", "月", "日", "明", "大", "平", "昭和55年3月1日", "平成元年1月8日",
		"S55.3.1", "h2/1/1", " r 3-4-5", "1980-03-01", "1980年3月1日", "2026-11-22", "19", "20", "1972-05-13",
		"03-1234-5678", "090-1234-5678", "09012345678", "(03)1234-5678", "(0", "0", "-0", "-05-13", "012", "0120-",
		"普通", "当座", "貯蓄", "普通預金", "1234567", "普通 1234567", "口座", "銀行",
		"ＴＥＬ", "０３－１２３４－５６７８", "ｶﾅｼﾒｲ", "ﾌﾘｶﾞﾅ", "\u3000", "Full Name", "NAME", "name", "names", "birth", "dob",
		"Address", "tel", "hotel", "phone", "mobile", "bank", "account number", "_", "a",
		"社員番号", "従業員012", "経理部 第1課", "# 備考: 年末調整のための扶養控除等申告書より転記",
		",", "\n", " ", "-", "/", ".", "(", ")", ":", "：", "\xff", "\xe3\x81", "\x00", "\U0001F600",
	}
	for k := range PIIKinds {
		f = append(f, piiKeywords[PIIKinds[k]]...)
	}
	return f
}()

func randomPIIText(r *rand.Rand) string {
	var b strings.Builder
	for n := r.IntN(16); n > 0; n-- {
		switch r.IntN(4) {
		case 0:
			for d := r.IntN(13); d > 0; d-- {
				b.WriteByte('0' + byte(r.IntN(10)))
			}
		default:
			b.WriteString(piiFragments[r.IntN(len(piiFragments))])
		}
	}
	s := b.String()
	if len(s) > 0 && r.IntN(4) == 0 { // a sample cut anywhere
		s = s[r.IntN(len(s)):]
	}
	return s
}

// The fast paths change no answer: PIITypes, PIITypesText and DecodeText
// agree with the reference implementation on random text in every
// encoding, cut anywhere.
func TestPIITypesMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 21))
	n := 5000
	if testing.Short() {
		n = 1000
	}
	for i := range n {
		s := randomPIIText(r)
		if i%500 == 0 { // past piiScan
			for len(s) < 2*piiScan {
				s += randomPIIText(r)
			}
		}
		checkPIIReference(t, s)
	}
}

func FuzzPIITypes(f *testing.F) {
	for _, s := range []string{"氏名,生年月日\n山田,昭和55年3月1日,03-1234-5678\n", "ＴＥＬ：０３－１２３４－５６７８", "a,1972-05-13,0123\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkPIIReference(t, s) })
}

func checkPIIReference(t *testing.T, s string) {
	t.Helper()
	if got, want := PIITypesText(s), refPIITypesText(s); !slices.Equal(got, want) {
		t.Fatalf("PIITypesText(%q) = %v, reference %v", s, got, want)
	}
	encs := [][]byte{[]byte(s)}
	if b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s)); err == nil {
		encs = append(encs, b)
	}
	le, be := []byte{}, []byte{}
	for _, u := range utf16.Encode([]rune(s)) {
		le = append(le, byte(u), byte(u>>8))
		be = append(be, byte(u>>8), byte(u))
	}
	encs = append(encs, le, be)
	for _, p := range encs {
		gt, ge := DecodeText(p)
		wt, we := refDecodeText(p)
		if gt != wt || ge != we {
			t.Fatalf("DecodeText(%q) = %q, %s; reference %q, %s", p, gt, ge, wt, we)
		}
		if got, want := PIITypes(p), refPIITypes(p); !slices.Equal(got, want) {
			t.Fatalf("PIITypes(%q) = %v, reference %v", p, got, want)
		}
	}
}
