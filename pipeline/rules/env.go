package rules

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/spell"
)

// Env is what a condition sees: one event, by its ECS field paths. It is a
// plain struct (expr reads it by precomputed field index, no maps), filled
// once per event from an *event.Event (the live sensor) or from an ECS
// document (fixtures, replay). Fields a given kind of event does not have
// are zero: "", 0, false, nil.
//
// Process fields the kernel does not send on every event (executable,
// arguments, parent and ancestors) come from the enrichment stage's
// process table (the event's Enrichment) or, without one, from the
// engine's own, kept from exec and fork events: file and network events
// carry them too.
type Env struct {
	// Timestamp is the event time on the engine's clock (EngineOptions.Shift).
	Timestamp   time.Time      `expr:"timestamp"`
	Event       EventFields    `expr:"event"`
	Process     ProcessFields  `expr:"process"`
	User        UserFields     `expr:"user"`
	File        FileFields     `expr:"file"`
	Source      EndpointFields `expr:"source"`
	Destination EndpointFields `expr:"destination"`
	Network     NetworkFields  `expr:"network"`
	Host        HostFields     `expr:"host"`
	Bansho      BanshoFields   `expr:"bansho"`

	// Raw values kept for alerts; expr cannot see unexported fields.
	ino, dev uint64
	hasFile  bool
	eventTS  time.Time // the event's own @timestamp, unshifted
	id       string    // event.id, found when needed (state, alerts)
}

// reset zeroes env for the next event, keeping nothing that points into
// the previous one.
func (env *Env) reset() { *env = Env{} }

// EventFields are event.*. ECS makes category an array; bansho events have
// exactly one, so it is a plain string here (`event.category == "file"`).
type EventFields struct {
	Kind     string   `expr:"kind"`
	Category string   `expr:"category"`
	Type     []string `expr:"type"`
	Action   string   `expr:"action"`
	Outcome  string   `expr:"outcome"`
	Dataset  string   `expr:"dataset"`
}

// ProcessFields are process.*.
type ProcessFields struct {
	EntityID         string       `expr:"entity_id"`
	PID              int          `expr:"pid"`
	Name             string       `expr:"name"`
	Executable       string       `expr:"executable"`
	Args             []string     `expr:"args"`
	ArgsCount        int          `expr:"args_count"`
	CommandLine      string       `expr:"command_line"`
	WorkingDirectory string       `expr:"working_directory"`
	Interactive      bool         `expr:"interactive"`
	ExitCode         int          `expr:"exit_code"`
	User             UserFields   `expr:"user"`
	Group            IDFields     `expr:"group"`
	RealUser         UserFields   `expr:"real_user"`
	Parent           ParentFields `expr:"parent"`
}

// ParentFields are process.parent.*.
type ParentFields struct {
	EntityID    string   `expr:"entity_id"`
	PID         int      `expr:"pid"`
	Name        string   `expr:"name"`
	Executable  string   `expr:"executable"`
	CommandLine string   `expr:"command_line"`
	Args        []string `expr:"args"`
}

// UserFields are user.* and the like. Ids are strings, as in ECS.
type UserFields struct {
	ID   string `expr:"id"`
	Name string `expr:"name"`
}

// IDFields are group.*.
type IDFields struct {
	ID string `expr:"id"`
}

// FileFields are file.*.
type FileFields struct {
	Path       string `expr:"path"`
	Name       string `expr:"name"`
	Directory  string `expr:"directory"`
	Extension  string `expr:"extension"`
	TargetPath string `expr:"target_path"`
	Type       string `expr:"type"`
	Mode       string `expr:"mode"`
	Inode      string `expr:"inode"`
	Device     string `expr:"device"`
	UID        string `expr:"uid"`
	GID        string `expr:"gid"`
}

// EndpointFields are source.* and destination.*.
type EndpointFields struct {
	IP   string `expr:"ip"`
	Port int    `expr:"port"`
}

// NetworkFields are network.*.
type NetworkFields struct {
	Transport string `expr:"transport"`
	Type      string `expr:"type"`
	Direction string `expr:"direction"`
	Protocol  string `expr:"protocol"`
}

// HostFields are host.*.
type HostFields struct {
	Name string `expr:"name"`
	ID   string `expr:"id"`
}

// BanshoFields are bansho.*: what ECS has no place for.
type BanshoFields struct {
	LoginUser UserFields `expr:"login_user"`
	// SelfTarget: the event is about the sensor itself (a signal or
	// ptrace aimed at it, its own files).
	SelfTarget bool `expr:"self_target"`
	// Compat: a 32-bit (ia32) system call made the event.
	Compat bool `expr:"compat"`
	// DestinationClass is the class of a connection's remote end from the
	// enrichment stage: loopback, host, subnet, private or internet.
	DestinationClass string        `expr:"destination_class"`
	Tainted          bool          `expr:"tainted"` // exec, fork: the process has read protected data
	Exec             ExecFields    `expr:"exec"`
	File             BanshoFile    `expr:"file"`
	Network          BanshoNetwork `expr:"network"`
	Content          Content       `expr:"content"`
	Process          BanshoProcess `expr:"process"`
}

// ExecFields are bansho.exec.*.
type ExecFields struct {
	Filename string `expr:"filename"`
}

// BanshoFile are bansho.file.*.
type BanshoFile struct {
	Protected bool     `expr:"protected"`
	Tainted   bool     `expr:"tainted"`
	Syscall   string   `expr:"syscall"`
	Flags     []string `expr:"flags"`
	Name      string   `expr:"name"`
	Anchor    string   `expr:"anchor"`
	NewMode   string   `expr:"new_mode"`
	Bytes     int      `expr:"bytes"`
	Copy      bool     `expr:"copy"`
	// Integrity: the file is under protect.integrity_paths (system
	// binaries, audit configuration, the sensor's own files).
	Integrity bool  `expr:"integrity"`
	Mount     Mount `expr:"mount"`
}

// Mount is bansho.file.mount.*: what the enrichment stage knows of the
// file system a file lives on.
type Mount struct {
	FSType    string `expr:"fstype"`
	Removable bool   `expr:"removable"`
	Network   bool   `expr:"network"`
}

// BanshoNetwork are bansho.network.*.
type BanshoNetwork struct {
	Tainted bool   `expr:"tainted"`
	Syscall string `expr:"syscall"`
	Bytes   int    `expr:"bytes"`
	TLS     bool   `expr:"tls"`
}

// Content is bansho.content.*: what the content detector found in the
// data of a write or send. All zero when nothing was scanned.
type Content struct {
	MyNumber        Finding `expr:"my_number"`
	CorporateNumber Finding `expr:"corporate_number"`
	SampledBytes    int     `expr:"sampled_bytes"`
}

// Finding is one kind of number found: counts and confidence, never a number.
type Finding struct {
	Distinct    int    `expr:"distinct"`
	Occurrences int    `expr:"occurrences"`
	Confidence  string `expr:"confidence"`
}

// BanshoProcess is bansho.process.*: the engine's view of the lineage.
type BanshoProcess struct {
	Ancestors Ancestors `expr:"ancestors"`
}

// Ancestors are the names and executables of the parent, grandparent, ...
// (nearest first, at most MaxAncestors), as far as the engine knows them.
type Ancestors struct {
	EntityID   []string `expr:"entity_id"`
	Name       []string `expr:"name"`
	Executable []string `expr:"executable"`
}

// MaxAncestors bounds bansho.process.ancestors.*: the enrichment stage's
// bound, so live events and recorded documents see as deep a lineage.
const MaxAncestors = event.MaxAncestors

// field is one leaf of Env, addressable by its ECS path.
type field struct {
	path  string
	index []int
	kind  reflect.Kind // String, Int, Bool, Slice (of string)
	off   uintptr      // byte offset in Env, for guards (see guards.go)
}

var (
	envType = reflect.TypeOf(Env{})
	fields  = map[string]*field{}
	// fieldPaths are every path, sorted, for error suggestions and docs.
	fieldPaths []string
	// topNames are the first segments (event, process, ...): names a list
	// or macro must not take.
	topNames = map[string]bool{}
)

func init() {
	var walk func(t reflect.Type, prefix string, index []int, base uintptr)
	walk = func(t reflect.Type, prefix string, index []int, base uintptr) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("expr")
			if tag == "" || !f.IsExported() {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			p := prefix + tag
			if prefix == "" {
				topNames[tag] = true
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
				walk(f.Type, p+".", idx, base+f.Offset)
				continue
			}
			fields[p] = &field{path: p, index: idx, kind: f.Type.Kind(), off: base + f.Offset}
			fieldPaths = append(fieldPaths, p)
		}
	}
	walk(envType, "", nil, 0)
	sort.Strings(fieldPaths)
	initPrefixes()
}

// Fields lists every field path a condition can use, sorted.
func Fields() []string { return append([]string(nil), fieldPaths...) }

// FieldType names the type of a field for rule authors: text, number,
// boolean, list of text or time.
func FieldType(path string) string {
	f, ok := fields[path]
	if !ok {
		return ""
	}
	switch f.kind {
	case kindInt:
		return "number"
	case kindBool:
		return "boolean"
	case kindSlice:
		return "list of text"
	case kindTime:
		return "time"
	}
	return "text"
}

// lookupField resolves an ECS path, with a suggestion when it is unknown.
func lookupField(path string) (*field, error) {
	if f, ok := fields[path]; ok {
		return f, nil
	}
	msg := fmt.Sprintf("unknown field %q", path)
	if s := closest(path, fieldPaths); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("%s", msg)
}

// value reads the field from env as a reflect.Value (no allocation).
func (f *field) value(env *Env) reflect.Value {
	return reflect.ValueOf(env).Elem().FieldByIndex(f.index)
}

// str formats the field for outputs and state keys.
func (f *field) str(env *Env) string {
	v := f.value(env)
	switch f.kind {
	case reflect.String:
		return v.String()
	case reflect.Int:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Slice:
		return strings.Join(v.Interface().([]string), " ")
	case reflect.Struct: // timestamp
		return v.Interface().(time.Time).Format(time.RFC3339Nano)
	}
	return ""
}

// closest is the candidate nearest to s by edit distance, if close enough.
func closest(s string, candidates []string) string {
	// A candidate the text begins (process.exe: process.executable) is
	// what was meant more often than one a few edits away.
	pre := ""
	for _, c := range candidates {
		if len(s) >= 3 && strings.HasPrefix(c, s) && (pre == "" || len(c) < len(pre)) {
			pre = c
		}
	}
	if pre != "" {
		return pre
	}
	best, bestD := "", len(s)/3+2
	for _, c := range candidates {
		if d := spell.Distance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Kinds of fields, for building exception comparisons.
const (
	kindString = reflect.String
	kindInt    = reflect.Int
	kindBool   = reflect.Bool
	kindSlice  = reflect.Slice
	kindTime   = reflect.Struct
)
