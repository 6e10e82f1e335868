package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cursors are a consumer's committed positions: the next sequence number
// to deliver, per stream.
type Cursors map[string]uint64

// validConsumer keeps consumer names usable as file names.
var validConsumer = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func checkConsumer(name string) error {
	if !validConsumer.MatchString(name) {
		return fmt.Errorf("store: consumer name %q: use 1-64 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

func (s *Store) cursorPath(name string) string {
	return filepath.Join(s.opt.Dir, "cursors", name+".json")
}

type cursorFile struct {
	Next    map[string]uint64 `json:"next"`
	Updated time.Time         `json:"updated"`
}

// CursorDamage is a consumer's cursor file that could not be read. The
// file is moved aside into cursors/damaged/ (a read-only store leaves it
// in place) and the consumer resumes from the previous copy of its cursor,
// or from the oldest record stored: a damaged cursor costs duplicates,
// never a gap and never a sensor that does not start.
type CursorDamage struct {
	Consumer   string
	File       string // the damaged file
	MovedTo    string // where it was kept; empty when left in place
	Reason     string
	ResumeFrom string // "previous copy" or "oldest record"
}

// loadCommitted reads every consumer's saved cursors, so retention can
// count records a consumer that is not running yet has not delivered.
// Damaged cursor files are handled here, once, at open.
func (s *Store) loadCommitted() {
	ents, err := os.ReadDir(filepath.Join(s.opt.Dir, "cursors"))
	if err != nil {
		return
	}
	names := map[string]bool{}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			name, ok = strings.CutSuffix(e.Name(), ".json.prev")
		}
		if ok && checkConsumer(name) == nil {
			names[name] = true
		}
	}
	for name := range names {
		c, err := s.readCursor(name)
		if err != nil {
			s.log.Warn("store: unreadable cursor file", "consumer", name, "error", err)
			continue
		}
		if c != nil {
			s.committed[name] = c
		}
	}
}

// readCursor reads a consumer's cursor: its file, else the previous copy
// SaveCursors keeps (a crash between its two renames leaves only that),
// else nil (a new consumer). A damaged file is moved aside and reported,
// and the previous copy, if good, stands in for it.
func (s *Store) readCursor(name string) (Cursors, error) {
	p := s.cursorPath(name)
	c, err := readCursorFile(p)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		var perr *cursorParseError
		if !errors.As(err, &perr) {
			return nil, err // an I/O error: not damage, do not move the file
		}
		d := CursorDamage{Consumer: name, File: p, Reason: perr.Error(), ResumeFrom: "oldest record"}
		prev, perr2 := readCursorFile(p + ".prev")
		if perr2 == nil {
			d.ResumeFrom = "previous copy"
		} else {
			prev = nil
		}
		s.cursorDamaged(&d)
		return prev, nil
	}
	prev, err := readCursorFile(p + ".prev")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, nil // a damaged previous copy alone: start from the oldest record
	}
	return prev, nil
}

// cursorDamaged moves a damaged cursor file aside (writable stores) and
// records, counts, logs and announces it.
func (s *Store) cursorDamaged(d *CursorDamage) {
	s.curMu.Lock()
	for _, old := range s.damagedCur {
		if old.Consumer == d.Consumer && s.ro {
			s.curMu.Unlock()
			return // already reported by this read-only open
		}
	}
	s.curMu.Unlock()
	if !s.ro {
		ddir := filepath.Join(s.opt.Dir, "cursors", "damaged")
		to := filepath.Join(ddir, fmt.Sprintf("%s.json.%s", d.Consumer, time.Now().UTC().Format("20060102T150405.000000000Z")))
		if err := makePrivateDir(ddir, s.log); err == nil {
			if err := os.Rename(d.File, to); err == nil {
				d.MovedTo = to
				syncDir(filepath.Dir(d.File))
			}
		}
		if d.MovedTo == "" {
			// Cannot move it (full disk, permissions): remove it, so
			// the next commit is not blocked and the next start does
			// not meet it again; the report below keeps the facts.
			os.Remove(d.File)
		}
		s.st.damagedCursors.Add(1)
		s.log.Error("store: damaged cursor file set aside; the exporter resumes from "+d.ResumeFrom+" (records may be delivered twice)",
			"consumer", d.Consumer, "file", d.File, "moved_to", d.MovedTo, "problem", d.Reason)
		s.notify(Notice{Action: "cursor-damaged",
			Message: fmt.Sprintf("cursor of exporter %s was damaged (%s); it resumes from the %s", d.Consumer, d.Reason, d.ResumeFrom),
			Details: map[string]string{"consumer": d.Consumer, "file": d.File, "moved_to": d.MovedTo, "resume_from": d.ResumeFrom}})
	}
	s.curMu.Lock()
	s.damagedCur = append(s.damagedCur, *d)
	s.curMu.Unlock()
}

// DamagedCursors lists the cursor files found damaged since the store was
// opened (a read-only store: those present now).
func (s *Store) DamagedCursors() []CursorDamage {
	s.curMu.Lock()
	defer s.curMu.Unlock()
	return append([]CursorDamage(nil), s.damagedCur...)
}

// SetAsideCursors lists the damaged cursor files kept in
// cursors/damaged/ (by earlier starts), oldest first.
func (s *Store) SetAsideCursors() []string {
	paths, _ := filepath.Glob(filepath.Join(s.opt.Dir, "cursors", "damaged", "*.json.*"))
	sort.Strings(paths)
	return paths
}

// cursorParseError is a cursor file whose content is not a cursor.
type cursorParseError struct{ err error }

func (e *cursorParseError) Error() string { return e.err.Error() }

func readCursorFile(path string) (Cursors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCursor(b)
}

// parseCursor decodes a cursor file; anything but a JSON object with a
// "next" map of stream to positive number is damage.
func parseCursor(b []byte) (Cursors, error) {
	var cf cursorFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, &cursorParseError{fmt.Errorf("not a cursor file: %w", err)}
	}
	if cf.Next == nil {
		return nil, &cursorParseError{errors.New(`not a cursor file: no "next" positions`)}
	}
	c := Cursors{}
	for k, v := range cf.Next {
		c[k] = v
	}
	return c, nil
}

// LoadCursors reads a consumer's committed cursors. A consumer without
// saved cursors (new) starts at the oldest record stored. A cursor past the
// end of its stream (the store lost its last records in a power cut after
// the consumer had shipped them) is moved back to the end, so new records
// are never skipped. A damaged cursor file is set aside (see
// CursorDamage): the consumer starts anyway.
func (s *Store) LoadCursors(name string) (Cursors, error) {
	if err := checkConsumer(name); err != nil {
		return nil, err
	}
	c, err := s.readCursor(name)
	if err != nil {
		return nil, fmt.Errorf("store: cursor of %s: %w", name, err)
	}
	if c == nil {
		c = Cursors{}
	}
	for _, stream := range Streams {
		next, ok := c[stream]
		if !ok || next < 1 {
			next = s.First(stream)
		}
		if head := s.Head(stream); next > head+1 {
			s.log.Warn("store: consumer cursor is past the end of the stream (records lost in a crash after delivery?); moved back",
				"consumer", name, "stream", stream, "cursor", next, "head", head)
			next = head + 1
		}
		c[stream] = next
	}
	return c, nil
}

// SaveCursors commits a consumer's cursors atomically (write, fsync,
// rename). Streams missing from c keep their saved position.
func (s *Store) SaveCursors(name string, c Cursors) error {
	if err := checkConsumer(name); err != nil {
		return err
	}
	if s.ro {
		return ErrClosed
	}
	s.curMu.Lock()
	defer s.curMu.Unlock()
	merged := Cursors{}
	for k, v := range s.committed[name] {
		merged[k] = v
	}
	for k, v := range c {
		merged[k] = v
	}
	b, err := json.Marshal(cursorFile{Next: merged, Updated: time.Now().UTC()})
	if err != nil {
		return err
	}
	p := s.cursorPath(name)
	if err := writeFileSync(p+".tmp", b); err != nil {
		return fmt.Errorf("store: save cursor of %s: %w", name, err)
	}
	// The committed cursor becomes the previous copy, kept for a cursor
	// file damaged later: a crash between the renames leaves the
	// previous copy alone, which readCursor falls back to.
	if err := os.Rename(p, p+".prev"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: save cursor of %s: %w", name, err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return fmt.Errorf("store: save cursor of %s: %w", name, err)
	}
	syncDir(filepath.Dir(p))
	s.committed[name] = merged
	return nil
}

// DeleteCursors forgets a consumer that is no longer configured, so its
// old position stops counting as undelivered records.
func (s *Store) DeleteCursors(name string) error {
	if err := checkConsumer(name); err != nil {
		return err
	}
	s.curMu.Lock()
	defer s.curMu.Unlock()
	delete(s.committed, name)
	os.Remove(s.cursorPath(name) + ".prev")
	if err := os.Remove(s.cursorPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: delete cursor of %s: %w", name, err)
	}
	return nil
}

// Consumers lists the consumers with saved cursors, sorted.
func (s *Store) Consumers() []string {
	s.curMu.Lock()
	defer s.curMu.Unlock()
	out := make([]string, 0, len(s.committed))
	for n := range s.committed {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Committed returns a consumer's last saved cursors (nil if none).
func (s *Store) Committed(name string) Cursors {
	s.curMu.Lock()
	defer s.curMu.Unlock()
	c := s.committed[name]
	if c == nil {
		return nil
	}
	out := Cursors{}
	for k, v := range c {
		out[k] = v
	}
	return out
}

// positions returns, per consumer, the next record it will deliver in a
// stream: the live position of a registered consumer, else its committed
// cursor. Called with wmu held.
func (s *Store) positions(stream string) map[string]uint64 {
	out := map[string]uint64{}
	s.curMu.Lock()
	for name, c := range s.committed {
		if v, ok := c[stream]; ok {
			out[name] = v
		}
	}
	s.curMu.Unlock()
	for name, cur := range s.consumers {
		out[name] = cur(stream)
	}
	return out
}

// Lag is how many records of a stream a consumer whose next record is next
// has not delivered yet.
func (s *Store) Lag(stream string, next uint64) uint64 {
	head := s.Head(stream)
	if next > head {
		return 0
	}
	if first := s.First(stream); next < first {
		next = first
	}
	return head - next + 1
}

// Lags reports every consumer's lag per stream: registered consumers by
// their live position, the others by their committed cursors.
func (s *Store) Lags() map[string]map[string]uint64 {
	out := map[string]map[string]uint64{}
	s.wmu.Lock()
	live := map[string]func(string) uint64{}
	for n, f := range s.consumers {
		live[n] = f
	}
	s.wmu.Unlock()
	s.curMu.Lock()
	committed := map[string]Cursors{}
	for n, c := range s.committed {
		committed[n] = c
	}
	s.curMu.Unlock()
	for _, stream := range Streams {
		for n, c := range committed {
			if _, ok := live[n]; ok {
				continue
			}
			if v, ok := c[stream]; ok {
				if out[n] == nil {
					out[n] = map[string]uint64{}
				}
				out[n][stream] = s.Lag(stream, v)
			}
		}
		for n, f := range live {
			if out[n] == nil {
				out[n] = map[string]uint64{}
			}
			out[n][stream] = s.Lag(stream, f(stream))
		}
	}
	return out
}

// deadLetterDoc wraps a rejected document with why and by whom it was
// rejected. The original is kept whole under "document".
func deadLetterDoc(sink string, rec Record, reason string, now time.Time) []byte {
	b := make([]byte, 0, len(rec.Doc)+256)
	b = append(b, `{"@timestamp":`...)
	b = strconv.AppendQuote(b, now.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"event":{"kind":"state","action":"dead-letter"},"bansho":{"dead_letter":{"exporter":`...)
	b, _ = appendJSONString(b, sink)
	b = append(b, `,"reason":`...)
	b, _ = appendJSONString(b, reason)
	b = append(b, `,"stream":`...)
	b = strconv.AppendQuote(b, rec.Stream)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, rec.Seq, 10)
	b = append(b, `}},"document":`...)
	if json.Valid(rec.Doc) {
		b = append(b, rec.Doc...)
	} else {
		b, _ = appendJSONString(b, string(rec.Doc))
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) ([]byte, error) {
	q, err := json.Marshal(s)
	if err != nil {
		return b, err
	}
	return append(b, q...), nil
}
