package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/content"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// restFixture is a rest scanner on real files whose emitted events are
// collected.
type restFixture struct {
	t   *testing.T
	det *content.Detector
	r   *RestScanner
	mu  sync.Mutex
	out []*event.Event
}

func newRestFixture(t *testing.T, tune func(*RestScanner)) *restFixture {
	t.Helper()
	det, err := content.NewDetector(content.Config{HashKey: []byte("rest scanner test key")})
	if err != nil {
		t.Fatal(err)
	}
	f := &restFixture{t: t, det: det}
	f.r = &RestScanner{Detector: det, Settle: 150 * time.Millisecond, Emit: func(ev *event.Event) {
		f.mu.Lock()
		f.out = append(f.out, ev)
		f.mu.Unlock()
	}}
	if tune != nil {
		tune(f.r)
	}
	f.r.Start()
	t.Cleanup(f.r.Stop)
	return f
}

func (f *restFixture) events() []*event.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*event.Event(nil), f.out...)
}

// waitFor waits until n events were emitted and sum skips were counted.
func (f *restFixture) waitFor(n int, skips uint64, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var s uint64
		for _, v := range f.r.Skipped() {
			s += v
		}
		if len(f.events()) >= n && s >= skips {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// rosterFile writes n people (name, number) and returns its hashes by a
// one-shot scan, the truth.
func rosterFile(t *testing.T, det *content.Detector, path string, n int) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("氏名,個人番号\n")
	for i, num := range validNumbers(n) {
		b.WriteString("社員" + strings.Repeat("x", i%7) + "," + num + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return det.Scan([]byte(b.String())).MyNumber.Hashes
}

// writeEvent is the event of a write by a tainted process whose sample
// covered only the first 4 KiB.
func restWrite(t *testing.T, path string, pid uint32) *event.Event {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return &event.Event{Op: event.OpFileWrite, Flags: event.FlagTainted | event.FlagCopy, Time: time.Now(),
		Proc: event.Process{PID: pid, TID: pid, StartBoot: 77, Comm: "cp"},
		File: &event.File{Path: path, Ino: st.Ino, Dev: uint64(unix.Major(st.Dev))<<20 | uint64(unix.Minor(st.Dev)),
			IMode: st.Mode, Ret: st.Size, Pos: 0, FD: 4, Syscall: 326},
		Content: &event.Content{SampledBytes: 4096, Truncated: st.Size > 4096}}
}

func TestRestScanWholeFileAfterSettle(t *testing.T) {
	f := newRestFixture(t, nil)
	dir := t.TempDir()
	p := filepath.Join(dir, "copy.csv")
	truth := rosterFile(t, f.det, p, 400)
	if len(truth) != 400 {
		t.Fatalf("truth: %d", len(truth))
	}
	f.r.Note(restWrite(t, p, 100))
	time.Sleep(50 * time.Millisecond)
	f.r.Note(restWrite(t, p, 100)) // another write: the settle starts over
	time.Sleep(80 * time.Millisecond)
	if n := len(f.events()); n != 0 {
		t.Fatalf("scanned before the file settled: %d events", n)
	}
	if !f.waitFor(1, 0, 2*time.Second) {
		t.Fatalf("no scan; skipped %v", f.r.Skipped())
	}
	time.Sleep(200 * time.Millisecond)
	evs := f.events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want one per file", len(evs))
	}
	ev := evs[0]
	if ev.Op != event.OpContentScan || ev.Proc.PID != 100 || ev.File.Path != p || ev.Content == nil || !ev.Content.AtRest {
		t.Fatalf("event %+v", ev)
	}
	got := append([]string(nil), ev.Content.MyNumber.Hashes...)
	sort.Strings(got)
	want := append([]string(nil), truth...)
	sort.Strings(want)
	if ev.Content.MyNumber.Distinct != 400 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("distinct %d, hashes equal to the truth: %v", ev.Content.MyNumber.Distinct, strings.Join(got, ",") == strings.Join(want, ","))
	}
	st, _ := os.Stat(p)
	if ev.Content.ScannedBytes != st.Size() || f.r.Bytes.Load() != uint64(st.Size()) || f.r.Scanned.Load() != 1 {
		t.Errorf("scanned %d bytes (counter %d, %d files), file %d", ev.Content.ScannedBytes, f.r.Bytes.Load(), f.r.Scanned.Load(), st.Size())
	}
	if !slices.Contains(ev.Content.PIITypes, "name") {
		t.Errorf("pii types %v", ev.Content.PIITypes)
	}
	// The document: at rest, whole, and no number in it.
	doc := string((&ecs.Encoder{}).Append(nil, ev))
	for _, w := range []string{`"action":"content-scan"`, `"at_rest":true`, `"scanned_bytes":`} {
		if !strings.Contains(doc, w) {
			t.Errorf("document lacks %s", w)
		}
	}
	for _, n := range validNumbers(400) {
		if strings.Contains(doc, n) {
			t.Fatal("a raw number is in the document")
		}
	}
}

func TestRestScanExitIsDue(t *testing.T) {
	f := newRestFixture(t, func(r *RestScanner) { r.Settle = time.Hour })
	p := filepath.Join(t.TempDir(), "a.csv")
	rosterFile(t, f.det, p, 300)
	f.r.Note(restWrite(t, p, 200))
	f.r.Note(&event.Event{Op: event.OpExit, Proc: event.Process{PID: 201, StartBoot: 77}, Exit: &event.Exit{}})
	time.Sleep(100 * time.Millisecond)
	if len(f.events()) != 0 {
		t.Fatal("another process's exit made it due")
	}
	f.r.Note(&event.Event{Op: event.OpExit, Proc: event.Process{PID: 200, StartBoot: 77}, Exit: &event.Exit{}})
	if !f.waitFor(1, 0, 2*time.Second) {
		t.Fatal("the writer's exit did not make the file due")
	}
	// Nothing is kept per writer once its files are done.
	q := filepath.Join(t.TempDir(), "b.csv")
	rosterFile(t, f.det, q, 300)
	f.r.Note(restWrite(t, q, 202))
	f.r.Note(restWrite(t, q, 203)) // the last writer is the one named
	f.r.Note(&event.Event{Op: event.OpExit, Proc: event.Process{PID: 203, StartBoot: 77}, Exit: &event.Exit{}})
	if !f.waitFor(2, 0, 2*time.Second) {
		t.Fatal("the last writer's exit did not make the file due")
	}
	f.r.mu.Lock()
	n := len(f.r.byProc)
	f.r.mu.Unlock()
	if n != 0 || f.events()[1].Proc.PID != 203 {
		t.Errorf("%d writers remembered; document names pid %d", n, f.events()[1].Proc.PID)
	}
}

func TestRestScanOnlyWhatTheSamplesMissed(t *testing.T) {
	f := newRestFixture(t, nil)
	p := filepath.Join(t.TempDir(), "small.csv")
	rosterFile(t, f.det, p, 3)
	ev := restWrite(t, p, 300)
	ev.Flags = event.FlagTainted // a plain write, sampled whole
	f.r.Note(ev)
	untainted := restWrite(t, p, 301)
	untainted.Flags = event.FlagCopy
	f.r.Note(untainted)
	prot := restWrite(t, p, 302)
	prot.Flags |= event.FlagProtected
	f.r.Note(prot)
	if n := f.r.Pending(); n != 0 {
		t.Fatalf("%d files pending, want none", n)
	}
}

func TestRestScanSkipsCounted(t *testing.T) {
	f := newRestFixture(t, func(r *RestScanner) { r.MaxBytes = 8 << 10; r.Queue = 4 })
	dir := t.TempDir()
	big := filepath.Join(dir, "big.csv")
	rosterFile(t, f.det, big, 1000) // > 8 KiB
	gone := filepath.Join(dir, "gone.csv")
	rosterFile(t, f.det, gone, 10)
	repl := filepath.Join(dir, "replaced.csv")
	rosterFile(t, f.det, repl, 10)
	link := filepath.Join(dir, "link.csv")
	rosterFile(t, f.det, link, 10)
	evs := []*event.Event{restWrite(t, big, 1), restWrite(t, gone, 1), restWrite(t, repl, 1), restWrite(t, link, 1)}
	// The file is removed, another file takes the name, a link takes
	// the name.
	os.Remove(gone)
	os.Remove(repl)
	rosterFile(t, f.det, repl, 10)
	os.Remove(link)
	os.Symlink(big, link)
	for _, ev := range evs {
		f.r.Note(ev)
	}
	// The queue holds 4: a fifth file is counted, not remembered.
	fifth := filepath.Join(dir, "fifth.csv")
	rosterFile(t, f.det, fifth, 10)
	f.r.Note(restWrite(t, fifth, 1))
	if !f.waitFor(0, 5, 3*time.Second) {
		t.Fatalf("skipped %v", f.r.Skipped())
	}
	want := map[string]uint64{"too_large": 1, "queue_full": 1, "vanished": 1, "replaced": 2, "unreadable": 0, "shutdown": 0}
	got := f.r.Skipped()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("skipped %s: %d, want %d (all %v)", k, got[k], v, got)
		}
	}
	if len(f.events()) != 0 {
		t.Errorf("%d files scanned, want none", len(f.events()))
	}
}

func TestRestScanNotRegular(t *testing.T) {
	f := newRestFixture(t, nil)
	dir := t.TempDir()
	reg := filepath.Join(dir, "reg")
	rosterFile(t, f.det, reg, 5)
	ev := restWrite(t, reg, 1)
	os.Remove(reg)
	if err := syscall.Mkfifo(reg, 0o600); err != nil {
		t.Fatal(err)
	}
	f.r.Note(ev) // a FIFO now: replaced, and not waited on
	if !f.waitFor(0, 1, 2*time.Second) || f.r.Skipped()["replaced"] != 1 {
		t.Fatalf("skipped %v", f.r.Skipped())
	}
}

func TestRestScanRateAndShutdown(t *testing.T) {
	const rate = 1 << 20 // 1 MiB/s
	f := newRestFixture(t, func(r *RestScanner) { r.BytesPerSecond = rate; r.Settle = 10 * time.Millisecond })
	dir := t.TempDir()
	p := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(p, make([]byte, 512<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.r.Note(restWrite(t, p, 1))
	if !f.waitFor(1, 0, 5*time.Second) {
		t.Fatal("no scan")
	}
	// 512 KiB at 1 MiB/s with a burst of one 64 KiB chunk: about 440 ms.
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("512 KiB read in %v at 1 MiB/s", d)
	}
	// A file being read and one waiting when the scanner stops.
	q := filepath.Join(dir, "b.bin")
	os.WriteFile(q, make([]byte, 4<<20), 0o600)
	r2 := filepath.Join(dir, "c.bin")
	os.WriteFile(r2, make([]byte, 10), 0o600)
	f.r.Note(restWrite(t, q, 1))
	time.Sleep(100 * time.Millisecond) // the 4 MiB file is being read
	f.r.Settle = time.Hour
	ev := restWrite(t, r2, 2)
	ev.Content = nil // no sample at all
	f.r.Note(ev)
	stopped := time.Now()
	f.r.Stop()
	if d := time.Since(stopped); d > time.Second {
		t.Errorf("stop took %v", d)
	}
	if got := f.r.Skipped()["shutdown"]; got != 2 {
		t.Errorf("shutdown skips %d, want 2", got)
	}
}
