package content

import (
	"bytes"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/width"
)

// PII kinds that, next to a My Number, make misuse possible. They are
// reported by name, never with the text that showed them.
const (
	PIIName        = "name"
	PIIBirthDate   = "birth_date"
	PIIAddress     = "address"
	PIIPhone       = "phone"
	PIIBankAccount = "bank_account"
)

// PIIKinds lists every kind PIITypes reports, in the order it reports them.
var PIIKinds = []string{PIIName, PIIBirthDate, PIIAddress, PIIPhone, PIIBankAccount}

// Indexes in PIIKinds.
const (
	piiName = iota
	piiBirth
	piiAddr
	piiPhone
	piiBank
	numPII
)

// DecodeText turns bytes of unknown encoding into text, the way the
// detector's encodings are told apart: a BOM, then zero bytes at even or
// odd offsets (UTF-16), then UTF-8 (allowing a character cut at either
// end, as samples are), then CP932 (Shift_JIS). It reports the encoding
// it chose. Undecodable bytes become U+FFFD.
func DecodeText(p []byte) (string, string) {
	switch {
	case bytes.HasPrefix(p, []byte{0xEF, 0xBB, 0xBF}):
		return strings.ToValidUTF8(string(p[3:]), "\uFFFD"), "utf-8"
	case bytes.HasPrefix(p, []byte{0xFF, 0xFE}):
		return decodeUTF16(p[2:], false), "utf-16le"
	case bytes.HasPrefix(p, []byte{0xFE, 0xFF}):
		return decodeUTF16(p[2:], true), "utf-16be"
	}
	var even, odd int
	for i := bytes.IndexByte(p, 0); i >= 0 && i < len(p); i++ {
		if p[i] == 0 {
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
	if utf8.Valid(p) {
		return string(p), "utf-8"
	}
	if mostlyUTF8(p) {
		return strings.ToValidUTF8(string(p), "\uFFFD"), "utf-8"
	}
	if out, err := japanese.ShiftJIS.NewDecoder().Bytes(p); err == nil {
		return string(out), "cp932"
	}
	// A sample cut inside a double-byte character: decode what is whole.
	for cut := 1; cut <= 2 && cut < len(p); cut++ {
		if out, err := japanese.ShiftJIS.NewDecoder().Bytes(p[:len(p)-cut]); err == nil {
			return string(out), "cp932"
		}
	}
	return strings.ToValidUTF8(string(p), "\uFFFD"), "unknown"
}

// mostlyUTF8: valid UTF-8 but for a character cut at the start or end.
func mostlyUTF8(p []byte) bool {
	for i := 0; i < 3 && len(p) > 0 && !utf8.RuneStart(p[0]); i++ {
		p = p[1:]
	}
	for i := 0; i < 3 && len(p) > 0; i++ {
		if utf8.Valid(p) {
			return true
		}
		p = p[:len(p)-1]
	}
	return utf8.Valid(p)
}

func decodeUTF16(p []byte, be bool) string {
	u := make([]uint16, 0, len(p)/2)
	for i := 0; i+1 < len(p); i += 2 {
		if be {
			u = append(u, uint16(p[i])<<8|uint16(p[i+1]))
		} else {
			u = append(u, uint16(p[i+1])<<8|uint16(p[i]))
		}
	}
	return string(utf16.Decode(u))
}

var (
	// Column headings and labels; matched on text folded to half-width
	// and lower case.
	piiKeywords = map[string][]string{
		PIIName:        {"氏名", "名前", "フリガナ", "ふりがな", "姓名", "カナ氏名", "name", "full name", "family name"},
		PIIBirthDate:   {"生年月日", "誕生日", "birth", "dob"},
		PIIAddress:     {"住所", "所在地", "現住所", "address", "〒"},
		PIIPhone:       {"電話", "tel", "携帯", "phone", "mobile"},
		PIIBankAccount: {"口座", "銀行", "支店名", "普通預金", "当座預金", "振込先", "bank", "account number"},
	}
	// A date in the Japanese era calendar (昭和55年3月1日, S55.3.1, H2/1/1).
	reWareki = regexp.MustCompile(`(明治|大正|昭和|平成|令和|\b[mtshr])\s?(\d{1,2}|元)\s?[年./-]\s?\d{1,2}\s?[月./-]\s?\d{1,2}`)
	// A Gregorian date (1980-03-01, 1980/3/1, 1980年3月1日, 19800301 is
	// left out: eight digits are too often something else).
	reDate = regexp.MustCompile(`\b(19\d\d|20[0-2]\d)\s?[年./-]\s?(\d{1,2})\s?[月./-]\s?(\d{1,2})`)
	// A Japanese phone number: 0 and 9 more digits in groups (03-1234-5678),
	// or a mobile's 11 digits (090-1234-5678, 09012345678).
	rePhone = regexp.MustCompile(`(^|[^\d-])(0\d{1,4}-\d{1,4}-\d{3,4}|0[5789]0\d{8}|\(0\d{1,4}\)\s?\d{1,4}-\d{4})($|[^\d-])`)
	// A postal code with its mark, or a prefecture followed by a city,
	// ward, town or village.
	rePostal     = regexp.MustCompile(`〒\s?\d{3}-?\d{4}`)
	rePrefecture = regexp.MustCompile(`(北海道|東京都|大阪府|京都府|(青森|岩手|宮城|秋田|山形|福島|茨城|栃木|群馬|埼玉|千葉|神奈川|新潟|富山|石川|福井|山梨|長野|岐阜|静岡|愛知|三重|滋賀|兵庫|奈良|和歌山|鳥取|島根|岡山|広島|山口|徳島|香川|愛媛|高知|福岡|佐賀|長崎|熊本|大分|宮崎|鹿児島|沖縄)県)\S{1,8}?[市区町村郡]`)
	// A bank account: a deposit type followed by a 7-digit account number.
	reAccount = regexp.MustCompile(`(普通|当座|貯蓄)\S{0,4}[\s,:：]*\d{7}($|\D)`)
)

// piiByFirst holds the keywords by their first character, and piiFirst
// is the set of those characters and of the anchors' (all in the BMP),
// for the one pass.
var (
	piiByFirst = map[rune][]piiKW{}
	piiFirst   [1 << 10]uint64
)

type piiKW struct {
	kind int // index in PIIKinds
	kw   string
}

// The anchors the value shapes are looked for around, by the bit the one
// pass sets when their first character is in the text: without it,
// around would search the whole text in vain.
const (
	anchorEra     = 1 << iota // 明治 大正 昭和 平成 令和
	anchorPostal              // 〒
	anchorPref                // 都 道 府 県
	anchorDeposit             // 普通 当座 貯蓄
)

var anchorRunes = map[rune]int{
	'明': anchorEra, '大': anchorEra, '昭': anchorEra, '平': anchorEra, '令': anchorEra,
	'〒': anchorPostal,
	'都': anchorPref, '道': anchorPref, '府': anchorPref, '県': anchorPref,
	'普': anchorDeposit, '当': anchorDeposit, '貯': anchorDeposit,
}

func init() {
	for kind, kws := range piiKeywords {
		for _, kw := range kws {
			r, _ := utf8.DecodeRuneInString(kw)
			piiByFirst[r] = append(piiByFirst[r], piiKW{slices.Index(PIIKinds, kind), kw})
			piiFirst[r>>6] |= 1 << (r & 63)
		}
	}
	for r := range anchorRunes {
		piiFirst[r>>6] |= 1 << (r & 63)
	}
}

// PIITypes reports which kinds of personal information besides numbers
// the start of the bytes shows: names, birth dates, addresses, phone numbers and bank
// accounts, from column headings and labels (氏名, 生年月日, 住所, 電話,
// 口座 and their English forms) and from the shape of the values (dates
// in the era calendar, Gregorian dates in years people are born in,
// phone numbers, postal codes, a prefecture and city, a deposit type and
// account number). The encoding is found as DecodeText finds it. It is
// meant for data already known to hold My Numbers: alone, a heading or a
// date says little.
func PIITypes(p []byte) []string {
	if len(p) == 0 {
		return nil
	}
	if len(p) > piiScan {
		// piiScan bytes decode to at least piiScan bytes of text in
		// every encoding read here (UTF-16 and CP932 grow in UTF-8); a
		// character cut at the end decodes as U+FFFD.
		p = p[:piiScan]
	}
	text, _ := DecodeText(p)
	return PIITypesText(text)
}

// piiScan bounds the text PIITypesText reads: the headings and the first
// rows of a roster are at its start, and reading 4 KiB of a sample for
// every write of a stream with numbers cost more than the rest of the
// document's path.
const piiScan = 1536

// PIITypesText is PIITypes over decoded text; it reads the first
// piiScan bytes.
func PIITypesText(text string) []string {
	if len(text) > piiScan {
		cut := piiScan
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	folded := asciiLower(foldWidth(text))
	var found [numPII]bool // by PIIKinds index
	anchors := 0
	// One pass over the text: at each character that starts a keyword,
	// the keywords that start with it; and which anchors' first
	// characters it holds.
	for i, r := range folded {
		if r >= 1<<16 || piiFirst[r>>6]&(1<<(r&63)) == 0 {
			continue
		}
		if r >= 0x80 {
			anchors |= anchorRunes[r]
		}
		for _, k := range piiByFirst[r] {
			if !found[k.kind] && strings.HasPrefix(folded[i:], k.kw) &&
				(k.kw[0] >= 0x80 || (i == 0 || !isWordByte(folded[i-1])) &&
					(i+len(k.kw) == len(folded) || !isWordByte(folded[i+len(k.kw)]))) {
				found[k.kind] = true
			}
		}
	}
	// The value shapes: each regexp runs only on short windows around
	// the places that can start a match (a four-digit year, a leading 0,
	// an era name, 〒, 都道府県, a deposit type), never over the whole
	// sample. Over a 4 KiB roster sample that is the difference between
	// about a millisecond and a few microseconds.
	if !found[piiBirth] && (hasWareki(folded, anchors&anchorEra != 0) || hasBirthDate(folded)) {
		found[piiBirth] = true
	}
	if !found[piiPhone] && hasPhone(folded) {
		found[piiPhone] = true
	}
	if !found[piiAddr] && (anchors&anchorPostal != 0 && around(folded, []string{"〒"}, 0, 16, rePostal) ||
		anchors&anchorPref != 0 && around(folded, []string{"都", "道", "府", "県"}, 24, 40, rePrefecture)) {
		found[piiAddr] = true
	}
	if !found[piiBank] && anchors&anchorDeposit != 0 && around(folded, []string{"普通", "当座", "貯蓄"}, 0, 48, reAccount) {
		found[piiBank] = true
	}
	var out []string
	for i, k := range PIIKinds {
		if found[i] {
			out = append(out, k)
		}
	}
	return out
}

// foldWidth is width.Fold.String(s) without its allocation when the fold
// changes nothing, as in text without full-width ASCII or half-width
// kana. s is at most piiScan bytes.
func foldWidth(s string) string {
	buf := foldBufs.Get().(*[piiScan]byte)
	defer foldBufs.Put(buf)
	if n := copy(buf[:], s); n == len(s) {
		if m, err := width.Fold.Span(buf[:n], true); m == n && err == nil {
			return s
		}
	}
	return width.Fold.String(s)
}

// foldBufs: Span takes bytes, and a buffer on the stack escapes.
var foldBufs = sync.Pool{New: func() any { return new([piiScan]byte) }}

// asciiLower lowers A-Z only: the keywords' letters are ASCII (after the
// width fold), and unicode.ToLower on every kana and kanji was a fifth of
// the cost.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && !(s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if b[i] >= 'A' && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
}

// window is s[from:to] clipped to s.
func window(s string, from, to int) string {
	return s[max(from, 0):min(to, len(s))]
}

// around reports whether re matches in a window of s around any
// occurrence of an anchor: before bytes before it, after bytes after its
// start.
func around(s string, anchors []string, before, after int, re *regexp.Regexp) bool {
	for _, a := range anchors {
		for i := 0; ; {
			j := strings.Index(s[i:], a)
			if j < 0 {
				break
			}
			j += i
			if re.MatchString(window(s, j-before, j+after)) {
				return true
			}
			i = j + len(a)
		}
	}
	return false
}

// digitRuns calls fn with the start and end of each run of ASCII digits
// until fn returns true.
func digitRuns(s string, fn func(i, j int) bool) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if fn(i, j) {
			return true
		}
		i = j
	}
	return false
}

// hasBirthDate: a Gregorian date in a year people on a roster were born
// in (not a timestamp of this decade), from each four-digit 19xx or 20xx.
func hasBirthDate(s string) bool {
	return digitRuns(s, func(i, j int) bool {
		if j-i != 4 || !(s[i:i+2] == "19" || s[i:i+2] == "20") {
			return false
		}
		for _, m := range reDate.FindAllStringSubmatch(window(s, i-1, j+16), 2) {
			y, _ := strconv.Atoi(m[1])
			mo, _ := strconv.Atoi(m[2])
			d, _ := strconv.Atoi(m[3])
			if y < 2015 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 {
				return true
			}
		}
		return false
	})
}

// hasPhone: from each run of digits that starts with 0.
func hasPhone(s string) bool {
	return digitRuns(s, func(i, j int) bool {
		// 0 and a group then '-' (03-1234-5678), or a mobile's 11
		// digits, or "(0" (a bracketed area code); nothing else starts
		// a phone number.
		paren := i > 0 && s[i-1] == '('
		if s[i] != '0' || !(paren || j < len(s) && s[j] == '-' || j-i == 11) {
			return false
		}
		from := i - 1
		if from >= 0 && s[from] == '(' {
			from--
		}
		w := window(s, from, i+20)
		return phoneStart(w) && rePhone.MatchString(w)
	})
}

// phoneStart reports whether rePhone could match in w: only from a 0 or
// "(0" at the start of w or after a byte that is neither a digit nor '-'
// (a byte of a multibyte character is neither).
func phoneStart(w string) bool {
	for q := 0; q < len(w); q++ {
		if (w[q] == '0' || w[q] == '(' && q+1 < len(w) && w[q+1] == '0') &&
			(q == 0 || !(w[q-1] >= '0' && w[q-1] <= '9' || w[q-1] == '-')) {
			return true
		}
	}
	return false
}

// eras are the era names reWareki knows, and the letters of their short
// forms.
var eras = []string{"明治", "大正", "昭和", "平成", "令和"}

// hasWareki: a date in the era calendar, from each era name or each
// letter m, t, s, h, r that starts a word and is followed by a digit.
// eraRunes says the text holds the first character of an era name.
func hasWareki(s string, eraRunes bool) bool {
	if eraRunes && around(s, eras, 0, 40, reWareki) {
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
