// Package event is the one Go representation of what the sensor observed.
// The sensor decodes kernel records into it; the pipeline enriches it; the
// ECS encoder turns it into the documents the exporters ship.
package event

import (
	"net/netip"
	"time"
)

// Op is the kernel record opcode (enum op in bpf/include/bansho.h).
type Op uint8

const (
	OpExec       Op = 1
	OpFork       Op = 2
	OpExit       Op = 3
	OpFileOpen   Op = 10
	OpFileWrite  Op = 11
	OpFileNS     Op = 12
	OpNetConnect Op = 20
	OpNetAccept  Op = 21
	OpNetSend    Op = 22
	OpTLSWrite   Op = 23 // plaintext a tainted process handed to SSL_write
	// OpRepeat is the kernel's report of calls folded into an earlier
	// record; the sensor turns it into a summary event of the earlier
	// record's op (with Repeat set), so it never reaches the pipeline.
	OpRepeat Op = 32

	// Ops made in userspace, never by the kernel.
	OpHealth Op = 100 // periodic counters: drops, events, failures
	OpState  Op = 101 // the sensor started or stopped
	OpAlert  Op = 102 // a rule fired (Alert)
	// OpContentScan: the sensor scanned, at rest, the whole of a file a
	// tainted process wrote more of than the samples showed (File, Proc
	// of the writer, Content with AtRest set).
	OpContentScan Op = 104
)

func (o Op) String() string {
	switch o {
	case OpExec:
		return "exec"
	case OpFork:
		return "fork"
	case OpExit:
		return "exit"
	case OpFileOpen:
		return "file_open"
	case OpFileWrite:
		return "file_write"
	case OpFileNS:
		return "file_change"
	case OpNetConnect:
		return "connect"
	case OpNetAccept:
		return "accept"
	case OpNetSend:
		return "send"
	case OpTLSWrite:
		return "tls_write"
	case OpRepeat:
		return "repeat"
	case OpHealth:
		return "health"
	case OpState:
		return "state"
	case OpAlert:
		return "alert"
	case OpContentScan:
		return "content_scan"
	}
	return selfOpString(o)
}

// Flags carried by every kernel record (EF_* in bansho.h).
const (
	FlagTruncated  uint8 = 1 << 0 // a string or argv was cut
	FlagReadFailed uint8 = 1 << 1 // a user-memory read failed; a field is empty
	FlagTainted    uint8 = 1 << 2 // the process has read protected data
	FlagProtected  uint8 = 1 << 3 // the object is protected data
	FlagCopy       uint8 = 1 << 4 // an in-kernel copy (copy_file_range, sendfile, splice)
	FlagFoldHead   uint8 = 1 << 7 // identical calls that follow within the fold window are counted, not sent
)

// NSKind says which change an OpFileNS record describes.
type NSKind uint16

const (
	NSRename   NSKind = 1
	NSUnlink   NSKind = 2
	NSRmdir    NSKind = 3
	NSLink     NSKind = 4
	NSSymlink  NSKind = 5
	NSMkdir    NSKind = 6
	NSChmod    NSKind = 7
	NSChown    NSKind = 8
	NSTruncate NSKind = 9
)

// Action is the ECS event.action of the change.
func (k NSKind) Action() string {
	switch k {
	case NSRename:
		return "rename"
	case NSUnlink:
		return "unlink"
	case NSRmdir:
		return "rmdir"
	case NSLink:
		return "link"
	case NSSymlink:
		return "symlink"
	case NSMkdir:
		return "mkdir"
	case NSChmod:
		return "chmod"
	case NSChown:
		return "chown"
	case NSTruncate:
		return "truncate"
	}
	return "change"
}

// Process is the acting task as the kernel saw it.
type Process struct {
	PID, TID, PPID  uint32
	UID, GID        uint32
	EUID, EGID      uint32
	AUID            uint32 // audit login uid; NoUID when unset
	SessionID       uint32 // audit session id
	SID, PGID       uint32
	TTY             uint32 // (major << 20) | minor; 0 when none
	CgroupID        uint64
	Start           time.Time // group leader start (wall clock)
	ParentStart     time.Time
	StartBoot       uint64 // CLOCK_BOOTTIME ns, for stable ids
	ParentStartBoot uint64
	MntNS, PidNS    uint32
	Comm            string
}

// NoUID is the audit login uid of a task that never logged in.
const NoUID = 4294967295

// Exec is a program started by execve.
type Exec struct {
	OldPID     uint32
	Filename   string // as passed to execve
	Executable string // resolved path of the new program
	Cwd        string
	Args       []string
	Argc       uint32
}

// Fork is a new process (not a thread).
type Fork struct {
	ParentPID uint32
}

// Exit is the end of a process (its last thread).
type Exit struct {
	Status uint32 // wait(2) status
}

// Code is the exit code as a shell shows it: 128+signal when killed.
func (e Exit) Code() int {
	if sig := e.Status & 0x7f; sig != 0 {
		return 128 + int(sig)
	}
	return int(e.Status>>8) & 0xff
}

// Signal is the signal that ended the process, or 0.
func (e Exit) Signal() int { return int(e.Status & 0x7f) }

// File is an operation on protected data, or on a file a tainted process
// writes to.
type File struct {
	Syscall uint32
	Ret     int64
	FD      int32
	Flags   uint32 // open(2) flags, or the call's flags argument
	Mode    uint32 // open(2)/chmod(2)/mkdir(2) mode
	UID     int64  // chown: new owner, -1 unchanged
	GID     int64
	Dev     uint64 // kernel dev_t of the object
	Ino     uint64
	Count   uint64 // write: bytes asked (iov count for vector calls); truncate: length
	Pos     int64  // pwrite offset, -1 otherwise
	IMode   uint32 // object's inode mode
	IUID    uint32
	IGID    uint32
	Kind    NSKind // for OpFileNS

	Path       string // resolved absolute path (open, write, fd-based)
	Name       string // first user-supplied name, as given
	Anchor     string // directory Name is relative to (cwd or dirfd)
	Name2      string
	Anchor2    string
	TargetPath string // rename/link/symlink destination, joined
}

// Net is a connection, an accepted connection or a send.
type Net struct {
	Syscall  uint32
	Ret      int64
	FD       int32
	Family   uint16
	Type     uint16
	Protocol uint16
	Src      netip.AddrPort
	Dst      netip.AddrPort
	Bytes    uint64
}

// Health is the sensor's own accounting, emitted periodically and at exit.
type Health struct {
	Received     uint64            // records read from the ring buffer
	Emitted      uint64            // documents handed to the outputs
	Drops        map[string]uint64 // by cause; never silent
	DropsTotal   uint64
	Counters     map[string]uint64 // other kernel-side counters
	OutputErrors uint64
	Uptime       time.Duration
	KernelObject string   // the kernel object loaded: default or portable
	FeaturesOff  []string // kernel-side features this kernel does not give
	Degraded     []string // parts the sensor runs without (failed at start)
}

// Content is what the content detector found in the data of an event:
// counts, keyed hashes and how sure it is, never a number.
type Content struct {
	MyNumber        Finding
	CorporateNumber Finding
	SampledBytes    int  // bytes of this event's data that were scanned
	Truncated       bool // the event carried more data than was sampled
	// PIITypes: kinds of personal information (name, birth_date, address,
	// phone, bank_account) seen in the stream's samples, reported once
	// the stream holds numbers (content.PIITypes).
	PIITypes []string
	// AtRest: the findings are of the whole file, read by the sensor
	// once its writer had stopped writing (OpContentScan); ScannedBytes
	// is the size read.
	AtRest       bool
	ScannedBytes int64
}

// Finding is one kind of number found (see pipeline/content).
type Finding struct {
	Distinct    int
	Occurrences int
	Confidence  string // high, medium, low, none
	Reasons     []string
	Hashes      []string // HMAC-SHA256 of the digits, lowercase hex
	Encodings   []string
	Layouts     []string
}

// Repeat counts calls identical to an earlier reported one (same process,
// operation, object and result class) that the kernel folded instead of
// reporting each.
type Repeat struct {
	Count       uint64    // folded calls
	First, Last time.Time // when the first and last of them happened
	Bytes       uint64    // writes: bytes the folded calls wrote
	// HeadMissing: the reported call they repeat was not at hand (lost in a
	// full ring buffer, or too old), so only the identities the kernel keeps
	// per fold are set: pid, op, syscall, file dev/ino or peer address.
	HeadMissing bool
}

// State is a sensor lifecycle change (started, stopped).
type State struct {
	Action  string
	Message string
	Version string
	Details map[string]string
}

// Event is one observation. Op says which of the parts is set.
type Event struct {
	Op    Op
	Flags uint8
	// Compat: a 32-bit (ia32) syscall made the record (a program built
	// with gcc -m32, or int $0x80); for exec, the new program is 32-bit.
	// EFX_COMPAT in the header's xflags.
	Compat bool
	CPU    uint32
	KTime  uint64    // CLOCK_BOOTTIME ns
	Time   time.Time // wall clock

	Proc Process
	// Sample holds the first bytes of data a tainted process wrote or
	// sent, for the content detector only. It is never encoded, exported
	// or stored: the content stage replaces it with Content and drops it.
	Sample  []byte
	Content *Content
	// Repeat is set on a summary of identical calls the kernel folded
	// (sensor.fold_window): the document repeats the first call's fields
	// and says how many more there were.
	Repeat *Repeat

	Exec   *Exec
	Fork   *Fork
	Exit   *Exit
	File   *File
	Net    *Net
	Health *Health
	State  *State
	Alert  *Alert
	Self   *Self // OpSelfSignal, OpSelfPtrace, OpSelfDetach

	// Enriched is set by the enrichment stage (see Enrichment).
	Enriched *Enrichment
}

// Has reports whether flag f is set.
func (e *Event) Has(f uint8) bool { return e.Flags&f != 0 }
