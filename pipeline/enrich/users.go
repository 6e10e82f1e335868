package enrich

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// idNames is one parsed passwd or group file: id -> name.
type idNames struct {
	names map[uint32]string
	ino   uint64
	mtime syscall.Timespec
	size  int64
}

// parseIDFile reads name:x:id:... lines (passwd and group share the
// first three fields). Broken lines (too few fields, a bad id) are
// skipped and counted; the first name for an id wins, as getpwuid does.
func parseIDFile(b []byte) (map[uint32]string, int) {
	m := make(map[uint32]string, 64)
	bad := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		// NIS compat entries (+, -) are not names.
		if line[0] == '+' || line[0] == '-' {
			continue
		}
		f := bytes.SplitN(line, []byte{':'}, 4)
		if len(f) < 3 || len(f[0]) == 0 {
			bad++
			continue
		}
		id, err := strconv.ParseUint(string(f[2]), 10, 32)
		if err != nil {
			bad++
			continue
		}
		if _, dup := m[uint32(id)]; !dup {
			m[uint32(id)] = string(f[0])
		}
	}
	return m, bad
}

// nameFile is one passwd or group file of one root, re-read when it
// changes (inode, mtime or size: editors replace the file, useradd
// rewrites it in place).
type nameFile struct {
	path string
	cur  atomic.Pointer[idNames]
}

// check re-reads the file when it changed since the last read. It
// returns the number of broken lines of a new read.
func (f *nameFile) check() (bad int, err error) {
	var st syscall.Stat_t
	if err := syscall.Stat(f.path, &st); err != nil {
		if f.cur.Load() == nil {
			f.cur.Store(&idNames{})
		}
		return 0, err
	}
	if c := f.cur.Load(); c != nil && c.ino == st.Ino && c.mtime == st.Mtim && c.size == st.Size {
		return 0, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return 0, err
	}
	m, bad := parseIDFile(b)
	f.cur.Store(&idNames{names: m, ino: st.Ino, mtime: st.Mtim, size: st.Size})
	return bad, nil
}

func (f *nameFile) name(id uint32) string {
	if c := f.cur.Load(); c != nil {
		return c.names[id]
	}
	return ""
}

// rootNames are the user and group names of one root file system: the
// host's, or a container's seen through /proc/PID/root.
type rootNames struct {
	passwd, group nameFile
	checked       atomic.Int64 // unix ns of the last check
	pid           uint32       // whose /proc/PID/root it is read through (0: the host's)
	failed        atomic.Bool  // the last read of passwd failed (the process ended)
}

// Users resolves uids and gids to names per mount namespace, caching each
// namespace's /etc/passwd and /etc/group and re-reading them when they
// change (checked at most every Interval, off the event path by Refresh).
type Users struct {
	HostMntNS uint32
	Root      string // "/" in production; a test's directory otherwise
	Proc      string // "/proc"
	Interval  time.Duration
	// MaxRoots bounds the namespaces cached; beyond it, names for new
	// namespaces are not resolved (and counted).
	MaxRoots int

	mu    sync.Mutex
	roots map[uint32]*rootNames

	BadLines   atomic.Uint64 // broken passwd/group lines skipped
	ReadErrors atomic.Uint64 // files that could not be read
	Overflow   atomic.Uint64 // namespaces not cached: MaxRoots reached
}

func (u *Users) rootFor(mntns, pid uint32) *rootNames {
	u.mu.Lock()
	defer u.mu.Unlock()
	if r, ok := u.roots[mntns]; ok {
		// Read through a process that ended before its root was read:
		// try again through this one (at most every 100ms).
		if !r.failed.Load() || r.pid == 0 || pid == 0 || pid == r.pid ||
			time.Now().UnixNano()-r.checked.Load() < int64(100*time.Millisecond) {
			return r
		}
		delete(u.roots, mntns)
	}
	if u.roots == nil {
		u.roots = map[uint32]*rootNames{}
	}
	if u.MaxRoots > 0 && len(u.roots) >= u.MaxRoots {
		u.Overflow.Add(1)
		return nil
	}
	base := u.Root
	if base == "" {
		base = "/"
	}
	var via uint32
	if mntns != u.HostMntNS && mntns != 0 && pid != 0 {
		proc := u.Proc
		if proc == "" {
			proc = "/proc"
		}
		base = proc + "/" + strconv.FormatUint(uint64(pid), 10) + "/root/"
		via = pid
	}
	r := &rootNames{passwd: nameFile{path: base + "/etc/passwd"}, group: nameFile{path: base + "/etc/group"}, pid: via}
	u.roots[mntns] = r
	u.load(r)
	return r
}

func (u *Users) load(r *rootNames) {
	for i, f := range []*nameFile{&r.passwd, &r.group} {
		bad, err := f.check()
		u.BadLines.Add(uint64(bad))
		if err != nil {
			u.ReadErrors.Add(1)
		}
		if i == 0 {
			r.failed.Store(err != nil && f.cur.Load().names == nil)
		}
	}
	r.checked.Store(time.Now().UnixNano())
}

// User names uid in the root of a process (its mount namespace; pid is a
// process in it, used to reach its root the first time).
func (u *Users) User(mntns, pid, uid uint32) string {
	if r := u.rootFor(mntns, pid); r != nil {
		return r.passwd.name(uid)
	}
	return ""
}

// Group names gid like User.
func (u *Users) Group(mntns, pid, gid uint32) string {
	if r := u.rootFor(mntns, pid); r != nil {
		return r.group.name(gid)
	}
	return ""
}

// Refresh re-checks every cached root whose last check is older than
// Interval. Call it periodically from a goroutine other than the stage's.
func (u *Users) Refresh() {
	u.mu.Lock()
	roots := make([]*rootNames, 0, len(u.roots))
	for _, r := range u.roots {
		roots = append(roots, r)
	}
	u.mu.Unlock()
	iv := u.Interval
	if iv <= 0 {
		iv = 5 * time.Second
	}
	now := time.Now().UnixNano()
	for _, r := range roots {
		if now-r.checked.Load() >= int64(iv) {
			u.load(r)
		}
	}
}

// Forget drops a namespace's cache (its last process ended, or to bound).
func (u *Users) Forget(mntns uint32) {
	if mntns == u.HostMntNS {
		return
	}
	u.mu.Lock()
	delete(u.roots, mntns)
	u.mu.Unlock()
}
