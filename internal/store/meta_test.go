package store

import (
	"testing"

	"github.com/bansho-sec/bansho/internal/dockey"
)

// WriteMeta indexes a document by the metadata it is given when that is
// valid (the store does not parse it: a key only the metadata names finds
// it, and its kind picks the stream), and parses the document otherwise.
func TestWriteMetaUsesValidMetadata(t *testing.T) {
	s := openT(t, Options{})
	defer s.Close()
	d := docs(0, 3, "event")
	meta := []dockey.Meta{
		{Time: t0.UnixNano(), Kind: "alert", Keys: []uint64{KeyHash(KeyUser, "only-in-meta")}, Valid: true},
		{Time: 1, Kind: "alert", Keys: []uint64{KeyHash(KeyUser, "ignored")}, Valid: false},
		Meta(d[2]),
	}
	if err := s.WriteMeta(d, meta); err != nil {
		t.Fatal(err)
	}
	find := func(stream string, typ byte, v string) (n int) {
		err := s.Scan(Query{Stream: stream, Match: func(e *IndexEntry) bool { return e.HasKey(typ, v) }}, func(Record) error {
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := find(StreamAlerts, KeyUser, "only-in-meta"); n != 1 {
		t.Errorf("the document with valid metadata: found %d times in alerts by its metadata's key", n)
	}
	if n := find(StreamEvents, KeyUser, "ignored"); n != 0 {
		t.Errorf("invalid metadata was used")
	}
	// Parsed: doc 1 is user u1, entity e1; doc 2's parsed metadata says u2.
	if n := find(StreamEvents, KeyUser, "u1"); n != 1 {
		t.Errorf("the document with invalid metadata: found %d times by its own user", n)
	}
	if n := find(StreamEvents, KeyEntity, "e2"); n != 1 {
		t.Errorf("the document with the store's own metadata: found %d times", n)
	}
	// Metadata of the wrong length is not trusted at all.
	if err := s.WriteMeta(docs(10, 2, "event"), meta[:1]); err != nil {
		t.Fatal(err)
	}
	if n := find(StreamEvents, KeyEntity, "e10"); n != 1 {
		t.Errorf("with metadata of the wrong length the document was not parsed (%d)", n)
	}
}
