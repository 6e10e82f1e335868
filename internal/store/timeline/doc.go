// Package timeline tells the story of an incident from stored ECS
// documents: the processes involved as a tree, in time order, with each
// file access, connection, content finding and alert under the process
// that did it.
//
// A query starts from seeds (documents about a file or a directory, a
// user, a pid or a process entity id) and follows process entity ids: the
// seeds' processes, their descendants (process.parent.entity_id), and the
// parent of each as context. Over a store it reads the segment indexes
// and only the documents they point at.
package timeline

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/bansho-sec/bansho/internal/ecsdoc"
)

// Doc is a decoded document (internal/ecsdoc); Raw is the whole document.
type Doc struct {
	ecsdoc.Doc
	Raw json.RawMessage `json:"-"`
	ord uint64          // sequence number or line: order among equal timestamps
}

// The decoded parts a timeline names.
type (
	Proc    = ecsdoc.Proc
	User    = ecsdoc.User
	File    = ecsdoc.File
	Addr    = ecsdoc.Addr
	Finding = ecsdoc.Finding
)

// Parse decodes one document.
func Parse(b []byte) (*Doc, error) {
	d := &Doc{}
	if err := ecsdoc.Decode(b, &d.Doc); err != nil {
		return nil, err
	}
	d.Raw = append(json.RawMessage(nil), b...)
	return d, nil
}

// Filter selects the seeds of a timeline and its time range.
type Filter struct {
	EntityID string
	PID      int    // 0: any
	File     string // a file, or a directory: everything under it
	User     string // name or id: acting, effective, real or login user
	Since    time.Time
	Until    time.Time
}

// Empty reports whether no seed is named: every document in the time
// range is a seed.
func (f *Filter) Empty() bool {
	return f.EntityID == "" && f.PID == 0 && f.File == "" && f.User == ""
}

func (f *Filter) inRange(t time.Time) bool {
	return (f.Since.IsZero() || !t.Before(f.Since)) && (f.Until.IsZero() || !t.After(f.Until))
}

// seed reports whether a document is about what the filter names (the
// document itself, not its hashes).
func (f *Filter) seed(d *Doc) bool {
	if f.Empty() {
		return true
	}
	if f.EntityID != "" && d.Process.EntityID != f.EntityID {
		return false
	}
	if f.PID != 0 && d.Process.PID != f.PID {
		return false
	}
	if f.File != "" && !underPath(d.File.Path, f.File) && !underPath(d.File.TargetPath, f.File) {
		return false
	}
	if f.User != "" && !d.hasUser(f.User) {
		return false
	}
	return true
}

func underPath(p, want string) bool {
	if p == "" {
		return false
	}
	want = strings.TrimSuffix(want, "/")
	return p == want || strings.HasPrefix(p, want+"/") || want == ""
}

func (d *Doc) hasUser(u string) bool {
	for _, x := range []User{d.User, d.Process.User, d.Process.RealUser, d.Bansho.LoginUser} {
		if x.ID == u || x.Name == u {
			return true
		}
	}
	if e := d.User.Effective; e != nil && (e.ID == u || e.Name == u) {
		return true
	}
	return false
}

// ParseTime reads a --since/--until value: a duration back from now
// ("1h", "30m", "2h30m", "7d"), or an RFC 3339 time, or a date.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		loc := time.Local
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &timeError{s}
}

type timeError struct{ s string }

func (e *timeError) Error() string {
	return strconv.Quote(e.s) + " is neither a duration back from now (30m, 1h, 7d) nor an RFC 3339 time (2026-11-22T09:00:00+09:00)"
}
