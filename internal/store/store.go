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

	"github.com/klauspost/compress/zstd"
)

// Options configures a store.
type Options struct {
	Dir          string
	MaxBytes     int64         // segments and indexes of all streams (default 4 GiB)
	MinFreeBytes int64         // leave at least this much free on the file system (0: none; the configuration default is DefaultMinFreeBytes)
	MaxAge       time.Duration // routine documents older than this are removed (0: no age limit)
	AlertMaxAge  time.Duration // alerts older than this are removed (0: no age limit)
	SegmentBytes int64         // start a new segment past this size (default 64 MiB)
	SegmentAge   time.Duration // ... or when the segment is this old (default 1h)
	Fsync        bool          // fsync what was written at every Flush
	// NoCompress stores every record as it is, instead of the records of
	// each write as one zstd-compressed frame (see compress.go).
	NoCompress bool
	Log        *slog.Logger

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
	Action  string // store-full, store-evicted-undelivered, store-recovered, cursor-damaged
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
	skipped atomic.Uint64 // segments queries skipped by key filter

	curMu      sync.Mutex
	committed  map[string]Cursors // last saved cursors of every consumer, from cursors/
	damagedCur []CursorDamage     // cursor files found damaged

	wmu        sync.Mutex // writes, rolls and evictions
	x          extractor
	enc        *zstd.Encoder // nil: records are not compressed
	zbuf       []byte        // the other half of a stream's write buffer
	dirty      bool
	closed     bool
	total      int64 // bytes of all segments and indexes
	free       int64 // free bytes on the file system at the last check, minus what was written since
	freeAt     time.Time
	maintAt    time.Time
	consumers  map[string]func(stream string) uint64
	pendingIdx []*segment // indexes open could not write (full disk), under wmu

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
	damagedCursors                              atomic.Uint64
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
	bloom    bloom     // keys of the active segment's records
	nkeys    int       // keys added to it (with repeats)
	staged   []stagedRec
	// Bytes of records before and after compression, over recent
	// writes: the estimate of what staged records take on disk.
	rawIn, diskOut int64

	// damage found at a read-only open (Store.Damage)
	damage []Damage

	head   atomic.Uint64 // last sequence number written; 0: none
	first  atomic.Uint64 // first sequence number still stored
	wakeMu sync.Mutex
	wake   chan struct{} // closed when records are added
}

type stagedRec struct {
	seq  uint64
	time int64
	hash [hashSize]byte
	size int // bytes of the record in buf (before compression)
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
	if !opt.NoCompress {
		var err error
		if s.enc, err = newEncoder(); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
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
	if err := checkStoreDir(dir); err != nil {
		return nil, err
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
		return nil, notStore{fmt.Errorf("store: %s holds no store (no %s directory)", dir, strings.Join(Streams, ", "))}
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

// ErrNotStore is in the error of OpenReadOnly and Verify when the
// directory named does not exist, is not a directory or holds no store:
// the caller named the wrong place, nothing was read.
var ErrNotStore = errors.New("no store there")

// notStore is an error that is also ErrNotStore.
type notStore struct{ err error }

func (e notStore) Error() string   { return e.err.Error() }
func (e notStore) Unwrap() []error { return []error{e.err, ErrNotStore} }

// checkStoreDir checks that dir exists and is a directory.
func checkStoreDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return notStore{fmt.Errorf("store: %w", err)}
	}
	if !fi.IsDir() {
		return notStore{fmt.Errorf("store: %s is not a directory", dir)}
	}
	return nil
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
