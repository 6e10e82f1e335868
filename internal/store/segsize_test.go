package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bansho-sec/bansho/internal/store"
)

// store.segment_bytes is the size of a segment file on disk, compressed:
// sealed segments come out close to it, whether the writes are the
// pipeline's batches or one large write.
func TestSegmentBytesIsTheFileSize(t *testing.T) {
	docs, _ := routineDocs(12000)
	const segBytes = 128 << 10
	for _, c := range []struct {
		name  string
		batch int
	}{{"batches of 512", 512}, {"batches of 8", 8}, {"one write", len(docs)}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := store.Open(store.Options{Dir: dir, SegmentBytes: segBytes})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(docs); i += c.batch {
				if err := s.Write(docs[i:min(i+c.batch, len(docs))]); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			segs, _ := filepath.Glob(filepath.Join(dir, store.StreamEvents, "*.seg"))
			if len(segs) < 3 {
				t.Fatalf("%d segments", len(segs))
			}
			for _, p := range segs[:len(segs)-1] { // the last is what was left
				fi, _ := os.Stat(p)
				if fi.Size() < segBytes*3/4 || fi.Size() > segBytes*5/4 {
					t.Errorf("%s: %d bytes on disk, want about %d", filepath.Base(p), fi.Size(), segBytes)
				}
			}
		})
	}
}
