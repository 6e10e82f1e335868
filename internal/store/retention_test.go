package store

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
)

func drainNotices(s *Store) map[string]Notice {
	out := map[string]Notice{}
	for {
		select {
		case n := <-s.Notices():
			out[n.Action] = n
		default:
			return out
		}
	}
}

// The store stays under MaxBytes by removing the oldest routine segments;
// alerts are never pushed out by routine documents; removed records a
// consumer had not delivered are counted and reported.
func TestRetentionBySize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	const maxBytes = 2 << 20
	s := openT(t, Options{Dir: dir, MaxBytes: maxBytes})
	defer s.Close()
	if err := s.Write(docs(0, 200, "alert")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCursors("kafka", Cursors{StreamEvents: 1, StreamAlerts: 1}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20_000; i += 500 {
		if err := s.Write(docs(i, 500, "event")); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Streams[StreamEvents].Bytes+st.Streams[StreamAlerts].Bytes > maxBytes {
			t.Fatalf("store holds %d bytes, above %d", st.Streams[StreamEvents].Bytes+st.Streams[StreamAlerts].Bytes, maxBytes)
		}
	}
	st := s.Stats()
	if st.Evicted == 0 || st.EvictedAlerts != 0 {
		t.Fatalf("evicted %d, alerts evicted %d", st.Evicted, st.EvictedAlerts)
	}
	if got := len(readAll(t, s, StreamAlerts, 0)); got != 200 {
		t.Fatalf("%d alerts left of 200", got)
	}
	first := s.First(StreamEvents)
	if first == 1 || s.Head(StreamEvents) != 20_000 {
		t.Fatalf("events first %d head %d", first, s.Head(StreamEvents))
	}
	// The oldest went first: what is left is one contiguous newest range.
	recs := readAll(t, s, StreamEvents, 0)
	checkSeq(t, recs, first)
	if uint64(len(recs)) != 20_000-first+1 {
		t.Fatalf("%d records from %d", len(recs), first)
	}
	if st.Evicted != first-1 {
		t.Fatalf("evicted %d, but the first record left is %d", st.Evicted, first)
	}
	// The kafka consumer never moved: every evicted record was undelivered.
	if st.EvictedUndelivered != first-1 {
		t.Fatalf("evicted undelivered %d, want %d", st.EvictedUndelivered, first-1)
	}
	if n, ok := drainNotices(s)["store-evicted-undelivered"]; !ok || n.Details["stream"] != StreamEvents {
		t.Fatalf("no store-evicted-undelivered notice: %+v", n)
	}
	// A reader at the consumer's old cursor skips the removed records and
	// says so.
	r, _ := s.NewReader(StreamEvents, 1)
	var msgs []string
	r.OnProblem = func(m string) { msgs = append(msgs, m) }
	got, _, _ := r.Read(nil, nil, 10, 1<<20)
	r.Close()
	if len(got) != 10 || got[0].Seq != first || r.Skipped != first-1 || len(msgs) != 1 {
		t.Fatalf("reader from 1: %d records from %d, skipped %d, problems %v", len(got), got[0].Seq, r.Skipped, msgs)
	}

	// Alerts alone past the limit push out the oldest alerts, after every
	// routine segment.
	for i := 0; i < 12_000; i += 500 {
		if err := s.Write(docs(i, 500, "alert")); err != nil {
			t.Fatal(err)
		}
	}
	st = s.Stats()
	if st.Streams[StreamEvents].Records > 1000 {
		t.Fatalf("%d routine records left while alerts needed room", st.Streams[StreamEvents].Records)
	}
	if st.EvictedAlerts == 0 || s.Head(StreamAlerts) != 12_200 {
		t.Fatalf("alerts evicted %d head %d", st.EvictedAlerts, s.Head(StreamAlerts))
	}
}

func TestRetentionByAge(t *testing.T) {
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := openT(t, Options{MaxAge: time.Hour, AlertMaxAge: 24 * time.Hour, SegmentAge: 10 * time.Minute, now: clock})
	defer s.Close()
	s.Write(docs(0, 100, "event"))
	s.Write(docs(0, 10, "alert"))
	advance(2 * time.Hour)
	// Documents stamped now (the docs' own @timestamp is t0+i ms: use
	// later ones).
	late := make([][]byte, 5)
	for i := range late {
		late[i] = doc(int(2*time.Hour/time.Millisecond)+i, "event")
	}
	s.Write(late) // rolls the old segment, then removes it for its age
	advance(2 * time.Minute)
	s.Write(late[:1])
	st := s.Stats()
	if st.EvictedAge != 100 || s.First(StreamEvents) != 101 {
		t.Fatalf("evicted by age %d, first %d", st.EvictedAge, s.First(StreamEvents))
	}
	if got := len(readAll(t, s, StreamAlerts, 0)); got != 10 {
		t.Fatalf("alerts kept %d of 10 (their limit is a day)", got)
	}
}

// Below the free-space floor routine documents are refused, counted and
// reported, while alerts are still written.
func TestFreeSpaceFloor(t *testing.T) {
	var mu sync.Mutex
	free := uint64(1 << 30)
	s := openT(t, Options{MinFreeBytes: 100 << 20, statfs: func(string) (uint64, error) { mu.Lock(); defer mu.Unlock(); return free, nil }})
	defer s.Close()
	if err := s.Write(docs(0, 1000, "event")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	free = 50 << 20 // something else filled the disk
	mu.Unlock()
	s.checkFree(time.Now(), true)
	err := s.Write(docs(1000, 10, "event"))
	var le *exporters.LostError
	if !errors.As(err, &le) || le.Lost != 10 {
		t.Fatalf("write below the floor: %v", err)
	}
	st := s.Stats()
	if st.Refused != 10 || !st.Full || st.Evicted != 1000 {
		t.Fatalf("refused %d full %v evicted %d", st.Refused, st.Full, st.Evicted)
	}
	if _, ok := drainNotices(s)["store-full"]; !ok {
		t.Fatal("no store-full notice")
	}
	if err := s.Write(docs(0, 3, "alert")); err != nil {
		t.Fatalf("alert refused below the floor: %v", err)
	}
	if got := len(readAll(t, s, StreamAlerts, 0)); got != 3 {
		t.Fatalf("%d alerts", got)
	}
}

// A real full file system (a tmpfs this test mounts): the store evicts
// old routine segments when a write fails with ENOSPC and goes on; with
// only alerts left it refuses routine documents and still takes alerts
// in place of the oldest alerts. Nothing panics, every refusal counted.
func TestRealDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" || os.Getenv("BANSHO_REQUIRE_BPF") == "1" {
			t.Fatal("mounting a tmpfs needs root")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "bansho-store-test", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	dir := filepath.Join(mnt, "store")
	// The free-space figure is made to lie, so that only the file
	// system's ENOSPC tells the store it is full.
	s, err := Open(Options{Dir: dir, MaxBytes: 1 << 30, MinFreeBytes: 0, SegmentBytes: 128 << 10,
		statfs: func(string) (uint64, error) { return 1 << 40, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Write(docs(0, 50, "alert"))
	for i := 0; i < 30_000; i += 500 {
		if err := s.Write(docs(i, 500, "event")); err != nil {
			t.Fatalf("write %d: %v (the store should have made room)", i, err)
		}
	}
	st := s.Stats()
	if st.Evicted == 0 || st.WriteErrors == 0 {
		t.Fatalf("no ENOSPC met: evicted %d, write errors %d", st.Evicted, st.WriteErrors)
	}
	if got := len(readAll(t, s, StreamAlerts, 0)); got != 50 {
		t.Fatalf("alerts left %d of 50", got)
	}
	recs := readAll(t, s, StreamEvents, 0)
	checkSeq(t, recs, s.First(StreamEvents))
	if s.Head(StreamEvents) != 30_000 {
		t.Fatalf("head %d", s.Head(StreamEvents))
	}
	// Fill the disk with something the store cannot remove.
	fill := func(name string) {
		f, _ := os.Create(filepath.Join(mnt, name))
		defer f.Close()
		for _, n := range []int{64 << 10, 4 << 10, 256} {
			buf := make([]byte, n)
			for {
				if _, err := f.Write(buf); err != nil {
					break
				}
			}
		}
	}
	fill("filler")
	// Routine documents still go in, in place of older routine ones.
	for i := 0; i < 5000; i += 500 {
		if err := s.Write(docs(30_000+i, 500, "event")); err != nil {
			t.Fatalf("write on a full disk with routine segments to remove: %v", err)
		}
	}
	// Alerts take the room of routine documents, then of older alerts.
	for i := 0; i < 20_000; i += 500 {
		if err := s.Write(docs(i, 500, "alert")); err != nil {
			t.Fatalf("alert write on a full disk: %v", err)
		}
	}
	if st := s.Stats(); st.Streams[StreamEvents].Records != 0 || st.EvictedAlerts == 0 || s.Head(StreamAlerts) != 20_050 {
		for _, sg := range s.streams[StreamEvents].segs {
			t.Logf("seg %s count %d size %d sealed %v active %v", sg.name(), sg.count, sg.size, sg.sealed, s.streams[StreamEvents].f != nil)
		}
		t.Fatalf("after the alert flood: %d routine records left, %d alerts evicted, alert head %d",
			st.Streams[StreamEvents].Records, st.EvictedAlerts, s.Head(StreamAlerts))
	}
	// Fill what the alerts left: routine documents have nothing to take
	// the place of and are refused.
	fill("filler2")
	lost := 0
	for i := 0; i < 20; i++ {
		err := s.Write(docs(40_000+i*100, 100, "event"))
		var le *exporters.LostError
		if errors.As(err, &le) {
			lost += le.Lost
		}
	}
	st = s.Stats()
	if lost == 0 || st.Refused != uint64(lost) || !st.Full {
		t.Fatalf("lost %d, refused %d, full %v", lost, st.Refused, st.Full)
	}
	if _, ok := drainNotices(s)["store-full"]; !ok {
		t.Fatal("no store-full notice")
	}
	if err := s.Write(docs(30_000, 10, "alert")); err != nil {
		t.Fatalf("alert refused with older alerts to remove: %v", err)
	}
	// Make a little room: the store recovers by itself.
	os.Remove(filepath.Join(mnt, "filler2"))
	if err := s.Write(docs(50_000, 10, "event")); err != nil {
		t.Fatalf("after room was made: %v", err)
	}
	s.Close()
	rep, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify after disk full: %v", rep.Problems)
	}
}

// A batch with routine documents and alerts, where the alerts need room:
// the routine documents staged in the same batch are not lost.
func TestMixedBatchUnderPressure(t *testing.T) {
	s := openT(t, Options{MaxBytes: 1 << 20})
	defer s.Close()
	total := 0
	for i := 0; i < 1000; i++ {
		batch := append(docs(i*40, 10, "event"), docs(i*40, 1, "alert")...)
		if err := s.Write(batch); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		total += 10
	}
	if s.Head(StreamEvents) != uint64(total) || s.Head(StreamAlerts) != 1000 {
		t.Fatalf("heads %d %d", s.Head(StreamEvents), s.Head(StreamAlerts))
	}
	recs := readAll(t, s, StreamEvents, 0)
	checkSeq(t, recs, s.First(StreamEvents))
	if st := s.Stats(); st.Refused != 0 || st.WriteErrors != 0 {
		t.Fatalf("refused %d, write errors %d", st.Refused, st.WriteErrors)
	}
}

// Eviction for one stream never rolls the active segment of another
// stream that has records staged for the same write.
func TestEvictKeepsStagedSegment(t *testing.T) {
	s := openT(t, Options{})
	defer s.Close()
	s.Write(docs(0, 10, "event"))
	ev := s.streams[StreamEvents]
	s.wmu.Lock()
	if _, err := s.stage(ev, 1, KindEvent, doc(10, "event"), nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if s.evictOne(true, "test", s.streams[StreamAlerts]) {
		t.Error("evicted the segment records are staged for")
	}
	err := s.commit(ev, time.Now())
	s.wmu.Unlock()
	if err != nil || s.Head(StreamEvents) != 11 {
		t.Fatalf("commit after eviction: %v, head %d", err, s.Head(StreamEvents))
	}
	if got := readAll(t, s, StreamEvents, 0); len(got) != 11 {
		t.Fatalf("%d records", len(got))
	}
}
