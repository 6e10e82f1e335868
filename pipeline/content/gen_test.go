package content

import (
	"math/rand/v2"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding/japanese"
)

// Test data generators. Numbers are made up with valid (or deliberately
// invalid) check digits from a seeded generator; none is a real person's.

// genMyNumber returns 12 ASCII digits with a valid check digit.
func genMyNumber(r *rand.Rand) string {
	var v [12]byte
	for i := range 11 {
		v[i] = byte(r.IntN(10))
	}
	v[11] = myNumberCheck(v)
	return digitsString(v[:])
}

// genCorporate returns 13 ASCII digits with a valid check digit.
func genCorporate(r *rand.Rand) string {
	var v [13]byte
	for i := 1; i < 13; i++ {
		v[i] = byte(r.IntN(10))
	}
	v[0] = corporateCheck(v)
	return digitsString(v[:])
}

// corrupt changes the check digit of a number of kind k so it fails.
func corrupt(k Kind, s string) string {
	b := []byte(s)
	i := 11
	if k == CorporateNumber {
		i = 0
	}
	b[i] = '0' + (b[i]-'0'+1+byte(len(s)))%10
	if k == CorporateNumber && b[i] == '0' { // 0 is never a corporate check digit
		b[i] = '0' + (b[i]-'0'+1)%10
	}
	if s2 := string(b); refCheck(k, s2) {
		b[i] = '0' + (b[i]-'0'+1)%10
	}
	return string(b)
}

func digitsString(v []byte) string {
	b := make([]byte, len(v))
	for i, d := range v {
		b[i] = '0' + d
	}
	return string(b)
}

// formatNumber lays out digits plain or grouped with sep, in half- or
// full-width digits, as Unicode text.
func formatNumber(digits string, grouped bool, sep rune, full bool) string {
	var b strings.Builder
	var cuts []int
	if grouped {
		if len(digits) == 13 {
			cuts = []int{1, 5, 9}
		} else {
			cuts = []int{4, 8}
		}
	}
	for i := 0; i < len(digits); i++ {
		if len(cuts) > 0 && i == cuts[0] {
			b.WriteRune(sep)
			cuts = cuts[1:]
		}
		d := rune(digits[i])
		if full {
			d += 0xFF10 - '0'
		}
		b.WriteRune(d)
	}
	return b.String()
}

// Encodings the corpus and property tests write text in.
const (
	tASCII = iota
	tUTF8
	tCP932
	tUTF16LE
	tUTF16BE
	numTestEnc
)

var testEncNames = [numTestEnc]string{"ascii", "utf-8", "cp932", "utf-16le", "utf-16be"}

// encodeText encodes Unicode text. CP932 uses golang.org/x/text, an
// encoder independent of the detector's tables; it has no U+2212, which
// CP932 writes as 0x817C like U+FF0D.
func encodeText(s string, enc int) []byte {
	switch enc {
	case tASCII, tUTF8:
		return []byte(s)
	case tCP932:
		s = strings.ReplaceAll(s, "\u2212", "\uFF0D")
		b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
		if err != nil {
			panic("test text not encodable in CP932: " + err.Error())
		}
		return b
	case tUTF16LE, tUTF16BE:
		u := utf16.Encode([]rune(s))
		b := make([]byte, 0, 2*len(u))
		for _, x := range u {
			if enc == tUTF16LE {
				b = append(b, byte(x), byte(x>>8))
			} else {
				b = append(b, byte(x>>8), byte(x))
			}
		}
		return b
	}
	panic("unknown test encoding")
}

var separators = []rune{'-', ' ', '.', '\uFF0D', '\u2212', '\u30FC', '\u3000'}

var englishWords = strings.Fields(`the of and to in is for on that with as by this be are
from at or an it not was which have has all report page total amount date
customer order invoice payment account number id name address city tel fax
email status pending shipped delivered returned version build release notes
January February March April May June July August September October November
December Monday Tuesday Wednesday Thursday Friday price tax subtotal qty
unit item description reference section chapter figure table summary`)

var japaneseWords = strings.Fields(`これは 日本語 の 文章 です 会社 部署 担当者 住所 電話 番号
お客様 ご注文 ありがとう ございます 請求書 領収書 見積書 納品書 発行日 支払期限
東京都 大阪府 千代田区 株式会社 有限会社 営業部 総務部 経理部 人事部 山田 太郎
佐藤 花子 鈴木 一郎 田中 高橋 渡辺 伊藤 中村 小林 加藤 吉田 山本 年 月 日
今日 明日 昨日 会議 資料 確認 お願い いたします よろしく 申し上げます 以上
データ システム サーバー ネットワーク ファイル フォルダ バックアップ 設定
は が を に で と も から まで より へ や の 、 。 「 」 （ ） ・`)

// prose returns about n characters of made-up text in English or Japanese,
// with no digits.
func prose(r *rand.Rand, japanese bool, n int) string {
	var b strings.Builder
	words := englishWords
	if japanese {
		words = japaneseWords
	}
	for chars := 0; chars < n; {
		w := words[r.IntN(len(words))]
		b.WriteString(w)
		chars += len([]rune(w))
		if japanese {
			if r.IntN(12) == 0 {
				b.WriteString("。\n")
				chars += 2
			}
		} else {
			if r.IntN(14) == 0 {
				b.WriteString(".\n")
				chars += 2
			} else {
				b.WriteByte(' ')
				chars++
			}
		}
	}
	return b.String()
}
