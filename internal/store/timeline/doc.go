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
)

// Doc is the part of an ECS document a timeline shows. Raw is the whole
// document.
type Doc struct {
	Timestamp time.Time `json:"@timestamp"`
	Message   string    `json:"message"`
	Event     struct {
		Kind     string   `json:"kind"`
		Action   string   `json:"action"`
		Outcome  string   `json:"outcome"`
		Category []string `json:"category"`
		Type     []string `json:"type"`
		Severity int      `json:"severity"`
	} `json:"event"`
	Process Proc `json:"process"`
	User    User `json:"user"`
	File    File `json:"file"`
	Source  Addr `json:"source"`
	Dest    Addr `json:"destination"`
	Network struct {
		Transport string `json:"transport"`
		Direction string `json:"direction"`
	} `json:"network"`
	Rule struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rule"`
	Bansho struct {
		LoginUser User `json:"login_user"`
		Redacted  bool `json:"redacted"`
		Content   struct {
			MyNumber        Finding `json:"my_number"`
			CorporateNumber Finding `json:"corporate_number"`
		} `json:"content"`
		File struct {
			Protected bool     `json:"protected"`
			Tainted   bool     `json:"tainted"`
			Syscall   string   `json:"syscall"`
			Flags     []string `json:"flags"`
			Bytes     int64    `json:"bytes"`
		} `json:"file"`
		Network struct {
			Syscall string `json:"syscall"`
			Tainted bool   `json:"tainted"`
			Bytes   int64  `json:"bytes"`
		} `json:"network"`
	} `json:"bansho"`

	Raw json.RawMessage `json:"-"`
	ord uint64          // sequence number or line: order among equal timestamps
}

// Proc is process.* (and process.parent.*).
type Proc struct {
	EntityID    string     `json:"entity_id"`
	PID         int        `json:"pid"`
	Name        string     `json:"name"`
	Executable  string     `json:"executable"`
	CommandLine string     `json:"command_line"`
	Args        []string   `json:"args"`
	Start       *time.Time `json:"start"`
	End         *time.Time `json:"end"`
	ExitCode    *int       `json:"exit_code"`
	Interactive bool       `json:"interactive"`
	User        User       `json:"user"`
	RealUser    User       `json:"real_user"`
	Parent      *Proc      `json:"parent"`
}

// User is user.* and its variants.
type User struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Effective *User  `json:"effective"`
}

// File is file.*.
type File struct {
	Path       string `json:"path"`
	TargetPath string `json:"target_path"`
}

// Addr is source.* or destination.*.
type Addr struct {
	IP     string `json:"ip"`
	Port   int    `json:"port"`
	Domain string `json:"domain"`
}

// Finding is bansho.content.my_number (or corporate_number).
type Finding struct {
	Distinct    int    `json:"distinct"`
	Occurrences int    `json:"occurrences"`
	Confidence  string `json:"confidence"`
}

// Parse decodes one document.
func Parse(b []byte) (*Doc, error) {
	d := &Doc{}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, err
	}
	d.Raw = append(json.RawMessage(nil), b...)
	return d, nil
}

func (d *Doc) parentID() string {
	if d.Process.Parent == nil {
		return ""
	}
	return d.Process.Parent.EntityID
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
