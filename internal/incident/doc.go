// Package incident establishes the scope of a leak of My Numbers from the
// recorded ECS documents: which protected files were read, where their
// data went (copies, renames, archives and pipes of processes that read
// them, removable and network media, network sends and TLS uploads), how
// many people that touches (by keyed hash, never a number), what other
// personal information went with the numbers, the deadlines of the report
// to the Personal Information Protection Commission, and what the record
// cannot tell.
//
// It works on a stream of decoded documents (Analyze), from a store or
// from JSON lines of one host or several; cmd/bansho's `incident` renders
// the Report as JSON, Markdown or HTML.
package incident

import (
	"encoding/json"
	"strings"
	"time"
)

// Doc is the part of an ECS document the analysis reads.
type Doc struct {
	Timestamp time.Time `json:"@timestamp"`
	Message   string    `json:"message"`
	Event     struct {
		ID      string `json:"id"`
		Kind    string `json:"kind"`
		Action  string `json:"action"`
		Outcome string `json:"outcome"`
	} `json:"event"`
	Host struct {
		Name string `json:"name"`
		ID   string `json:"id"`
	} `json:"host"`
	Process Proc `json:"process"`
	User    User `json:"user"`
	File    struct {
		Path       string `json:"path"`
		TargetPath string `json:"target_path"`
		Inode      string `json:"inode"`
		Device     string `json:"device"`
	} `json:"file"`
	Dest struct {
		IP     string `json:"ip"`
		Port   int    `json:"port"`
		Domain string `json:"domain"`
	} `json:"destination"`
	Network struct {
		Transport string `json:"transport"`
		Protocol  string `json:"protocol"`
	} `json:"network"`
	Rule struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rule"`
	Bansho struct {
		LoginUser User `json:"login_user"`
		Truncated bool `json:"truncated"`
		Content   *struct {
			MyNumber        Finding  `json:"my_number"`
			CorporateNumber Finding  `json:"corporate_number"`
			SampledBytes    int64    `json:"sampled_bytes"`
			Truncated       bool     `json:"truncated"`
			PIITypes        []string `json:"pii_types"`
			// AtRest: the sensor scanned the whole file once written
			// (event.action content-scan); ScannedBytes is its size.
			AtRest       bool  `json:"at_rest"`
			ScannedBytes int64 `json:"scanned_bytes"`
		} `json:"content"`
		File struct {
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
	} `json:"bansho"`

	ord uint64 // input order among equal timestamps
}

// Proc is process.* and its ancestors.
type Proc struct {
	EntityID    string     `json:"entity_id"`
	PID         int        `json:"pid"`
	Name        string     `json:"name"`
	Executable  string     `json:"executable"`
	CommandLine string     `json:"command_line"`
	Args        []string   `json:"args"`
	WorkingDir  string     `json:"working_directory"`
	Start       *time.Time `json:"start"`
	User        User       `json:"user"`
	Parent      *Proc      `json:"parent"`
	GroupLeader *Proc      `json:"group_leader"`
	EntryLeader *struct {
		Proc
		EntryMeta struct {
			Type   string `json:"type"`
			Source struct {
				IP string `json:"ip"`
			} `json:"source"`
		} `json:"entry_meta"`
	} `json:"entry_leader"`
}

// User is user.* or bansho.login_user.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Finding is bansho.content.my_number or corporate_number.
type Finding struct {
	Distinct int      `json:"distinct"`
	Hashes   []string `json:"hashes"`
}

// Mount is bansho.file.mount.
type Mount struct {
	FSType    string `json:"fstype"`
	Source    string `json:"source"`
	Point     string `json:"point"`
	Removable bool   `json:"removable"`
	Network   bool   `json:"network"`
}

// Parse decodes one document.
func Parse(b []byte) (*Doc, error) {
	d := &Doc{}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, err
	}
	return d, nil
}

func (u User) String() string {
	switch {
	case u.Name != "" && u.ID != "":
		return u.Name + "(" + u.ID + ")"
	case u.Name != "":
		return u.Name
	}
	return u.ID
}

func (u User) is(s string) bool { return s != "" && (u.ID == s || u.Name == s) }

func (d *Doc) parentID() string {
	if d.Process.Parent == nil {
		return ""
	}
	return d.Process.Parent.EntityID
}

func (d *Doc) groupID() string {
	if d.Process.GroupLeader == nil {
		return ""
	}
	return d.Process.GroupLeader.EntityID
}

// reads: an open that gives read access.
func (d *Doc) reads() bool {
	if d.Event.Action != "open" || d.Event.Outcome == "failure" {
		return false
	}
	for _, f := range d.Bansho.File.Flags {
		if f == "O_WRONLY" {
			return false
		}
	}
	return true
}

func (d *Doc) tainted() bool {
	return d.Bansho.File.Tainted || d.Bansho.Network.Tainted || d.Bansho.Tainted
}

// key identifies a process across hosts: entity ids are per host already
// (they hash the host id), the host name keeps merged inputs apart anyway.
func (d *Doc) procKey() string {
	if d.Process.EntityID == "" {
		return ""
	}
	return d.Host.Name + "/" + d.Process.EntityID
}

func under(p, dir string) bool {
	if p == "" || dir == "" {
		return false
	}
	dir = strings.TrimSuffix(dir, "/")
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// followable leaves out terminals and kernel files: writing to them is
// not a copy that could move on.
func followable(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for _, pre := range []string{"/dev/", "/proc/", "/sys/"} {
		if strings.HasPrefix(p, pre) {
			return false
		}
	}
	return true
}
