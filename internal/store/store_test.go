package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
)

// Compile-time check: the pipeline writes to the store like to any output.
var _ exporters.Exporter = (*Store)(nil)

var t0 = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

// doc is a small ECS-shaped document; kind is event.kind.
func doc(i int, kind string) []byte {
	ts := t0.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
	return []byte(fmt.Sprintf(`{"@timestamp":%q,"event":{"kind":%q,"action":"open","sequence":%d},"process":{"pid":%d,"entity_id":"e%d","parent":{"entity_id":"p%d"}},"file":{"path":"/srv/mynumber/f%d.csv"},"user":{"name":"u%d"},"pad":%q}`,
		ts, kind, i, 1000+i%50, i%50, i%7, i%10, i%3, strings.Repeat("x", 200)))
}

func docs(from, n int, kind string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = doc(from+i, kind)
	}
	return out
}

func openT(t testing.TB, opt Options) *Store {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = filepath.Join(t.TempDir(), "store")
	}
	if opt.statfs == nil {
		opt.statfs = func(string) (uint64, error) { return 1 << 40, nil }
	}
	s, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// crash drops the store like a killed process: files closed, nothing
// sealed, the lock released.
func (s *Store) crash() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for _, st := range s.streams {
		if st.f != nil {
			st.f.Close()
			st.idx.Close()
			st.f, st.idx = nil, nil
		}
	}
	s.closed = true
	s.isClose.Store(true)
	s.lock.Close()
}

func readAll(t testing.TB, s *Store, stream string, from uint64) []Record {
	t.Helper()
	r, err := s.NewReader(stream, from)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []Record
	var arena []byte
	for {
		n := len(out)
		out, arena, err = r.Read(out, arena, 1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) == n {
			return out
		}
	}
}

func checkSeq(t testing.TB, recs []Record, first uint64) {
	t.Helper()
	for i, r := range recs {
		if r.Seq != first+uint64(i) {
			t.Fatalf("record %d has seq %d, want %d", i, r.Seq, first+uint64(i))
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openT(t, Options{Dir: dir, SegmentBytes: 8 << 10})
	for i := 0; i < 20; i++ {
		if err := s.Write(docs(i*100, 100, "event")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write([][]byte{doc(5000, "alert")}); err != nil {
		t.Fatal(err)
	}
	if got := s.Head(StreamEvents); got != 2000 {
		t.Fatalf("head %d, want 2000", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, Options{Dir: dir, SegmentBytes: 8 << 10})
	defer s.Close()
	recs := readAll(t, s, StreamEvents, 0)
	if len(recs) != 2000 {
		t.Fatalf("read %d records, want 2000", len(recs))
	}
	checkSeq(t, recs, 1)
	for i, r := range recs {
		if !bytes.Equal(r.Doc, doc(i, "event")) {
			t.Fatalf("record %d differs", i+1)
		}
		if want := t0.Add(time.Duration(i) * time.Millisecond).UnixNano(); r.Time != want {
			t.Fatalf("record %d time %d, want %d", i+1, r.Time, want)
		}
	}
	al := readAll(t, s, StreamAlerts, 0)
	if len(al) != 1 || al[0].Kind != KindAlert {
		t.Fatalf("alerts stream: %+v", al)
	}
	if st := s.Stats(); st.Streams[StreamEvents].Segments < 3 {
		t.Fatalf("expected several segments of 8 KiB (compressed), got %d", st.Streams[StreamEvents].Segments)
	}
	// Reading from the middle lands on the record asked for.
	mid := readAll(t, s, StreamEvents, 1234)
	if len(mid) != 2000-1233 || mid[0].Seq != 1234 || !bytes.Equal(mid[0].Doc, doc(1233, "event")) {
		t.Fatalf("read from 1234: %d records, first %d", len(mid), mid[0].Seq)
	}
	// Writes after reopening continue the numbering in a new segment.
	if err := s.Write(docs(2000, 10, "event")); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, StreamEvents, 1995); len(got) != 16 || got[15].Seq != 2010 {
		t.Fatalf("after reopen: %d records", len(got))
	}
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
	if rep.Records != 2011 {
		t.Fatalf("verify counted %d records", rep.Records)
	}
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := openT(t, Options{Dir: dir})
	s.Write(docs(0, 10, "event"))
	s.Write(docs(0, 1, "alert"))
	c, _ := s.LoadCursors("kafka")
	if err := s.SaveCursors("kafka", c); err != nil {
		t.Fatal(err)
	}
	s.Close()
	n := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
		n++
		return nil
	})
	if n < 8 {
		t.Fatalf("only %d files and directories", n)
	}
}

func TestLockedByAnotherWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openT(t, Options{Dir: dir})
	defer s.Close()
	_, err := Open(Options{Dir: dir})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: %v, want ErrLocked", err)
	}
	// Readers do not need the lock.
	s.Write(docs(0, 5, "event"))
	ro, err := OpenReadOnly(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, ro, StreamEvents, 0); len(got) != 5 {
		t.Fatalf("read-only reader saw %d records", len(got))
	}
	if err := ro.Write(docs(0, 1, "event")); err == nil {
		t.Fatal("write to a read-only store succeeded")
	}
	// The live segment (no footer yet) is learnt from its index, and a
	// torn record at its end (a write in progress) is not read.
	s.Write(docs(5, 95, "event"))
	act := s.streams[StreamEvents].active()
	seg := &segment{path: act.path, first: act.first, size: act.size}
	if !fromLiveIdx(seg) || seg.count != 100 || seg.size != act.size || seg.lastHash != act.lastHash {
		t.Fatalf("live index: count %d size %d (want 100, %d)", seg.count, seg.size, act.size)
	}
	appendBytes(t, act.path, []byte{0x10, 0, 0, 0, 1, 2})
	ro, err = OpenReadOnly(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, ro, StreamEvents, 0)
	if len(got) != 100 || ro.Head(StreamEvents) != 100 {
		t.Fatalf("read-only view of a live store: %d records, head %d", len(got), ro.Head(StreamEvents))
	}
	// verify of a live store does not call the record in progress damage.
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Records != 100 {
		t.Fatalf("verify of a live store: %d records, %v", rep.Records, rep.Problems)
	}
}

func TestFollowTail(t *testing.T) {
	s := openT(t, Options{SegmentBytes: 64 << 10}) // many rolls while the reader follows
	const total = 100_000
	r, err := s.NewReader(StreamEvents, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var got uint64
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		var recs []Record
		var arena []byte
		for got < total {
			var err error
			recs, arena, err = r.ReadWait(ctx, recs[:0], arena[:0], 512, 1<<20)
			if err != nil {
				readErr = err
				return
			}
			for _, rec := range recs {
				if rec.Seq != got+1 {
					readErr = fmt.Errorf("got seq %d after %d", rec.Seq, got)
					return
				}
				if !bytes.Equal(rec.Doc, doc(int(got), "event")) {
					readErr = fmt.Errorf("record %d differs", rec.Seq)
					return
				}
				got++
			}
		}
	}()
	for i := 0; i < total; i += 250 {
		if err := s.Write(docs(i, 250, "event")); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	if got != total || r.Skipped != 0 || r.Lag() != 0 {
		t.Fatalf("read %d of %d, skipped %d, lag %d", got, total, r.Skipped, r.Lag())
	}
	// Close wakes a waiting reader.
	done := make(chan error, 1)
	go func() { done <- r.Wait(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Wait after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return when the store closed")
	}
}

// A consumer that saves its cursor, stops, and resumes after a restart of
// the store gets every record exactly from where it left off.
func TestCursorRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := openT(t, Options{Dir: dir, SegmentBytes: 64 << 10})
	s.Write(docs(0, 3000, "event"))
	c, err := s.LoadCursors("es")
	if err != nil {
		t.Fatal(err)
	}
	if c[StreamEvents] != 1 || c[StreamAlerts] != 1 {
		t.Fatalf("new consumer cursors %v", c)
	}
	r, _ := s.NewReader(StreamEvents, c[StreamEvents])
	recs, _, _ := r.Read(nil, nil, 1234, 1<<30)
	r.Close()
	if len(recs) != 1234 {
		t.Fatalf("read %d", len(recs))
	}
	c[StreamEvents] = r.Next()
	if err := s.SaveCursors("es", c); err != nil {
		t.Fatal(err)
	}
	if lag := s.Lags()["es"][StreamEvents]; lag != 3000-1234 {
		t.Fatalf("lag %d, want %d", lag, 3000-1234)
	}
	s.crash()
	s = openT(t, Options{Dir: dir, SegmentBytes: 64 << 10})
	defer s.Close()
	s.Write(docs(3000, 100, "event"))
	c, err = s.LoadCursors("es")
	if err != nil {
		t.Fatal(err)
	}
	if c[StreamEvents] != 1235 {
		t.Fatalf("cursor after restart %d, want 1235", c[StreamEvents])
	}
	rest := readAll(t, s, StreamEvents, c[StreamEvents])
	if len(rest) != 3100-1234 {
		t.Fatalf("after restart read %d, want %d", len(rest), 3100-1234)
	}
	checkSeq(t, rest, 1235)
	if !bytes.Equal(rest[0].Doc, doc(1234, "event")) || !bytes.Equal(rest[len(rest)-1].Doc, doc(3099, "event")) {
		t.Fatal("wrong documents after restart")
	}
	// A cursor past the end (records lost after delivery) is moved back.
	s.SaveCursors("ahead", Cursors{StreamEvents: 99999})
	c, _ = s.LoadCursors("ahead")
	if c[StreamEvents] != s.Head(StreamEvents)+1 {
		t.Fatalf("cursor past the end loaded as %d", c[StreamEvents])
	}
	if _, err := s.LoadCursors("../etc/passwd"); err == nil {
		t.Fatal("a consumer name with a path was accepted")
	}
}

func TestDeadLetter(t *testing.T) {
	s := openT(t, Options{})
	defer s.Close()
	s.Write(docs(0, 3, "event"))
	recs := readAll(t, s, StreamEvents, 0)
	if err := s.AppendDeadLetter("elasticsearch", recs[1], `mapper_parsing_exception: failed to parse field [process.pid] of type [long] "x"`); err != nil {
		t.Fatal(err)
	}
	dl := readAll(t, s, StreamDeadLetter, 0)
	if len(dl) != 1 || dl[0].Kind != KindDeadLetter {
		t.Fatalf("dead letters: %+v", dl)
	}
	for _, want := range []string{`"exporter":"elasticsearch"`, `mapper_parsing_exception`, `"seq":2`, string(doc(1, "event"))} {
		if !bytes.Contains(dl[0].Doc, []byte(want)) {
			t.Fatalf("dead letter lacks %s: %s", want, dl[0].Doc)
		}
	}
	if dl[0].Time != recs[1].Time {
		t.Fatalf("dead letter indexed at %d, want the document's time %d", dl[0].Time, recs[1].Time)
	}
}
