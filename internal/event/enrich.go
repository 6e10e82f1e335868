package event

import (
	"net/netip"
	"time"
)

// Enrichment is what the pipeline's enrichment stage (pipeline/enrich)
// adds to a kernel event: who the process really is, where it runs, and
// what kind of place a connection goes to. Nil when enrichment is off;
// any part may be nil or zero when it is not known.
//
// The stage fills it once; the ECS encoder, the rule engine and the store
// only read it.
type Enrichment struct {
	// Process is the acting process as the process table knows it (its
	// executable, arguments and working directory come from its exec, so a
	// file or network event carries them too).
	Process *ProcInfo
	// Parent, GroupLeader, SessionLeader and EntryLeader are the ECS
	// process tree (Kibana's Session View needs all four).
	Parent        *ProcInfo
	GroupLeader   *ProcInfo
	SessionLeader *ProcInfo
	EntryLeader   *ProcInfo
	// EntryType is process.entry_leader.entry_meta.type: sshd, terminal,
	// container, init, kernel or unknown.
	EntryType string
	// EntrySourceIP is entry_meta.source.ip: the SSH client of the session.
	EntrySourceIP netip.Addr
	// Ancestors are the entity ids of the process's ancestors, nearest
	// first (at most MaxAncestors), for rules that follow a lineage; the
	// lineage is the processes that started it (kept when it is
	// reparented). Lineage has their names and executables. Both are the
	// process table's, shared by every event of the process: read only.
	Ancestors []string
	Lineage   *Lineage

	// Names of the acting process's ids (empty when unknown), resolved in
	// the process's own root (a container has its own /etc/passwd).
	UserName      string // effective uid
	RealUserName  string // real uid
	GroupName     string // effective gid
	LoginUserName string // audit login uid: the person who logged in

	Container *Container
	Pod       *Pod

	// Destination is the class of a connection's remote end, judged from
	// the routing table at the time: loopback, host, subnet, private or
	// internet. Empty for events that are not connections.
	Destination string
	// CommunityID is network.community_id of a connection.
	CommunityID string

	// Mount is where the file of a file event is (bansho.file.mount.*),
	// so rules can tell a write to a USB stick or a network share.
	Mount *Mount

	// Unknown says the acting process was not in the process table when
	// its event was emitted (held, retried, then sent with what the
	// kernel record has).
	Unknown bool
}

// Lineage is the names and executables of a process's Ancestors, index
// for index, as they were when the process started or exec'd. One
// pointer in Enrichment, which every event allocates: the lists are made
// once per process.
type Lineage struct {
	Names       []string
	Executables []string
}

// MaxAncestors bounds Enrichment.Ancestors (and the rule engine's
// bansho.process.ancestors.*): rules follow lineages a few levels deep.
const MaxAncestors = 16

// Mount is the file system a file is on.
type Mount struct {
	FSType     string // ext4, xfs, nfs4, cifs, vfat, ...
	Source     string // /dev/sdb1, server:/export, //server/share
	MountPoint string
	Removable  bool // a removable or USB block device
	Network    bool // NFS, CIFS/SMB, Ceph, sshfs, ...
}

// ProcInfo is one process of the tree, as ECS's process.* describes it.
type ProcInfo struct {
	EntityID   string
	PID        uint32
	Start      time.Time
	Name       string
	Executable string
	Args       []string
	ArgsCount  int // argc, also when Args was cut to the kernel's buffer
	// CommandLine is Args joined with spaces, made once with the snapshot
	// (the rule engine reads it on every event of the process). Raw: the
	// encoder masks My Numbers in what it writes.
	CommandLine      string
	WorkingDirectory string
	Interactive      bool
	UID, GID         uint32 // effective ids
	UserName         string
	// Unknown is true when the process was not in the table (it started
	// before the sensor and could not be read from /proc, or its exec was
	// lost): only the ids above are set.
	Unknown bool
}

// Container is container.* of a process that runs in one.
type Container struct {
	ID        string
	Runtime   string // docker, containerd, cri-o, podman
	Name      string
	ImageName string
	ImageTag  string
}

// Pod is orchestrator.* and the Kubernetes pod of a container.
type Pod struct {
	UID       string
	Name      string
	Namespace string
	Node      string
	Cluster   string
	Labels    map[string]string
}
