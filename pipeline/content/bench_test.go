package content

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// Benchmark inputs, built once: 4 MiB each.
const benchSize = 4 << 20

var (
	benchOnce sync.Once
	benchData map[string][]byte
)

func benchInputs() map[string][]byte {
	benchOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 1))
		fill := func(f func() string) []byte {
			var b strings.Builder
			for b.Len() < benchSize {
				b.WriteString(f())
			}
			return []byte(b.String()[:benchSize])
		}
		ja := fill(func() string { return prose(r, true, 4096) })
		benchData = map[string][]byte{
			"english":  fill(func() string { return prose(r, false, 4096) }),
			"japanese": ja,
			"cp932":    encodeText(string(ja[:len(ja)-4096]), tCP932), // cut clear of a split character
			"utf16le":  encodeText(string(ja[:len(ja)/2-4096]), tUTF16LE),
		}
		// A dense CSV: every row holds an individual and a corporate number.
		var b strings.Builder
		b.WriteString("id,name,my_number,corporate_number,amount\n")
		for i := 0; b.Len() < benchSize; i++ {
			b.WriteString(strings.Repeat("x", i%3))
			b.WriteString(",yamada,")
			b.WriteString(genMyNumber(r))
			b.WriteByte(',')
			b.WriteString(genCorporate(r))
			b.WriteString(",1200\n")
		}
		benchData["dense-csv"] = []byte(b.String())
	})
	return benchData
}

// benchStream feeds the input in 64 KiB writes to one reused Stream.
func benchStream(b *testing.B, name string) {
	in := benchInputs()[name]
	d := testDetector(b)
	s := d.NewStream()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Reset()
		for p := in; len(p) > 0; {
			n := min(len(p), 64<<10)
			s.Write(p[:n])
			p = p[n:]
		}
	}
}

func BenchmarkStreamEnglish(b *testing.B)  { benchStream(b, "english") }
func BenchmarkStreamJapanese(b *testing.B) { benchStream(b, "japanese") }
func BenchmarkStreamCP932(b *testing.B)    { benchStream(b, "cp932") }
func BenchmarkStreamUTF16LE(b *testing.B)  { benchStream(b, "utf16le") }
func BenchmarkStreamDenseCSV(b *testing.B) { benchStream(b, "dense-csv") }

// BenchmarkScanEnglish measures the one-shot path, pooled streams included.
func BenchmarkScanEnglish(b *testing.B) {
	in := benchInputs()["english"]
	d := testDetector(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		d.Scan(in)
	}
}
