package incident

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/encoding/japanese"

	"github.com/bansho-sec/bansho/pipeline/content"
)

// ValidNumbers makes n individual numbers with correct check digits
// (test data only; never printed).
func validNumbers(n int, seed int64) []string {
	weights := []int{6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
	var out []string
	for i := 0; len(out) < n; i++ {
		v := seed + int64(i)*7919
		d := fmt.Sprintf("%011d", v%100000000000)
		sum := 0
		for j, w := range weights {
			sum += int(d[j]-'0') * w
		}
		cd := 0
		if r := sum % 11; r > 1 {
			cd = 11 - r
		}
		out = append(out, d+fmt.Sprint(cd))
	}
	return out
}

func TestAffected(t *testing.T) {
	det, err := content.NewDetector(content.Config{HashKey: []byte("roster test key")})
	if err != nil {
		t.Fatal(err)
	}
	nums := validNumbers(5, 31415926535)
	hash := func(n string) string { return det.Scan([]byte(n)).MyNumber.Hashes[0] }
	rep := &Report{Schema: Schema}
	rep.Hashes.MyNumber = []string{hash(nums[1]), hash(nums[3]), strings.Repeat("0", 64)}
	rep.Hashes.MyNumberPossible = []string{hash(nums[4])}
	var b strings.Builder
	b.WriteString("氏名,個人番号,部署\n")
	for i, n := range nums {
		fmt.Fprintf(&b, "社員%d,%s-%s-%s,総務\n", i+1, n[:4], n[4:8], n[8:])
	}
	sjis, _ := japanese.ShiftJIS.NewEncoder().Bytes([]byte(b.String()))
	var le []byte
	le = append(le, 0xFF, 0xFE)
	for _, u := range utf16.Encode([]rune(strings.ReplaceAll(b.String(), ",", "\t"))) {
		le = append(le, byte(u), byte(u>>8))
	}
	for name, data := range map[string][]byte{"utf-8": []byte(b.String()), "cp932": sjis, "utf-16 tab": le} {
		res, err := FindAffected(rep, data, det)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, r := range res.Rows {
			got = append(got, fmt.Sprintf("%d %s %s", r.Row, r.Status, strings.Join(r.Columns, "|")))
		}
		want := []string{"3 seen 社員2|****-****-****|総務", "5 seen 社員4|****-****-****|総務", "6 possible 社員5|****-****-****|総務"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rows\n got %q\nwant %q", name, got, want)
		}
		if !reflect.DeepEqual(res.Header, []string{"氏名", "個人番号", "部署"}) || res.NotInRoster != 1 || res.RosterRows != 6 || res.WithNumbers != 5 {
			t.Errorf("%s: %+v", name, res)
		}
		js, _ := json.Marshal(res)
		for _, n := range nums {
			if strings.Contains(string(js), n[8:]) {
				t.Errorf("%s: the output holds part of a number", name)
			}
		}
	}
}
