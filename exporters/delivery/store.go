package delivery

import "github.com/bansho-sec/bansho/internal/store"

// Store adapts the local store (internal/store) to Source.
type Store struct{ S *store.Store }

var (
	_ Source     = Store{}
	_ Registerer = Store{}
)

// NewReader implements Source.
func (a Store) NewReader(stream string, from uint64) (Reader, error) {
	r, err := a.S.NewReader(stream, from)
	if err != nil {
		return nil, err
	}
	return &storeReader{r: r}, nil
}

// Head implements Source.
func (a Store) Head(stream string) uint64 { return a.S.Head(stream) }

// Changed implements Source.
func (a Store) Changed(stream string) <-chan struct{} { return a.S.Changed(stream) }

// LoadCursors implements Source.
func (a Store) LoadCursors(name string) (map[string]uint64, error) { return a.S.LoadCursors(name) }

// SaveCursors implements Source.
func (a Store) SaveCursors(name string, next map[string]uint64) error {
	return a.S.SaveCursors(name, store.Cursors(next))
}

// DeadLetter implements Source.
func (a Store) DeadLetter(sink string, rec Record, reason string) error {
	return a.S.AppendDeadLetter(sink, store.Record{Stream: rec.Stream, Seq: rec.Seq, Time: rec.Time, Doc: rec.Doc}, reason)
}

// Register implements Registerer.
func (a Store) Register(name string, cursor func(stream string) uint64) { a.S.Register(name, cursor) }

// Unregister implements Registerer.
func (a Store) Unregister(name string) { a.S.Unregister(name) }

// storeReader copies records into one arena it reuses: the loop reads a new
// batch only once the previous one is committed.
type storeReader struct {
	r     *store.Reader
	recs  []store.Record
	arena []byte
}

func (sr *storeReader) Read(dst []Record, max, maxBytes int) ([]Record, error) {
	var err error
	sr.recs, sr.arena, err = sr.r.Read(sr.recs[:0], sr.arena[:0], max, maxBytes)
	for _, r := range sr.recs {
		dst = append(dst, Record{Stream: r.Stream, Seq: r.Seq, Time: r.Time, Kind: r.Kind.String(), Doc: r.Doc})
	}
	return dst, err
}

func (sr *storeReader) Next() uint64    { return sr.r.Next() }
func (sr *storeReader) Skipped() uint64 { return sr.r.Skipped }
func (sr *storeReader) Close() error    { return sr.r.Close() }
