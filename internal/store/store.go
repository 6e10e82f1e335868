// Package store is bansho's local, embedded, crash-safe event store: every
// ECS document the sensor emits is appended to it, and the exporters that
// ship to Kafka and Elasticsearch read from it with their own committed
// cursors, so nothing the store accepted is lost when a sink is down or the
// sensor restarts.
//
// It is a segmented append-only log, one per stream (routine events,
// alerts, dead letters), with a SHA-256 hash chain over the records and a
// small index per segment for timelines. A log suits this workload better
// than a B-tree database (bbolt): writes are appends in time order,
// retention drops whole files from the old end, readers follow the tail
// sequentially, a torn write after a power cut is confined to the end of
// one file, and the chain and `store verify` can name a damaged segment and
// record directly.
//
// Layout under the store directory (0700; every file 0600):
//
//	LOCK                  held (flock) by the one process that writes
//	events/NNNN.seg       routine documents: events, health, state
//	events/NNNN.idx       their index: time, kind and key hashes per record
//	alerts/...            alerts, kept longest
//	deadletter/...        documents a sink rejected, with the reason
//	cursors/NAME.json     each exporter's committed position per stream
//
// Full store policy: retention first removes whole segments older than
// MaxAge (alerts: AlertMaxAge). When the store would pass MaxBytes or the
// file system would drop below MinFreeBytes, the oldest segments go first,
// routine events and dead letters before any alert. When nothing is left
// to remove, routine documents are refused (counted, reported in health
// and a store-full notice) while alerts are still written as long as the
// file system takes them. A write error never stops the sensor.
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bansho-sec/bansho/exporters"
)

// Options configures a store.
type Options struct {
	Dir          string
	MaxBytes     int64         // segments and indexes of all streams (default 4 GiB)
	MinFreeBytes int64         // leave at least this much free on the file system (default 256 MiB)
	MaxAge       time.Duration // routine documents older than this are removed (0: no age limit)
	AlertMaxAge  time.Duration // alerts older than this are removed (0: no age limit)
	SegmentBytes int64         // start a new segment past this size (default 64 MiB)
	SegmentAge   time.Duration // ... or when the segment is this old (default 1h)
	Fsync        bool          // fsync what was written at every Flush
	Log          *slog.Logger

	now    func() time.Time                 // tests
	statfs func(dir string) (uint64, error) // free bytes; tests
}

// Defaults used when an Options field is zero.
const (
	DefaultMaxBytes     = 4 << 30
	DefaultMinFreeBytes = 256 << 20
	DefaultSegmentBytes = 64 << 20
	DefaultSegmentAge   = time.Hour
	// MaxSegmentBytes keeps segment offsets within the index's 32 bits.
	MaxSegmentBytes = 1 << 30
)

// Notice is something the operator must hear about: the sensor turns it
// into a state document.
type Notice struct {
	Action  string // store-full, store-evicted-undelivered, store-recovered
	Message string
	Details map[string]string
}

// Store is an open, writable store. Write, Flush and Close implement
// exporters.Exporter, so the pipeline writes to it like to any output.
type Store struct {
	opt     Options
	log     *slog.Logger
	lock    *os.File
	ro      bool // opened with OpenReadOnly: no writes, no repairs
	streams map[string]*stream
	isClose atomic.Bool

	curMu     sync.Mutex
	committed map[string]Cursors // last saved cursors of every consumer, from cursors/

	wmu       sync.Mutex // writes, rolls and evictions
	x         extractor
	dirty     bool
	closed    bool
	total     int64 // bytes of all segments and indexes
	free      int64 // free bytes on the file system at the last check, minus what was written since
	freeAt    time.Time
	maintAt   time.Time
	consumers map[string]func(stream string) uint64

	notices    chan Notice
	noticeMu   sync.Mutex
	lastNotice map[string]time.Time

	st counters
}

type counters struct {
	written, tooLarge, droppedFull, writeErrors atomic.Uint64
	evicted, evictedAge, evictedAlerts          atomic.Uint64
	evictedUndelivered, recoveredBytes          atomic.Uint64
	writtenBytes, tornTails, damagedSegments    atomic.Uint64
	full                                        atomic.Bool
}

type stream struct {
	name string
	dir  string
	id   uint8

	mu   sync.RWMutex // segs and the active segment's fields
	segs []*segment

	// Writer state, under Store.wmu.
	f, idx   *os.File
	nextSeq  uint64
	lastHash [hashSize]byte
	created  time.Time // of the active segment
	buf      []byte    // records staged for the next write
	ibuf     []byte    // their index entries
	staged   []stagedRec

	head   atomic.Uint64 // last sequence number written; 0: none
	first  atomic.Uint64 // first sequence number still stored
	wakeMu sync.Mutex
	wake   chan struct{} // closed when records are added
}

type stagedRec struct {
	seq  uint64
	time int64
	hash [hashSize]byte
}

func (st *stream) active() *segment {
	if st.f == nil {
		return nil
	}
	return st.segs[len(st.segs)-1]
}

// changed returns a channel closed at the next write to the stream.
func (st *stream) changed() <-chan struct{} {
	st.wakeMu.Lock()
	defer st.wakeMu.Unlock()
	return st.wake
}

func (st *stream) signal() {
	st.wakeMu.Lock()
	close(st.wake)
	st.wake = make(chan struct{})
	st.wakeMu.Unlock()
}

// ErrLocked is returned by Open when another process writes the store.
var ErrLocked = errors.New("the store is in use by another bansho process")

// Open opens (creating it if needed) the store for writing, recovering
// from a crash: a record cut short by a power loss at the end of the last
// segment is moved aside into a .damaged file and the segment is cut back
// to its last complete record.
func Open(opt Options) (*Store, error) {
	if opt.Dir == "" {
		return nil, errors.New("store: no directory")
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.MinFreeBytes < 0 {
		opt.MinFreeBytes = 0
	}
	if opt.SegmentBytes <= 0 {
		opt.SegmentBytes = DefaultSegmentBytes
	}
	if opt.SegmentBytes > MaxSegmentBytes {
		return nil, fmt.Errorf("store: segment size %d is above %d", opt.SegmentBytes, MaxSegmentBytes)
	}
	if opt.SegmentAge <= 0 {
		opt.SegmentAge = DefaultSegmentAge
	}
	// Retention removes whole segments: keep several within MaxBytes, so
	// removing one frees a small share of the store.
	if limit := opt.MaxBytes / 8; opt.SegmentBytes > limit {
		opt.SegmentBytes = max(limit, 64<<10)
	}
	if opt.now == nil {
		opt.now = time.Now
	}
	if opt.statfs == nil {
		opt.statfs = freeBytes
		// On a small file system, keep segments small too, so removing
		// the oldest one frees room before the disk is full.
		if size := fsSize(opt.Dir); size > 0 && opt.SegmentBytes > size/16 {
			opt.SegmentBytes = max(size/16, 64<<10)
		}
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := makePrivateDir(opt.Dir, log); err != nil {
		return nil, fmt.Errorf("store %s: %w", opt.Dir, err)
	}
	s := &Store{
		opt:        opt,
		log:        log,
		streams:    map[string]*stream{},
		notices:    make(chan Notice, 16),
		lastNotice: map[string]time.Time{},
		consumers:  map[string]func(string) uint64{},
		committed:  map[string]Cursors{},
	}
	lock, err := lockDir(opt.Dir)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	for _, name := range Streams {
		st, err := s.openStream(name)
		if err != nil {
			s.lock.Close()
			return nil, err
		}
		s.streams[name] = st
	}
	if err := makePrivateDir(filepath.Join(opt.Dir, "cursors"), log); err != nil {
		s.lock.Close()
		return nil, fmt.Errorf("store %s: %w", opt.Dir, err)
	}
	s.loadCommitted()
	s.checkFree(opt.now(), true)
	if s.free < opt.MinFreeBytes {
		log.Warn("store: the file system is below the free space the store keeps; old segments will be removed and routine documents may be refused",
			"dir", opt.Dir, "free_bytes", s.free, "min_free_bytes", opt.MinFreeBytes)
	}
	s.wmu.Lock()
	s.maintain(opt.now(), true)
	s.wmu.Unlock()
	return s, nil
}

// OpenReadOnly opens a store for reading only (verify, stat, timeline,
// replay), while a sensor may be writing it. Nothing is changed on disk: a
// torn tail is left in place and reading stops before it. Readers see the
// records present at open; they do not follow the tail.
func OpenReadOnly(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("store: %s is not a directory", dir)
	}
	s := &Store{
		opt:        Options{Dir: dir, now: time.Now},
		log:        log,
		ro:         true,
		streams:    map[string]*stream{},
		notices:    make(chan Notice, 16),
		lastNotice: map[string]time.Time{},
		consumers:  map[string]func(string) uint64{},
		committed:  map[string]Cursors{},
	}
	found := false
	for _, name := range Streams {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("store: %s holds no store (no %s directory)", dir, strings.Join(Streams, ", "))
	}
	for _, name := range Streams {
		st, err := s.openStream(name)
		if err != nil {
			return nil, err
		}
		s.streams[name] = st
	}
	s.loadCommitted()
	s.isClose.Store(true) // readers do not wait for more
	return s, nil
}

// makePrivateDir creates dir 0700, or tightens an existing one.
func makePrivateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Mode().Perm() != 0o700 {
		log.Warn("store: tightening directory permissions to 0700", "dir", dir, "was", fmt.Sprintf("%04o", st.Mode().Perm()))
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	return nil
}

func lockDir(dir string) (*os.File, error) {
	p := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(p)
		f.Close()
		holder := strings.TrimSpace(string(b))
		if holder == "" {
			holder = "unknown"
		}
		return nil, fmt.Errorf("store %s: %w (pid %s)", dir, ErrLocked, holder)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// locked reports whether a process holds the store's write lock.
func locked(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "LOCK"))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// fsSize is the size of the file system that holds dir (or the nearest
// existing parent); 0 when unknown.
func fsSize(dir string) int64 {
	for d := dir; ; d = filepath.Dir(d) {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(d, &fs); err == nil {
			return int64(fs.Blocks) * fs.Bsize
		}
		if d == filepath.Dir(d) {
			return 0
		}
	}
}

func freeBytes(dir string) (uint64, error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0, err
	}
	return fs.Bavail * uint64(fs.Bsize), nil
}

func (s *Store) openStream(name string) (*stream, error) {
	st := &stream{name: name, dir: filepath.Join(s.opt.Dir, name), id: streamIDs[name], wake: make(chan struct{}), nextSeq: 1}
	if !s.ro {
		if err := makePrivateDir(st.dir, s.log); err != nil {
			return nil, fmt.Errorf("store %s: %w", s.opt.Dir, err)
		}
	}
	paths, err := listSegments(st.dir)
	if s.ro && errors.Is(err, os.ErrNotExist) {
		paths, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", st.dir, err)
	}
	var carry *segHeader // header of an empty last segment, removed
	for i, p := range paths {
		seg, hdr, err := s.loadSegment(st, p, i == len(paths)-1)
		if err != nil {
			return nil, err
		}
		carry = hdr
		if seg == nil {
			continue
		}
		st.segs = append(st.segs, seg)
		s.total += seg.size + seg.idxSize
	}
	if n := len(st.segs); n > 0 {
		last := st.segs[n-1]
		st.nextSeq = last.first + last.count
		st.lastHash = last.lastHash
	}
	if carry != nil {
		st.nextSeq, st.lastHash = carry.first, carry.prevHash
	}
	st.first.Store(st.nextSeq)
	if len(st.segs) > 0 {
		st.first.Store(st.segs[0].first)
	}
	st.head.Store(st.nextSeq - 1)
	return st, nil
}

// loadSegment learns a segment's extent from its index footer, or by
// scanning it. The last segment of a stream is always scanned: it may end
// in a record a crash cut short, which is moved aside and cut off. An
// empty last segment is removed and its header returned instead: the
// next segment continues its sequence numbers and chain.
func (s *Store) loadSegment(st *stream, path string, last bool) (*segment, *segHeader, error) {
	first, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".seg"), 10, 64)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	seg := &segment{path: path, first: first, size: fi.Size(), sealed: true}
	if !last && readIdxFooter(seg) {
		return seg, nil, nil
	}
	res, err := scanSegment(path, st.id, true)
	if err != nil && s.ro {
		s.log.Warn("store: segment unreadable; skipped", "segment", path, "error", err)
		return nil, nil, nil
	}
	if err != nil {
		// No readable header: nothing in it can be trusted or read.
		s.st.damagedSegments.Add(1)
		bad := path + ".damaged"
		s.log.Error("store: segment unreadable, moved aside; run bansho store verify", "segment", path, "error", err, "moved_to", bad)
		if rerr := os.Rename(path, bad); rerr != nil {
			return nil, nil, fmt.Errorf("store: segment %s unreadable (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		os.Remove(seg.idxPath())
		return nil, nil, nil
	}
	if res.hdr.first != first && s.ro {
		s.log.Warn("store: segment header does not match its name; skipped", "segment", path, "first", res.hdr.first)
		return nil, nil, nil
	}
	if res.hdr.first != first {
		return nil, nil, fmt.Errorf("store: segment %s says it starts at record %d: the file was renamed or replaced", path, res.hdr.first)
	}
	if res.problem != "" {
		if last && res.tornAt >= 0 {
			if !s.ro {
				if err := s.cutTail(path, res.tornAt); err != nil {
					return nil, nil, err
				}
			}
			seg.size = res.tornAt // readers stop there
		} else {
			if !s.ro {
				s.st.damagedSegments.Add(1)
			}
			s.log.Error("store: damaged segment; records that cannot be read are skipped; run bansho store verify", "segment", path, "problem", res.problem)
		}
	}
	seg.count, seg.minTime, seg.maxTime, seg.lastHash = res.count, res.minTime, res.maxTime, res.lastHash
	if seg.count == 0 && last {
		if !s.ro {
			os.Remove(path)
			os.Remove(seg.idxPath())
		}
		return nil, &res.hdr, nil
	}
	if s.ro {
		seg.entries = res.entries
		return seg, nil, nil
	}
	if err := writeIdx(seg, res.entries); err != nil {
		return nil, nil, fmt.Errorf("store: rebuilding index of %s: %w", path, err)
	}
	return seg, nil, nil
}

// cutTail moves the bytes of a segment from off on into a .damaged file
// next to it (kept for inspection, never read again) and truncates the
// segment there.
func (s *Store) cutTail(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	n := fi.Size() - off
	tail := make([]byte, n)
	if _, err := f.ReadAt(tail, off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("store: reading the damaged tail of %s: %w", path, err)
	}
	allZero := true
	for _, c := range tail {
		if c != 0 {
			allZero = false
			break
		}
	}
	if !allZero {
		bad := fmt.Sprintf("%s.tail-%d.damaged", path, off)
		if err := os.WriteFile(bad, tail, 0o600); err != nil {
			return fmt.Errorf("store: saving the damaged tail of %s: %w", path, err)
		}
	}
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("store: cutting the damaged tail of %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	s.st.recoveredBytes.Add(uint64(n))
	s.st.tornTails.Add(1)
	s.log.Warn("store: incomplete record at the end of a segment (crash or power loss); cut off", "segment", path, "offset", off, "bytes", n)
	s.notify(Notice{Action: "store-recovered", Message: fmt.Sprintf("cut %d bytes of an incomplete record from the end of %s", n, filepath.Base(path)),
		Details: map[string]string{"segment": path, "offset": strconv.FormatInt(off, 10), "bytes": strconv.FormatInt(n, 10)}})
	return nil
}

type scanResult struct {
	hdr              segHeader
	count            uint64
	minTime, maxTime int64
	lastHash         [hashSize]byte
	entries          []byte // index entries
	problem          string // the first problem found, if any
	// tornAt is the offset after the last good record when nothing good
	// follows it (a torn write at the end); -1 otherwise.
	tornAt int64
}

// scanSegment reads a whole segment, checking checksums, sequence numbers
// and, with chain set, the hash chain, and builds its index entries.
func scanSegment(path string, streamID uint8, chain bool) (*scanResult, error) {
	sc, err := openScanner(path)
	if err != nil {
		return nil, err
	}
	defer sc.close()
	if sc.hdr.stream != streamID {
		return nil, fmt.Errorf("%w: segment of stream %d, found in the directory of stream %d", errBadHeader, sc.hdr.stream, streamID)
	}
	res := &scanResult{hdr: sc.hdr, lastHash: sc.hdr.prevHash, tornAt: -1}
	var x extractor
	expect := sc.hdr.first
	prev := sc.hdr.prevHash
	goodEnd := int64(segHdrSize)
	badTail := false // bad records since the last good one
	for {
		rec, off, err := sc.next()
		if err == io.EOF {
			if badTail {
				res.tornAt = goodEnd
			}
			return res, nil
		}
		if err != nil {
			if res.problem == "" {
				res.problem = fmt.Sprintf("record %d at offset %d: %v", expect, off, err)
			}
			if errors.Is(err, errCRC) {
				// The length was sane: skip the record and go on.
				badTail = true
				expect++
				continue
			}
			// Nothing after this can be read.
			res.tornAt = goodEnd
			return res, nil
		}
		if rec.seq != expect {
			if res.problem == "" {
				res.problem = fmt.Sprintf("record at offset %d has sequence number %d, want %d", off, rec.seq, expect)
			}
			if rec.seq < expect {
				continue
			}
		}
		if chain && chainHash(&prev, rec.seq, rec.time, rec.kind, rec.doc) != rec.hash && res.problem == "" {
			res.problem = fmt.Sprintf("record %d at offset %d: %v", rec.seq, off, errAltered)
		}
		prev = rec.hash
		info := x.extract(rec.doc)
		res.entries = appendIdxEntry(res.entries, off, rec.time, rec.kind, info.keys)
		res.count = rec.seq - sc.hdr.first + 1
		res.lastHash = rec.hash
		if rec.time != 0 {
			if res.minTime == 0 || rec.time < res.minTime {
				res.minTime = rec.time
			}
			if rec.time > res.maxTime {
				res.maxTime = rec.time
			}
		}
		expect = rec.seq + 1
		goodEnd = sc.off
		badTail = false
	}
}

// writeIdx writes a complete, sealed index for seg.
func writeIdx(seg *segment, entries []byte) error {
	tmp := seg.idxPath() + ".tmp"
	b := marshalIdxHeader(seg.first)
	b = append(b, entries...)
	b = append(b, marshalIdxFooter(seg)...)
	if err := writeFileSync(tmp, b); err != nil {
		return err
	}
	if err := os.Rename(tmp, seg.idxPath()); err != nil {
		return err
	}
	seg.idxSize = int64(len(b))
	return nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Name implements exporters.Exporter.
func (s *Store) Name() string { return "store" }

// Dir is the store directory.
func (s *Store) Dir() string { return s.opt.Dir }

// Notices delivers notices for the operator; a full channel drops them
// (they are also logged and counted).
func (s *Store) Notices() <-chan Notice { return s.notices }

func (s *Store) notify(n Notice) {
	s.noticeMu.Lock()
	now := time.Now()
	if t, ok := s.lastNotice[n.Action]; ok && now.Sub(t) < time.Minute {
		s.noticeMu.Unlock()
		return
	}
	s.lastNotice[n.Action] = now
	s.noticeMu.Unlock()
	select {
	case s.notices <- n:
	default:
	}
}

// Write implements exporters.Exporter: it appends every document to its
// stream. Documents it cannot store are reported in an
// *exporters.LostError.
func (s *Store) Write(docs [][]byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || s.ro {
		return &exporters.LostError{Exporter: "store", Lost: len(docs), Err: ErrClosed}
	}
	now := s.opt.now()
	s.maintain(now, false)
	var lost int
	var lastErr error
	for _, doc := range docs {
		if len(doc) > MaxDocument {
			s.st.tooLarge.Add(1)
			lost++
			lastErr = fmt.Errorf("document of %d bytes is above the store's limit of %d", len(doc), MaxDocument)
			continue
		}
		info := s.x.extract(doc)
		st := s.streams[StreamEvents]
		if info.kind == KindAlert {
			st = s.streams[StreamAlerts]
		}
		t := info.time
		if t == 0 {
			t = now.UnixNano()
		}
		if n, err := s.stage(st, t, info.kind, doc, info.keys, now); err != nil {
			lost += n
			lastErr = err
		}
	}
	for _, name := range Streams {
		st := s.streams[name]
		if len(st.staged) == 0 {
			continue
		}
		n := len(st.staged)
		if err := s.commit(st, now); err != nil {
			lost += n
			lastErr = err
		}
	}
	if lost > 0 {
		return &exporters.LostError{Exporter: "store", Lost: lost, Err: lastErr}
	}
	return nil
}

// AppendDeadLetter stores a document a sink rejected for good, wrapped with
// the sink's name and its reason, in the dead-letter stream.
func (s *Store) AppendDeadLetter(sink string, rec Record, reason string) error {
	doc := deadLetterDoc(sink, rec, reason, s.opt.now())
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || s.ro {
		return ErrClosed
	}
	now := s.opt.now()
	st := s.streams[StreamDeadLetter]
	info := s.x.extract(rec.Doc)
	t := rec.Time
	if t == 0 {
		t = now.UnixNano()
	}
	if _, err := s.stage(st, t, KindDeadLetter, doc, info.keys, now); err != nil {
		return err
	}
	return s.commit(st, now)
}

// stage adds one record to a stream's pending write, writing out what is
// pending first when the record does not fit in the active segment. On
// error it returns how many documents were lost: those staged before and
// this one.
func (s *Store) stage(st *stream, t int64, kind Kind, doc []byte, keys []uint64, now time.Time) (int, error) {
	recSize := int64(recOverhead + len(doc))
	if act := st.active(); act != nil {
		pending := int64(len(st.buf))
		if act.size+pending+recSize > s.opt.SegmentBytes && act.count+uint64(len(st.staged)) > 0 {
			n := len(st.staged)
			if err := s.commit(st, now); err != nil {
				return n + 1, err
			}
			if err := s.roll(st); err != nil {
				return 1, err
			}
		}
	}
	if st.f == nil {
		err := s.newSegment(st, now)
		if errors.Is(err, syscall.ENOSPC) && s.evictOne(st.name == StreamAlerts, "disk full", nil) {
			err = s.newSegment(st, now)
		}
		if err != nil {
			s.st.writeErrors.Add(1)
			if errors.Is(err, syscall.ENOSPC) {
				s.refused(1, st, err)
			}
			return 1, err
		}
	}
	seq := st.nextSeq + uint64(len(st.staged))
	prev := &st.lastHash
	if n := len(st.staged); n > 0 {
		prev = &st.staged[n-1].hash
	}
	h := chainHash(prev, seq, t, kind, doc)
	off := st.active().size + int64(len(st.buf))
	st.buf = appendRecord(st.buf, seq, t, kind, &h, doc)
	st.ibuf = appendIdxEntry(st.ibuf, off, t, kind, keys)
	st.staged = append(st.staged, stagedRec{seq: seq, time: t, hash: h})
	return 0, nil
}

func (st *stream) discard() {
	st.buf = st.buf[:0]
	st.ibuf = st.ibuf[:0]
	st.staged = st.staged[:0]
}

// commit writes a stream's staged records: it makes room first (retention
// by size and free space), writes them with one system call, and only then
// advances the stream. A failed write is cut back, so the segment never
// holds half a record.
func (s *Store) commit(st *stream, now time.Time) error {
	defer st.discard()
	if len(st.staged) == 0 {
		return nil
	}
	need := int64(len(st.buf) + len(st.ibuf))
	if err := s.makeRoom(st, need, now); err != nil {
		s.refused(len(st.staged), st, err)
		return err
	}
	for attempt := 0; ; attempt++ {
		err := s.writeStaged(st)
		if err == nil {
			break
		}
		s.st.writeErrors.Add(1)
		if errors.Is(err, syscall.ENOSPC) && attempt < 8 && s.evictOne(st.name == StreamAlerts, "disk full", st) {
			s.checkFree(now, true)
			continue
		}
		if errors.Is(err, syscall.ENOSPC) {
			s.refused(len(st.staged), st, err)
		}
		s.log.Error("store: write failed; documents not stored", "stream", st.name, "documents", len(st.staged), "error", err)
		return fmt.Errorf("store %s: %w", st.name, err)
	}
	s.st.full.Store(false)
	n := len(st.staged)
	last := st.staged[n-1]
	act := st.active()
	st.mu.Lock()
	for _, r := range st.staged {
		if act.minTime == 0 || r.time < act.minTime {
			act.minTime = r.time
		}
		if r.time > act.maxTime {
			act.maxTime = r.time
		}
	}
	act.count += uint64(n)
	act.size += int64(len(st.buf))
	act.idxSize += int64(len(st.ibuf))
	act.lastHash = last.hash
	st.mu.Unlock()
	s.total += need
	s.free -= need
	st.nextSeq = last.seq + 1
	st.lastHash = last.hash
	st.head.Store(last.seq)
	s.st.written.Add(uint64(n))
	s.st.writtenBytes.Add(uint64(len(st.buf)))
	s.dirty = true
	st.signal()
	return nil
}

func (s *Store) writeStaged(st *stream) error {
	if st.f == nil {
		return errors.New("no segment to write to")
	}
	act := st.active()
	if _, err := st.f.Write(st.buf); err != nil {
		// Cut back to the last complete record.
		st.f.Truncate(act.size)
		return err
	}
	if _, err := st.idx.Write(st.ibuf); err != nil {
		st.f.Truncate(act.size)
		st.idx.Truncate(act.idxSize)
		return err
	}
	return nil
}

// refused counts documents refused for lack of room and tells the
// operator (at most once a minute).
func (s *Store) refused(n int, st *stream, err error) {
	s.st.droppedFull.Add(uint64(n))
	s.st.full.Store(true)
	what := "routine documents are"
	if st.name == StreamAlerts {
		what = "even alerts are"
	}
	s.notify(Notice{Action: "store-full",
		Message: fmt.Sprintf("the store is full and nothing more can be removed: %s being refused", what),
		Details: map[string]string{"dir": s.opt.Dir, "stream": st.name, "error": err.Error()}})
}

// makeRoom removes old segments until need more bytes fit under MaxBytes
// and above MinFreeBytes. Routine streams are refused when nothing more can
// be removed; alerts may use what the file system still has.
func (s *Store) makeRoom(st *stream, need int64, now time.Time) error {
	s.checkFree(now, false)
	// Routine documents never push out alerts; an alert may push out
	// anything older, alerts last.
	for s.total+need > s.opt.MaxBytes {
		if !s.evictOne(st.name == StreamAlerts, "store size limit", st) {
			return fmt.Errorf("store is at its size limit (%d bytes) with nothing left to remove", s.opt.MaxBytes)
		}
	}
	for s.free-need < s.opt.MinFreeBytes {
		if !s.evictOne(false, "file system free space", st) {
			if st.name == StreamAlerts {
				return nil // alerts may use the reserve
			}
			return fmt.Errorf("file system free space (%d bytes) is below the %d bytes the store leaves free, with nothing left to remove", s.free, s.opt.MinFreeBytes)
		}
		s.checkFree(now, true)
	}
	return nil
}

// checkFree refreshes the free-space figure at most once a second, or at
// once with force.
func (s *Store) checkFree(now time.Time, force bool) {
	if !force && now.Sub(s.freeAt) < time.Second && now.After(s.freeAt) {
		return
	}
	free, err := s.opt.statfs(s.opt.Dir)
	if err != nil {
		s.log.Warn("store: cannot read free space", "dir", s.opt.Dir, "error", err)
		return
	}
	s.free = int64(free)
	s.freeAt = now
}

// evictOne removes the oldest removable segment: routine streams first,
// alerts only when allowAlerts and no routine segment is left. The active
// segment of a stream is rolled first when it is all that is left, except
// for busy, the stream whose staged records are about to be written.
func (s *Store) evictOne(allowAlerts bool, reason string, busy *stream) bool {
	order := []string{StreamEvents, StreamDeadLetter}
	if allowAlerts {
		order = append(order, StreamAlerts)
	}
	// A stream is emptied, its active segment last, before the next one
	// in the order loses anything.
	for _, name := range order {
		st := s.streams[name]
		if len(st.segs) > 1 || (len(st.segs) == 1 && st.f == nil) {
			s.removeOldest(st, reason)
			return true
		}
		if act := st.active(); act != nil && act.count > 0 && st != busy {
			// Roll it so it can go. A failed seal (the index footer on
			// a full disk) still closes the segment: the index is
			// rebuilt from the segment when needed.
			if err := s.roll(st); err != nil {
				s.log.Warn("store: sealing a segment to free space", "stream", name, "error", err)
			}
			if len(st.segs) > 0 && st.f == nil {
				s.removeOldest(st, reason)
				return true
			}
		}
	}
	// Only the active segment of the stream being written is left.
	if busy != nil && (allowAlerts || busy.name != StreamAlerts) {
		if act := busy.active(); act != nil && act.count > 0 {
			return s.evictBusy(busy, reason)
		}
	}
	return false
}

// evictBusy removes the active segment of a stream whose staged records
// are about to be written: the segment is sealed and removed, a new one is
// started and the staged records are moved to it (their index offsets
// rebased). Without a new segment the staged records cannot be written;
// the caller's write then fails and is counted.
func (s *Store) evictBusy(st *stream, reason string) bool {
	delta := st.active().size - segHdrSize
	if err := s.roll(st); err != nil {
		s.log.Warn("store: sealing a segment to free space", "stream", st.name, "error", err)
	}
	if len(st.segs) == 0 || st.f != nil {
		return false
	}
	s.removeOldest(st, reason)
	if err := s.newSegment(st, s.opt.now()); err != nil {
		s.log.Error("store: cannot start a segment after freeing space", "stream", st.name, "error", err)
		return false
	}
	rebaseIdx(st.ibuf, delta)
	return true
}

// rebaseIdx moves the segment offsets of staged index entries back by
// delta bytes.
func rebaseIdx(ibuf []byte, delta int64) {
	for i := 0; i+idxEntryFixed <= len(ibuf); {
		off := int64(binary.LittleEndian.Uint32(ibuf[i:])) - delta
		binary.LittleEndian.PutUint32(ibuf[i:], uint32(off))
		i += idxEntryFixed + 8*int(ibuf[i+13])
	}
}

func (s *Store) removeOldest(st *stream, reason string) {
	st.mu.Lock()
	seg := st.segs[0]
	st.segs = st.segs[1:]
	next := st.nextSeq
	if len(st.segs) > 0 {
		next = st.segs[0].first
	}
	st.first.Store(next)
	st.mu.Unlock()
	os.Remove(seg.path)
	os.Remove(seg.idxPath())
	s.total -= seg.size + seg.idxSize
	s.free += seg.size + seg.idxSize
	if seg.count == 0 {
		return
	}
	if reason == "age" {
		s.st.evictedAge.Add(seg.count)
	} else {
		s.st.evicted.Add(seg.count)
	}
	if st.name == StreamAlerts {
		s.st.evictedAlerts.Add(seg.count)
	}
	// Records a consumer had not delivered yet: its live position when it
	// runs, else its last committed cursor.
	var undelivered uint64
	for name, c := range s.positions(st.name) {
		if c <= seg.last() {
			n := seg.last() - max(c, seg.first) + 1
			undelivered = max(undelivered, n)
			s.log.Error("store: removed records an exporter had not delivered", "exporter", name, "stream", st.name,
				"first", max(c, seg.first), "last", seg.last(), "reason", reason)
		}
	}
	if undelivered > 0 {
		s.st.evictedUndelivered.Add(undelivered)
		s.notify(Notice{Action: "store-evicted-undelivered",
			Message: fmt.Sprintf("%d %s records removed (%s) before every exporter delivered them", undelivered, st.name, reason),
			Details: map[string]string{"stream": st.name, "segment": seg.name(), "reason": reason}})
	}
	s.log.Info("store: removed segment", "stream", st.name, "segment", seg.name(), "records", seg.count, "reason", reason)
}

// maintain applies age retention and rolls old active segments, at most
// once a minute unless forced.
func (s *Store) maintain(now time.Time, force bool) {
	if !force && now.Sub(s.maintAt) < time.Minute && now.After(s.maintAt) {
		return
	}
	s.maintAt = now
	for _, name := range Streams {
		st := s.streams[name]
		if act := st.active(); act != nil && act.count > 0 && now.Sub(st.created) >= s.opt.SegmentAge {
			if err := s.roll(st); err != nil {
				s.log.Error("store: cannot roll segment", "stream", name, "error", err)
			}
		}
		maxAge := s.opt.MaxAge
		if name == StreamAlerts {
			maxAge = s.opt.AlertMaxAge
		}
		if maxAge <= 0 {
			continue
		}
		cut := now.Add(-maxAge).UnixNano()
		for len(st.segs) > 0 && !(st.f != nil && len(st.segs) == 1) {
			seg := st.segs[0]
			if seg.maxTime == 0 || seg.maxTime >= cut {
				break
			}
			s.removeOldest(st, "age")
		}
	}
}

// newSegment starts a segment at the stream's next sequence number.
func (s *Store) newSegment(st *stream, now time.Time) error {
	seg := &segment{path: filepath.Join(st.dir, segName(st.nextSeq)), first: st.nextSeq, lastHash: st.lastHash}
	hdr := marshalHeader(&segHeader{stream: st.id, first: st.nextSeq, created: now.UnixNano(), prevHash: st.lastHash})
	// A leftover empty file of the same name (an empty segment removed at
	// open) is replaced.
	f, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("store: new segment: %w", err)
	}
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		os.Remove(seg.path)
		return fmt.Errorf("store: new segment: %w", err)
	}
	idx, err := os.OpenFile(seg.idxPath(), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err == nil {
		_, err = idx.Write(marshalIdxHeader(seg.first))
	}
	if err != nil {
		f.Close()
		if idx != nil {
			idx.Close()
		}
		os.Remove(seg.path)
		os.Remove(seg.idxPath())
		return fmt.Errorf("store: new segment index: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		idx.Close()
		return fmt.Errorf("store: new segment: %w", err)
	}
	syncDir(st.dir)
	seg.size = segHdrSize
	seg.idxSize = idxHdrSize
	st.mu.Lock()
	// Drop the placeholder of an empty segment removed at open.
	if n := len(st.segs); n > 0 && st.segs[n-1].count == 0 && st.segs[n-1].first == seg.first {
		st.segs = st.segs[:n-1]
	}
	st.segs = append(st.segs, seg)
	st.mu.Unlock()
	if len(st.segs) == 1 {
		st.first.Store(seg.first)
	}
	st.f, st.idx, st.created = f, idx, now
	s.total += seg.size + seg.idxSize
	return nil
}

// roll seals the active segment: its index gets a footer, both files are
// synced and closed. The next record starts a new segment.
func (s *Store) roll(st *stream) error {
	act := st.active()
	if act == nil {
		return nil
	}
	st.mu.RLock()
	footer := marshalIdxFooter(act)
	st.mu.RUnlock()
	var errs []error
	n, err := st.idx.Write(footer)
	if err != nil {
		// A torn footer is not recognised: the index is rebuilt at open.
		errs = append(errs, err)
	}
	errs = append(errs, st.f.Sync(), st.idx.Sync(), st.f.Close(), st.idx.Close())
	st.mu.Lock()
	act.idxSize += int64(n)
	act.sealed = true
	st.mu.Unlock()
	s.total += int64(n)
	st.f, st.idx = nil, nil
	if act.count == 0 {
		// Never keep an empty segment: the next one starts at the same
		// number with the same chain hash.
		st.mu.Lock()
		st.segs = st.segs[:len(st.segs)-1]
		st.mu.Unlock()
		os.Remove(act.path)
		os.Remove(act.idxPath())
		s.total -= act.size + act.idxSize
	}
	return errors.Join(errs...)
}

// Flush implements exporters.Exporter: with Fsync set, what was written is
// made durable.
func (s *Store) Flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.dirty || !s.opt.Fsync || s.closed {
		return nil
	}
	s.dirty = false
	var errs []error
	for _, st := range s.streams {
		if st.f != nil {
			if err := st.f.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("store %s: fsync: %w", st.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close implements exporters.Exporter: it seals the active segments and
// releases the store.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || s.ro {
		s.closed = true
		return nil
	}
	s.closed = true
	s.isClose.Store(true)
	var errs []error
	for _, name := range Streams {
		if err := s.roll(s.streams[name]); err != nil {
			errs = append(errs, err)
		}
		s.streams[name].signal()
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	return errors.Join(errs...)
}

// Register tells the store a consumer's position, so removing records it
// has not delivered yet is counted and reported. cursor returns the next
// sequence number the consumer will read in a stream.
func (s *Store) Register(name string, cursor func(stream string) uint64) {
	s.wmu.Lock()
	s.consumers[name] = cursor
	s.wmu.Unlock()
}

// Unregister forgets a consumer.
func (s *Store) Unregister(name string) {
	s.wmu.Lock()
	delete(s.consumers, name)
	s.wmu.Unlock()
}

// Head returns the last sequence number written to a stream (0: none).
func (s *Store) Head(stream string) uint64 { return s.streams[stream].head.Load() }

// First returns the first sequence number still stored in a stream.
func (s *Store) First(stream string) uint64 { return s.streams[stream].first.Load() }

// Changed returns a channel that is closed when records are next added to
// the stream (or the store closes).
func (s *Store) Changed(stream string) <-chan struct{} { return s.streams[stream].changed() }

// Wait blocks until stream has a record after seq, or ctx ends.
func (s *Store) Wait(ctx context.Context, stream string, seq uint64) error {
	for {
		ch := s.Changed(stream)
		if s.Head(stream) > seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
