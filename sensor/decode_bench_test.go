package sensor

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

// sampledWrite is a write record of a tainted process with a 4 KiB sample,
// the most frequent large record.
func sampledWrite() []byte {
	b := fileRec(event.OpFileWrite, 4, 0, "/var/tmp/out/copy.csv", "", "", "")
	sample := bytes.Repeat([]byte("bansho overhead benchmark payload line\n"), 106)[:4096]
	binary.LittleEndian.PutUint16(b[hdrSize+procSize+86:], uint16(len(sample)))
	b = append(b, sample...)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// Repeated records share their strings: the second decode of the same
// path and comm allocates neither.
func TestDecodeSharesStrings(t *testing.T) {
	d := Decoder{Clock: fixedClock{}}
	rec := sampledWrite()
	var a, b event.Event
	if err := d.Decode(rec, &a); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := d.Decode(rec, &b); err != nil {
			t.Fatal(err)
		}
	})
	// The File and the sample copy; nothing for path and comm.
	if allocs > 2 {
		t.Errorf("%v allocations per repeated decode, want at most 2 (file, sample)", allocs)
	}
	if b.File.Path != "/var/tmp/out/copy.csv" || b.Proc.Comm != "cat" || len(b.Sample) != 4096 {
		t.Errorf("decoded %q %q %d", b.File.Path, b.Proc.Comm, len(b.Sample))
	}
	rec[len(rec)-1] = 'X' // the sample must be a copy, not the reader's buffer
	if b.Sample[4095] == 'X' {
		t.Error("the sample aliases the record")
	}
}

func BenchmarkDecodeSampledWrite(b *testing.B) {
	d := Decoder{Clock: fixedClock{}}
	rec := sampledWrite()
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := d.Decode(rec, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// With AliasSamples (as Sensor.Run decodes) the sample is the record's
// own bytes: no second copy.
func TestDecodeAliasesSamples(t *testing.T) {
	d := Decoder{Clock: fixedClock{}, AliasSamples: true}
	rec := sampledWrite()
	var ev event.Event
	if err := d.Decode(rec, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Sample) != 4096 || &ev.Sample[0] != &rec[len(rec)-4096] {
		t.Errorf("sample of %d bytes is not the record's tail", len(ev.Sample))
	}
}
