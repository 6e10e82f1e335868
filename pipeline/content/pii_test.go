package content

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/encoding/japanese"
)

func TestPIITypes(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []string
	}{
		{"roster header", "社員番号,氏名,生年月日,住所,電話番号,個人番号\n", []string{PIIName, PIIBirthDate, PIIAddress, PIIPhone}},
		{"english header", "id,Full Name,Date of Birth,Address,Phone,Bank,my number\n", []string{PIIName, PIIBirthDate, PIIAddress, PIIPhone, PIIBankAccount}},
		{"wareki", "山田,昭和55年3月1日\n", []string{PIIBirthDate}},
		{"wareki short", "x,S55.3.1,y\n", []string{PIIBirthDate}},
		{"heisei gannen", "平成元年1月8日", []string{PIIBirthDate}},
		{"iso birth", "a,1980-03-01,b\n", []string{PIIBirthDate}},
		{"recent timestamp is not a birth date", "2026-11-22T09:00:00Z log line\n", nil},
		{"phone", "a,03-1234-5678,b\n", []string{PIIPhone}},
		{"mobile", "a,09012345678,b\n", []string{PIIPhone}},
		{"postal", "〒100-0001 千代田1-1\n", []string{PIIAddress}},
		{"prefecture city", "神奈川県横浜市中区1-1\n", []string{PIIAddress}},
		{"account", "みずほ,本店,普通,1234567\n", []string{PIIBankAccount}},
		{"account kw", "振込先口座\n", []string{PIIBankAccount}},
		{"full-width", "ＴＥＬ：０３－１２３４－５６７８", []string{PIIPhone}},
		{"words only whole", "hotel filename renamed\n", nil},
		{"nothing", "123456789018\n", nil},
	}
	for _, c := range cases {
		if got := PIITypes([]byte(c.text)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPIITypesEncodings(t *testing.T) {
	text := "氏名,生年月日,住所\n山田太郎,昭和55年3月1日,東京都千代田区1-1\n"
	want := []string{PIIName, PIIBirthDate, PIIAddress}
	sjis, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	le, be := []byte{}, []byte{}
	for _, u := range utf16.Encode([]rune(text)) {
		le = append(le, byte(u), byte(u>>8))
		be = append(be, byte(u>>8), byte(u))
	}
	for name, b := range map[string][]byte{
		"utf-8": []byte(text), "utf-8 bom": append([]byte{0xEF, 0xBB, 0xBF}, text...),
		"cp932": sjis, "cp932 cut": sjis[:len(sjis)-3],
		"utf-16le": le, "utf-16le bom": append([]byte{0xFF, 0xFE}, le...), "utf-16be": be,
	} {
		got := PIITypes(b)
		if name == "cp932 cut" {
			// the address's 区 survives a cut of its last bytes
			want := []string{PIIName, PIIBirthDate, PIIAddress}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: got %v, want %v", name, got, want)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
}

// A roster export of the throughput bench's kind (3 rows, names, birth
// dates, departments, a remark): what the content stage pays per sample
// of a stream that holds numbers.
func BenchmarkPIITypesRoster(b *testing.B) {
	var s strings.Builder
	s.WriteString("社員番号,氏名,生年月日,個人番号,部署\n")
	for k := 0; k < 3; k++ {
		fmt.Fprintf(&s, "%06d,従業員%03d,1980-01-%02d,%s,経理部 第%d課\n", k, k, k+1, "123456789018", k+1)
	}
	for s.Len() < 4096 {
		s.WriteString("# 備考: 年末調整のための扶養控除等申告書より転記\n")
	}
	p := []byte(s.String())
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		PIITypes(p)
	}
}
