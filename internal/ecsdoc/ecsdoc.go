// Package ecsdoc decodes the part of bansho's ECS documents that the
// commands reading them back use: `bansho timeline` (internal/store/
// timeline) and `bansho incident` (internal/incident). One decoder, so a
// field the encoder renames is renamed for both.
package ecsdoc

import (
	"encoding/json"
	"time"
)

// Doc is the part of an ECS document the readers use.
type Doc struct {
	Timestamp time.Time `json:"@timestamp"`
	Message   string    `json:"message"`
	Event     struct {
		ID       string   `json:"id"`
		Kind     string   `json:"kind"`
		Action   string   `json:"action"`
		Outcome  string   `json:"outcome"`
		Category []string `json:"category"`
		Type     []string `json:"type"`
		Severity int      `json:"severity"`
	} `json:"event"`
	Host struct {
		Name string `json:"name"`
		ID   string `json:"id"`
	} `json:"host"`
	Process Proc `json:"process"`
	User    User `json:"user"`
	File    File `json:"file"`
	Source  Addr `json:"source"`
	Dest    Addr `json:"destination"`
	Network struct {
		Transport string `json:"transport"`
		Protocol  string `json:"protocol"`
		Direction string `json:"direction"`
	} `json:"network"`
	Rule struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rule"`
	Bansho Bansho `json:"bansho"`
}

// Bansho is bansho.*.
type Bansho struct {
	LoginUser User     `json:"login_user"`
	Redacted  bool     `json:"redacted"`
	Truncated bool     `json:"truncated"`
	Content   *Content `json:"content"` // nil: no content was scanned
	File      struct {
		Protected bool     `json:"protected"`
		Tainted   bool     `json:"tainted"`
		Syscall   string   `json:"syscall"`
		Flags     []string `json:"flags"`
		Bytes     int64    `json:"bytes"`
		Mount     *Mount   `json:"mount"`
	} `json:"file"`
	Network struct {
		Syscall          string `json:"syscall"`
		Tainted          bool   `json:"tainted"`
		TLS              bool   `json:"tls"`
		Bytes            int64  `json:"bytes"`
		FD               *int   `json:"fd"`
		DestinationClass string `json:"destination_class"`
	} `json:"network"`
	Tainted bool `json:"tainted"`
	Repeat  *struct {
		Count uint64 `json:"count"`
		Bytes uint64 `json:"bytes"`
	} `json:"repeat"`
	Health *struct {
		Drops    map[string]int64 `json:"drops"`
		Counters map[string]int64 `json:"counters"`
	} `json:"health"`
	Alert struct {
		Events []string `json:"events"`
	} `json:"alert"`
	ProcessUnknown struct {
		Unknown bool `json:"unknown"`
	} `json:"process"`
}

// Content is bansho.content.
type Content struct {
	MyNumber        Finding  `json:"my_number"`
	CorporateNumber Finding  `json:"corporate_number"`
	SampledBytes    int64    `json:"sampled_bytes"`
	Truncated       bool     `json:"truncated"`
	PIITypes        []string `json:"pii_types"`
	// AtRest: the sensor scanned the whole file once written
	// (event.action content-scan); ScannedBytes is its size.
	AtRest       bool  `json:"at_rest"`
	ScannedBytes int64 `json:"scanned_bytes"`
}

// Proc is process.* and its ancestors.
type Proc struct {
	EntityID    string       `json:"entity_id"`
	PID         int          `json:"pid"`
	Name        string       `json:"name"`
	Executable  string       `json:"executable"`
	CommandLine string       `json:"command_line"`
	Args        []string     `json:"args"`
	WorkingDir  string       `json:"working_directory"`
	Start       *time.Time   `json:"start"`
	End         *time.Time   `json:"end"`
	ExitCode    *int         `json:"exit_code"`
	Interactive bool         `json:"interactive"`
	User        User         `json:"user"`
	RealUser    User         `json:"real_user"`
	Parent      *Proc        `json:"parent"`
	GroupLeader *Proc        `json:"group_leader"`
	EntryLeader *EntryLeader `json:"entry_leader"`
}

// EntryLeader is process.entry_leader: the process and how the session
// was entered.
type EntryLeader struct {
	Proc
	EntryMeta struct {
		Type   string `json:"type"`
		Source struct {
			IP string `json:"ip"`
		} `json:"source"`
	} `json:"entry_meta"`
}

// User is user.*, process.user, bansho.login_user and their variants.
type User struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Effective *User  `json:"effective"`
}

// File is file.*.
type File struct {
	Path       string `json:"path"`
	TargetPath string `json:"target_path"`
	Inode      string `json:"inode"`
	Device     string `json:"device"`
}

// Addr is source.* or destination.*.
type Addr struct {
	IP     string `json:"ip"`
	Port   int    `json:"port"`
	Domain string `json:"domain"`
}

// Finding is bansho.content.my_number or corporate_number.
type Finding struct {
	Distinct    int      `json:"distinct"`
	Occurrences int      `json:"occurrences"`
	Confidence  string   `json:"confidence"`
	Hashes      []string `json:"hashes"`
}

// Mount is bansho.file.mount.
type Mount struct {
	FSType    string `json:"fstype"`
	Source    string `json:"source"`
	Point     string `json:"point"`
	Removable bool   `json:"removable"`
	Network   bool   `json:"network"`
}

// Decode decodes b into d.
func Decode(b []byte, d *Doc) error { return json.Unmarshal(b, d) }

// ParentID is process.parent.entity_id, or "".
func (d *Doc) ParentID() string {
	if d.Process.Parent == nil {
		return ""
	}
	return d.Process.Parent.EntityID
}

// GroupID is process.group_leader.entity_id, or "".
func (d *Doc) GroupID() string {
	if d.Process.GroupLeader == nil {
		return ""
	}
	return d.Process.GroupLeader.EntityID
}

// Findings are the content findings, zero when no content was scanned.
func (d *Doc) Findings() (myNumber, corporate Finding) {
	if c := d.Bansho.Content; c != nil {
		return c.MyNumber, c.CorporateNumber
	}
	return Finding{}, Finding{}
}

// String names a user: name(id), or what is known.
func (u User) String() string {
	switch {
	case u.Name != "" && u.ID != "":
		return u.Name + "(" + u.ID + ")"
	case u.Name != "":
		return u.Name
	}
	return u.ID
}

// Is reports whether s is the user's name or id.
func (u User) Is(s string) bool { return s != "" && (u.ID == s || u.Name == s) }
