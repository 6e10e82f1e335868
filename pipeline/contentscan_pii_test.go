package pipeline

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/content"
)

// validNumbers makes n individual numbers with correct check digits.
func validNumbers(n int) []string {
	weights := []int{6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
	var out []string
	for i := 0; len(out) < n; i++ {
		base := []byte(strings.Repeat("0", 11))
		v := 31415926535 + int64(i)*7919
		for j := 10; j >= 0; j-- {
			base[j] = byte('0' + v%10)
			v /= 10
		}
		sum := 0
		for j, w := range weights {
			sum += int(base[j]-'0') * w
		}
		r := sum % 11
		cd := 0
		if r > 1 {
			cd = 11 - r
		}
		out = append(out, string(base)+string(rune('0'+cd)))
	}
	return out
}

func TestContentScannerPIITypes(t *testing.T) {
	det, err := content.NewDetector(content.Config{HashKey: []byte("test key")})
	if err != nil {
		t.Fatal(err)
	}
	c := &ContentScanner{Detector: det}
	mk := func(sample string, fd int32) *event.Event {
		return &event.Event{Op: event.OpFileWrite, Flags: event.FlagTainted, Time: time.Unix(1764547200, 0),
			Proc:   event.Process{PID: 4242, TID: 4242},
			File:   &event.File{FD: fd, Ret: int64(len(sample)), Pos: -1, Ino: 99, Path: "/tmp/x.csv"},
			Sample: []byte(sample)}
	}
	var rows strings.Builder
	rows.WriteString("氏名,生年月日,個人番号\n")
	for i, n := range validNumbers(3) {
		rows.WriteString("山田" + string(rune('A'+i)) + ",昭和55年3月1日," + n + "\n")
	}
	ev := mk(rows.String(), 4)
	c.Scan(ev)
	if ev.Content == nil || ev.Content.MyNumber.Distinct != 3 {
		t.Fatalf("content: %+v", ev.Content)
	}
	if want := []string{"name", "birth_date"}; !reflect.DeepEqual(ev.Content.PIITypes, want) {
		t.Errorf("pii_types %v, want %v", ev.Content.PIITypes, want)
	}
	// Kinds seen once stay on the stream's later events.
	ev2 := mk("more text, 03-1234-5678\n", 4)
	c.Scan(ev2)
	if want := []string{"name", "birth_date", "phone"}; !reflect.DeepEqual(ev2.Content.PIITypes, want) {
		t.Errorf("second write: pii_types %v, want %v", ev2.Content.PIITypes, want)
	}
	// A stream without numbers reports no kinds.
	ev3 := mk("氏名,生年月日\n山田,昭和55年3月1日\n", 5)
	c.Scan(ev3)
	if ev3.Content.PIITypes != nil {
		t.Errorf("no numbers: pii_types %v", ev3.Content.PIITypes)
	}
}
