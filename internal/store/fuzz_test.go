package store

import (
	"os"
	"path/filepath"
	"testing"
)

// Any bytes after the documents of the newest segment (a power cut at any
// moment, a disk returning garbage): opening recovers without error or
// panic, keeps every complete record before them, and verify afterwards
// finds the segments sound.
func FuzzTornTail(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0x40, 0, 0, 0, 1, 2, 3, 4, 5})
	rec := appendRecord(nil, 11, 1, KindEvent, &[hashSize]byte{}, []byte(`{"a":1}`))
	rec[len(rec)-2] ^= 1 // a record whose checksum fails, then garbage
	f.Add(append(rec, 0xff))
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := filepath.Join(t.TempDir(), "store")
		s := openT(t, Options{Dir: dir})
		s.Write(docs(0, 10, "event"))
		s.crash()
		appendBytes(t, lastSegment(t, dir, StreamEvents), tail)
		s = openT(t, Options{Dir: dir})
		if h := s.Head(StreamEvents); h != 10 {
			t.Fatalf("head %d after a torn tail of %d bytes", h, len(tail))
		}
		s.Write(docs(10, 2, "event"))
		if got := readAll(t, s, StreamEvents, 0); len(got) != 12 {
			t.Fatalf("%d records", len(got))
		}
		s.Close()
		rep, err := Verify(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Problems {
			if filepath.Ext(p.File) != ".damaged" {
				t.Fatalf("verify: %s", p)
			}
		}
	})
}

// Any bytes as a sealed segment: verify and a read-only open report
// problems but never panic.
func FuzzSegmentBytes(f *testing.F) {
	seg := marshalHeader(&segHeader{stream: 1, first: 1})
	var h [hashSize]byte
	seg = appendRecord(seg, 1, 5, KindEvent, &h, []byte(`{"@timestamp":"2026-11-22T01:00:00Z"}`))
	f.Add(seg)
	f.Add(seg[:70])
	f.Add([]byte("BNSHOSEG"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := filepath.Join(t.TempDir(), "store")
		os.MkdirAll(filepath.Join(dir, StreamEvents), 0o700)
		os.WriteFile(filepath.Join(dir, StreamEvents, segName(1)), b, 0o600)
		Verify(dir)
		if s, err := OpenReadOnly(dir, nil); err == nil {
			readAll(t, s, StreamEvents, 0)
			s.Scan(Query{Stream: StreamEvents}, func(Record) error { return nil })
		}
	})
}

func FuzzExtract(f *testing.F) {
	f.Add([]byte(`{"process":{"entity_id":"a","parent":{"entity_id":"b"}},"file":{"path":"/a/b/c"}}`))
	f.Add([]byte(`{"a":"\"","b":[1,{"c":"\\"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var x extractor
		info := x.extract(b)
		if len(info.keys) > maxKeys {
			t.Fatalf("%d keys", len(info.keys))
		}
	})
}
