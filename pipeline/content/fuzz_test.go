package content

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func fuzzSeeds() [][]byte {
	r := rand.New(rand.NewPCG(18, 18))
	seeds := [][]byte{
		[]byte("マイナンバー 1234-5678-9018, 4011001098993\n"),
		encodeText("個人番号\t１２３４ー５６７８ー９０１８\r\n", tCP932),
		encodeText("\uFEFFmy number: 123456789018", tUTF16LE),
		encodeText("法人番号 7-0000-1205-0002", tUTF16BE),
	}
	for range 16 {
		seeds = append(seeds, randomInput(r))
	}
	return seeds
}

// FuzzScan: any input is scanned without panicking, the matches are the
// reference's, and no number shows in the result.
func FuzzScan(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	d, err := NewDetector(Config{HashKey: testKey})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, res := fastScan(d, data)
		if want := refScan(data); !slices.Equal(got, want) {
			t.Fatalf("detector and reference differ\n got: %v\nwant: %v", got, want)
		}
		nums := make([]string, len(got))
		for i, m := range got {
			nums[i] = m.digits
		}
		checkNoLeak(t, res, nums)
	})
}

// FuzzStream: any input written in three pieces, split anywhere, gives the
// one-shot result.
func FuzzStream(f *testing.F) {
	for i, s := range fuzzSeeds() {
		f.Add(s, uint16(i*7), uint16(i*31))
	}
	d, err := NewDetector(Config{HashKey: testKey, MaxHashes: 4})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		want := d.Scan(data)
		i, j := 0, 0
		if len(data) > 0 {
			i, j = int(a)%(len(data)+1), int(b)%(len(data)+1)
		}
		i, j = min(i, j), max(i, j)
		s := d.NewStream()
		s.Write(data[:i])
		s.Write(data[i:j])
		mid := s.Result()
		s.Write(data[j:])
		if got := s.Result(); !reflect.DeepEqual(got, want) {
			t.Fatalf("split at %d and %d: stream result differs\n got: %+v\nwant: %+v", i, j, got, want)
		}
		var nums []string
		for _, m := range refScan(data) {
			nums = append(nums, m.digits)
		}
		checkNoLeak(t, mid, nums)
		checkNoLeak(t, want, nums)
	})
}
