package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/content"
)

// benchRecords are 64 records of about 512 bytes with three My Numbers
// each, as bench/throughput's load writes them (loadRecords).
func benchRecords() [][]byte {
	nums := validNumbers(192)
	var out [][]byte
	for r := range 64 {
		var b strings.Builder
		b.WriteString("社員番号,氏名,生年月日,個人番号,部署\n")
		for k := range 3 {
			fmt.Fprintf(&b, "%06d,従業員%03d,19%02d-%02d-%02d,%s,経理部 第%d課\n",
				r*3+k, r*3+k, 60+(r+k)%40, 1+k*4, 1+r%28, nums[r*3+k], k+1)
		}
		for b.Len() < 512 {
			b.WriteString("# 備考: 年末調整のための扶養控除等申告書より転記\n")
		}
		out = append(out, []byte(b.String()))
	}
	return out
}

// BenchmarkContentScanRecord: what the content scanner costs per write
// under bench/throughput's load: a tainted process writes record i%64 to
// file export-(i%1000).csv, so each of 1,000 streams sees 8 records.
func BenchmarkContentScanRecord(b *testing.B) {
	det, err := content.NewDetector(content.Config{HashKey: []byte("bench-key-0123456789abcdef")})
	if err != nil {
		b.Fatal(err)
	}
	c := &ContentScanner{Detector: det, SampleBytes: 4096}
	recs := benchRecords()
	evs := make([]*event.Event, 1000)
	for f := range evs {
		evs[f] = &event.Event{Op: event.OpFileWrite, Flags: event.FlagTainted, Time: time.Unix(1764547200, 0),
			Proc: event.Process{PID: 4242, TID: 4242, PPID: 1, UID: 1000, EUID: 1000, StartBoot: 1e9, Comm: "load"},
			File: &event.File{Syscall: 1, FD: 3, Pos: 0, Dev: 8 << 20, Ino: uint64(5000 + f), IMode: 0o100600,
				Path: fmt.Sprintf("/var/tmp/out/export-%d.csv", f)}}
	}
	i := 0
	scan := func() {
		ev, rec := evs[i%len(evs)], recs[i%len(recs)]
		ev.Sample, ev.Content = rec, nil
		ev.File.Ret, ev.File.Count = int64(len(rec)), uint64(len(rec))
		c.Scan(ev)
		i++
	}
	// Warm up to the steady state: every stream has had its 8 records
	// (24 distinct numbers).
	for range 8000 {
		scan()
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		scan()
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if c.MyNumberHits.Load() == 0 {
		b.Fatal("no My Number found")
	}
}
