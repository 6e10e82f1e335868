package pipeline

import (
	"errors"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/content"
)

// RestScanner scans, at rest and whole, the files a tainted process wrote
// more of than the kernel's samples showed: a write longer than the
// sample, an in-kernel copy (copy_file_range, sendfile, splice: cp), or
// writes folded by the kernel. The ContentScanner tells it of each such
// write (Note); once no write to the file has been seen for Settle, or its
// writer exited, a background goroutine reads the file with the content
// detector and emits one OpContentScan event with the findings of the
// whole file, attributed to the process that wrote it.
//
// It never blocks the pipeline: Note only records the file, and a file
// that cannot be remembered (the queue is full) is counted, as is every
// file not scanned, by reason (RestSkipReasons). Reading is bounded per
// file (MaxBytes) and in rate (BytesPerSecond: the reader waits, it does
// not drop). The bytes read are never kept: only counts and keyed hashes
// leave it.
type RestScanner struct {
	Detector *content.Detector
	// Emit receives each OpContentScan event (Pipeline.Emit). Called from
	// the scanner's goroutine, never while Note's caller waits.
	Emit func(*event.Event)

	MaxBytes       int64         // files larger are skipped (too_large); default 64 MiB
	BytesPerSecond int64         // read rate; default 32 MiB/s
	Settle         time.Duration // quiet time after the last write; default 2s
	Queue          int           // files waiting; default 1024

	// now is the clock (tests).
	now func() time.Time

	mu      sync.Mutex
	pending map[restKey]*restFile
	byProc  map[procRef]int // pending files per writer, for exits
	started bool
	stopped bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}

	Scanned atomic.Uint64 // files scanned whole and reported
	Bytes   atomic.Uint64 // bytes read by those scans
	skipped [restReasons]atomic.Uint64
}

// RestSkipReasons name why a file was not scanned at rest, in the order
// of RestScanner.Skipped:
//
//   - too_large: larger than MaxBytes
//   - queue_full: Queue files were already waiting
//   - vanished: no longer at its path (removed or renamed)
//   - replaced: another file (inode), or not a regular file, at its path
//   - unreadable: could not be opened or read
//   - shutdown: still waiting (or being read) when the sensor stopped
var RestSkipReasons = [restReasons]string{"too_large", "queue_full", "vanished", "replaced", "unreadable", "shutdown"}

const (
	skipTooLarge = iota
	skipQueueFull
	skipVanished
	skipReplaced
	skipUnreadable
	skipShutdown
	restReasons
)

type restKey struct {
	path string
	ino  uint64
}

type procRef struct {
	pid   uint32
	start uint64
}

type restFile struct {
	key    restKey
	dev    uint64 // kernel dev_t (major<<20 | minor); 0 when not known
	last   time.Time
	exited bool // its writer exited: due now
	ev     event.Event
}

// Skipped returns the files not scanned, by reason (RestSkipReasons).
func (r *RestScanner) Skipped() map[string]uint64 {
	m := make(map[string]uint64, restReasons)
	for i, n := range RestSkipReasons {
		m[n] = r.skipped[i].Load()
	}
	return m
}

// Pending is the number of files waiting to be scanned.
func (r *RestScanner) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

func (r *RestScanner) defaults() {
	if r.MaxBytes <= 0 {
		r.MaxBytes = 64 << 20
	}
	if r.BytesPerSecond <= 0 {
		r.BytesPerSecond = 32 << 20
	}
	if r.Settle <= 0 {
		r.Settle = 2 * time.Second
	}
	if r.Queue <= 0 {
		r.Queue = 1024
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.pending = map[restKey]*restFile{}
	r.byProc = map[procRef]int{}
	r.wake = make(chan struct{}, 1)
	r.stop = make(chan struct{})
	r.done = make(chan struct{})
}

// Start starts the goroutine that scans; Stop ends it.
func (r *RestScanner) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return
	}
	r.defaults()
	r.started = true
	go r.run()
}

// Stop ends the scanning and waits for it: a scan under way is abandoned
// and every file still waiting is counted as skipped (shutdown).
func (r *RestScanner) Stop() {
	r.mu.Lock()
	if !r.started || r.stopped {
		r.mu.Unlock()
		return
	}
	r.stopped = true
	close(r.stop)
	r.mu.Unlock()
	<-r.done
	r.mu.Lock()
	r.skipped[skipShutdown].Add(uint64(len(r.pending)))
	r.pending = map[restKey]*restFile{}
	r.byProc = map[procRef]int{}
	r.mu.Unlock()
}

// wantsRest: a write by a tainted process to an unprotected regular file
// whose bytes were not all scanned in the samples.
func wantsRest(ev *event.Event) bool {
	f := ev.File
	if ev.Op != event.OpFileWrite || f == nil || !ev.Has(event.FlagTainted) || ev.Has(event.FlagProtected) ||
		f.Ret <= 0 || f.IMode&unix.S_IFMT != unix.S_IFREG || f.Ino == 0 || !strings.HasPrefix(f.Path, "/") {
		return false
	}
	for _, pre := range []string{"/dev/", "/proc/", "/sys/"} {
		if strings.HasPrefix(f.Path, pre) {
			return false
		}
	}
	c := ev.Content
	return c == nil || c.Truncated || ev.Has(event.FlagCopy) || ev.Repeat != nil || ev.Has(event.FlagTruncated)
}

// Note is called with every event after content scanning: it remembers
// the files to scan and learns of writers that exited. It never waits
// for a scan.
func (r *RestScanner) Note(ev *event.Event) {
	if ev.Op == event.OpExit {
		r.exited(procRef{ev.Proc.PID, ev.Proc.StartBoot})
		return
	}
	if !wantsRest(ev) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || r.stopped {
		return
	}
	k := restKey{ev.File.Path, ev.File.Ino}
	rf := r.pending[k]
	if rf == nil {
		if len(r.pending) >= r.Queue {
			r.skipped[skipQueueFull].Add(1)
			return
		}
		rf = &restFile{key: k}
		r.pending[k] = rf
	} else {
		r.unref(procRef{rf.ev.Proc.PID, rf.ev.Proc.StartBoot})
	}
	rf.dev = ev.File.Dev
	rf.last = r.now()
	rf.exited = false
	// The last writer is the one the document names.
	f := *ev.File
	rf.ev = event.Event{Op: event.OpContentScan, Flags: ev.Flags & event.FlagTainted, Compat: ev.Compat,
		Proc: ev.Proc, Enriched: ev.Enriched, File: &event.File{Path: f.Path, Dev: f.Dev, Ino: f.Ino,
			IMode: f.IMode, IUID: f.IUID, IGID: f.IGID, FD: -1, Pos: -1}}
	r.byProc[procRef{ev.Proc.PID, ev.Proc.StartBoot}]++
	if len(r.pending) == 1 {
		r.poke()
	}
}

func (r *RestScanner) exited(p procRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byProc[p] <= 0 {
		return
	}
	delete(r.byProc, p)
	for _, rf := range r.pending {
		if rf.ev.Proc.PID == p.pid && rf.ev.Proc.StartBoot == p.start {
			rf.exited = true
		}
	}
	r.poke()
}

// unref: one file fewer waits for writer p (r.mu held).
func (r *RestScanner) unref(p procRef) {
	if r.byProc[p]--; r.byProc[p] <= 0 {
		delete(r.byProc, p)
	}
}

func (r *RestScanner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// due takes the files whose writer is done, oldest first, and says how
// long until the next one is due (0: none waiting).
func (r *RestScanner) due() ([]*restFile, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []*restFile
	var next time.Duration
	for k, rf := range r.pending {
		at := rf.last.Add(r.Settle)
		if rf.exited || !at.After(now) {
			out = append(out, rf)
			delete(r.pending, k)
			r.unref(procRef{rf.ev.Proc.PID, rf.ev.Proc.StartBoot})
			continue
		}
		if d := at.Sub(now); next == 0 || d < next {
			next = d
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].last.Before(out[j].last) })
	return out, next
}

func (r *RestScanner) run() {
	defer close(r.done)
	st := r.Detector.NewStream()
	lim := &restLimiter{rate: r.BytesPerSecond}
	buf := make([]byte, restChunk)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		files, next := r.due()
		for i, rf := range files {
			ev, reason := r.scan(rf, st, lim, buf)
			if reason == skipShutdown {
				r.skipped[skipShutdown].Add(uint64(len(files) - i))
				return
			}
			if reason >= 0 {
				r.skipped[reason].Add(1)
				continue
			}
			r.Scanned.Add(1)
			if r.Emit != nil {
				r.Emit(ev)
			}
		}
		if len(files) > 0 {
			continue // more may have become due while reading
		}
		if next == 0 {
			next = time.Hour
		}
		timer.Reset(next)
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// restChunk is the read size; PII kinds are looked for in the first
// piiBytes of a file.
const (
	restChunk = 64 << 10
	piiBytes  = 1 << 20
)

// scan reads one file whole; reason is -1 when it was scanned.
func (r *RestScanner) scan(rf *restFile, st *content.Stream, lim *restLimiter, buf []byte) (*event.Event, int) {
	path := rf.key.path
	// The document's time is when reading began: a write after it is
	// later, and so not covered by this scan.
	began, kbegan := r.now(), bootNS()
	fd, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOATIME, 0)
	if errors.Is(err, unix.EPERM) {
		// O_NOATIME needs ownership of the file (or CAP_FOWNER).
		fd, err = os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	}
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return nil, skipVanished
	case errors.Is(err, unix.ELOOP):
		return nil, skipReplaced // a symbolic link now
	case err != nil:
		return nil, skipUnreadable
	}
	defer fd.Close()
	var s unix.Stat_t
	if err := unix.Fstat(int(fd.Fd()), &s); err != nil {
		return nil, skipUnreadable
	}
	kdev := uint64(unix.Major(s.Dev))<<20 | uint64(unix.Minor(s.Dev))
	if s.Mode&unix.S_IFMT != unix.S_IFREG || s.Ino != rf.key.ino || (rf.dev != 0 && kdev != rf.dev) {
		return nil, skipReplaced
	}
	size := s.Size
	if size > r.MaxBytes {
		return nil, skipTooLarge
	}
	st.Reset()
	pii := map[string]bool{}
	var read int64
	for read < size {
		n := int64(len(buf))
		if size-read < n {
			n = size - read
		}
		if !lim.wait(n, r.stop) {
			return nil, skipShutdown
		}
		got, err := fd.Read(buf[:n])
		if got > 0 {
			st.Write(buf[:got])
			if read < piiBytes && len(pii) < len(content.PIIKinds) {
				for _, k := range content.PIITypes(buf[:got]) {
					pii[k] = true
				}
			}
			read += int64(got)
		}
		if err == io.EOF || got == 0 && err == nil {
			break // it shrank: what is there is the file
		}
		if err != nil {
			return nil, skipUnreadable
		}
	}
	clear(buf)
	res := st.Result()
	st.Reset()
	r.Bytes.Add(uint64(read))
	ev := rf.ev
	f := *rf.ev.File
	f.Ret = read
	ev.File = &f
	ev.Time, ev.KTime = began, kbegan
	ev.Content = &event.Content{
		MyNumber:        finding(res.MyNumber),
		CorporateNumber: finding(res.CorporateNumber),
		SampledBytes:    int(read),
		AtRest:          true,
		ScannedBytes:    read,
	}
	if res.MyNumber.Found() || res.CorporateNumber.Found() {
		for _, k := range content.PIIKinds {
			if pii[k] {
				ev.Content.PIITypes = append(ev.Content.PIITypes, k)
			}
		}
	}
	return &ev, -1
}

func bootNS() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return uint64(ts.Nano())
}

// restLimiter paces reads to rate bytes per second, with a burst of one
// chunk.
type restLimiter struct {
	rate int64
	next time.Time
}

// wait returns false when stop closed while waiting.
func (l *restLimiter) wait(n int64, stop <-chan struct{}) bool {
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	if d := l.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-stop:
			return false
		case <-t.C:
		}
	} else {
		select {
		case <-stop:
			return false
		default:
		}
	}
	l.next = l.next.Add(time.Duration(float64(n) / float64(l.rate) * float64(time.Second)))
	return true
}
