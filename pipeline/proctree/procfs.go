package proctree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/bansho-sec/bansho/internal/event"
)

// tickNS is one clock tick (USER_HZ, 100 on Linux): the unit of the start
// time in /proc/PID/stat.
const tickNS = 10_000_000

// procEntry is what /proc says about one process.
type procEntry struct {
	k      event.Process
	x      event.Exec
	realNS uint32 // the pid namespace it is in (not the one for children)
	exact  bool   // k.StartBoot is the kernel's, not /proc's tick
}

// readProcfs reads /proc/PID (root is normally "/proc"). A process that
// ended while it was read is an error (os.ErrNotExist inside).
func readProcfs(root string, pid uint32) (*procEntry, error) {
	dir := filepath.Join(root, strconv.FormatUint(uint64(pid), 10))
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return nil, err
	}
	e := &procEntry{}
	k := &e.k
	k.PID, k.TID = pid, pid
	if err := parseStat(stat, k); err != nil {
		return nil, fmt.Errorf("%s/stat: %w", dir, err)
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return nil, err
	}
	parseStatus(status, k)
	k.AUID = readUint(dir+"/loginuid", event.NoUID)
	k.SessionID = readUint(dir+"/sessionid", event.NoUID)
	k.MntNS = nsIno(dir + "/ns/mnt")
	k.PidNS = nsIno(dir + "/ns/pid_for_children")
	e.realNS = nsIno(dir + "/ns/pid")
	// Kernel threads have no executable, cwd or arguments: not an error.
	e.x.Executable, _ = os.Readlink(dir + "/exe")
	e.x.Executable = strings.TrimSuffix(e.x.Executable, " (deleted)")
	e.x.Cwd, _ = os.Readlink(dir + "/cwd")
	e.x.Args, e.x.Argc = readCmdline(dir + "/cmdline")
	return e, nil
}

// maxArgsBytes bounds the argv kept for a process found in /proc, as the
// kernel's ARGS_BUF (bpf/include/bansho.h) bounds it at exec: a process
// started before the sensor must not carry more into the table and into
// every document that names it as parent or leader (a CI runner's or a
// JVM's command line can be hundreds of KiB).
const maxArgsBytes = 1024

// readCmdline returns the first maxArgsBytes of a process's argv, split at
// its NULs (the last argument may be cut, as the kernel's is), and the
// number of arguments in the whole of it. Kernel threads have none.
func readCmdline(path string) ([]string, uint32) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	head := make([]byte, maxArgsBytes)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if n == 0 {
		return nil, 0
	}
	argc := uint32(bytes.Count(head, []byte{0}))
	last := head[n-1]
	if n == maxArgsBytes {
		// Count the rest without keeping it.
		buf := make([]byte, 4096)
		for {
			m, err := f.Read(buf)
			if m > 0 {
				argc += uint32(bytes.Count(buf[:m], []byte{0}))
				last = buf[m-1]
			}
			if err != nil {
				break
			}
		}
	}
	if last != 0 {
		argc++ // a last argument without its NUL (a rewritten argv)
	}
	head = bytes.TrimSuffix(head, []byte{0})
	return strings.Split(string(head), "\x00"), argc
}

// parseStat reads comm, ppid, pgrp, session, tty and start time from
// /proc/PID/stat. comm may hold spaces and parentheses: it ends at the
// last ')'.
func parseStat(b []byte, k *event.Process) error {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return errors.New("no (comm)")
	}
	k.Comm = string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	// state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	// cmajflt utime stime cutime cstime priority nice num_threads
	// itrealvalue starttime
	if len(f) < 20 {
		return fmt.Errorf("%d fields after comm, want at least 20", len(f))
	}
	u := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
	k.PPID, k.PGID, k.SID = uint32(u(1)), uint32(u(2)), uint32(u(3))
	tty, _ := strconv.ParseInt(f[4], 10, 64)
	if tty > 0 {
		major := uint32(tty>>8) & 0xfff
		minor := uint32(tty&0xff) | uint32(tty>>12)&0xfff00
		k.TTY = major<<20 | minor
	}
	k.StartBoot = u(19) * tickNS
	return nil
}

func parseStatus(b []byte, k *event.Process) {
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 32)
		e, _ := strconv.ParseUint(f[1], 10, 32)
		switch name {
		case "Uid":
			k.UID, k.EUID = uint32(r), uint32(e)
		case "Gid":
			k.GID, k.EGID = uint32(r), uint32(e)
		}
	}
}

func readUint(path string, def uint32) uint32 {
	b, err := os.ReadFile(path)
	if err != nil {
		return def
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return def
	}
	return uint32(v)
}

func nsIno(path string) uint32 {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0
	}
	return uint32(st.Ino)
}

// SeedResult says what seeding found.
type SeedResult struct {
	Seeded  int
	Skipped int // ended while being read, or unreadable
	// SkipErrs are the first few reasons a process was skipped, for the
	// start-up log (a process that ended is not one).
	SkipErrs []error
	Exact    int   // with the kernel's exact start time
	ExactErr error // the exact start times could not be read
}

// Seed fills the table from /proc (root, normally "/proc"): every process
// that runs now, parents linked before children, with the kernel's exact
// start times where Options.ExactStarts gives them, else start times to
// the clock tick (made exact by the first kernel event that names them).
func (t *Table) Seed(root string) (SeedResult, error) {
	var res SeedResult
	ents, err := os.ReadDir(root)
	if err != nil {
		return res, fmt.Errorf("proctree: seed: %w", err)
	}
	var exact map[uint32]uint64
	if t.opt.ExactStarts != nil {
		if exact, err = t.opt.ExactStarts(); err != nil {
			res.ExactErr = err
		}
	}
	var all []*procEntry
	for _, de := range ents {
		pid, err := strconv.ParseUint(de.Name(), 10, 32)
		if err != nil {
			continue
		}
		e, err := readProcfs(root, uint32(pid))
		if err != nil {
			res.Skipped++
			if !errors.Is(err, os.ErrNotExist) && len(res.SkipErrs) < 5 {
				res.SkipErrs = append(res.SkipErrs, err)
			}
			continue
		}
		if x, ok := exact[e.k.PID]; ok && x/tickNS == e.k.StartBoot/tickNS {
			e.k.StartBoot, e.exact = x, true
			res.Exact++
		}
		all = append(all, e)
	}
	// Parents start before their children (a reparented orphan's new
	// parent may not: it is linked in the second pass).
	sort.Slice(all, func(i, j int) bool {
		if all[i].k.StartBoot != all[j].k.StartBoot {
			return all[i].k.StartBoot < all[j].k.StartBoot
		}
		return all[i].k.PID < all[j].k.PID
	})
	var late []*Proc
	for _, e := range all {
		if t.procs[e.k.PID] != nil {
			continue // already seen starting from a kernel event
		}
		p := t.insertProcfs(e)
		if p.parent == nil && p.PPID != 0 {
			late = append(late, p)
		}
		res.Seeded++
	}
	for _, p := range late {
		if t.procs[p.PPID] != nil {
			t.setParent(p, p.PPID, 0)
			t.decide(p)
		}
	}
	t.st.Seeded += uint64(res.Seeded)
	return res, nil
}

// insertProcfs puts a process read from /proc into the table.
func (t *Table) insertProcfs(e *procEntry) *Proc {
	k := &e.k
	p := &Proc{PID: k.PID, StartBoot: k.StartBoot, approx: !e.exact, fromProcfs: true}
	t.fill(p, k)
	// Judge containers by the namespace the process is in: a process that
	// called unshare(CLONE_NEWPID) is still in its parent's.
	if e.realNS != 0 {
		p.PidNS = e.realNS
	}
	t.setParent(p, k.PPID, 0)
	t.insert(p)
	p.Info = &event.ProcInfo{
		EntityID:         t.opt.EntityID(p.PID, p.StartBoot),
		PID:              p.PID,
		Start:            t.opt.Wall(p.StartBoot),
		Name:             k.Comm,
		Executable:       e.x.Executable,
		Args:             e.x.Args,
		ArgsCount:        max(int(e.x.Argc), len(e.x.Args)),
		CommandLine:      strings.Join(e.x.Args, " "),
		WorkingDirectory: e.x.Cwd,
		Interactive:      k.TTY != 0,
		UID:              k.EUID,
		GID:              k.EGID,
	}
	if t.opt.UserName != nil {
		p.Info.UserName = t.opt.UserName(p, k.EUID)
	}
	t.decide(p)
	return p
}

// FillFromProcfs reads an unknown process from /proc (root) on its first
// event, when it is still there and is the same process (its start time
// agrees with the kernel's). It returns nil when it cannot.
func (t *Table) FillFromProcfs(root string, k *event.Process) *Proc {
	e, err := readProcfs(root, k.PID)
	if err != nil || (k.StartBoot != 0 && k.StartBoot/tickNS != e.k.StartBoot/tickNS) {
		return nil
	}
	if old := t.procs[k.PID]; old != nil {
		t.remove(old)
	}
	p := t.insertProcfs(e)
	if k.StartBoot != 0 {
		t.upgrade(p, k.StartBoot)
		t.st.Upgraded-- // not a seeded process
	}
	t.st.FilledFromProcfs++
	return p
}

// SSHSource returns the client address of an SSH session from the
// SSH_CONNECTION (or SSH_CLIENT) variable in /proc/PID/environ (root is
// normally "/proc"): "client_ip client_port server_ip server_port".
func SSHSource(root string, pid uint32) (string, bool) {
	b, err := os.ReadFile(filepath.Join(root, strconv.FormatUint(uint64(pid), 10), "environ"))
	if err != nil {
		return "", false
	}
	var client string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("SSH_CONNECTION=")); ok {
			if f := strings.Fields(string(v)); len(f) > 0 {
				return f[0], true
			}
		}
		if v, ok := bytes.CutPrefix(kv, []byte("SSH_CLIENT=")); ok {
			if f := strings.Fields(string(v)); len(f) > 0 {
				client = f[0]
			}
		}
	}
	return client, client != ""
}

func parseAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// SSHPeer returns the remote address of the established TCP connection
// held by an sshd process (root is normally "/proc"): its accepted client
// socket. Used when the session's shell has no SSH_CONNECTION.
func SSHPeer(root string, sshdPID uint32) (string, bool) {
	dir := filepath.Join(root, strconv.FormatUint(uint64(sshdPID), 10))
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return "", false
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(dir + "/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	if len(inodes) == 0 {
		return "", false
	}
	for _, table := range []string{"/net/tcp", "/net/tcp6"} {
		b, err := os.ReadFile(dir + table)
		if err != nil {
			continue
		}
		if ip, ok := peerOf(b, inodes); ok {
			return ip, true
		}
	}
	return "", false
}

// peerOf finds, in /proc/net/tcp{,6} text, the remote address of an
// established socket whose inode is in inodes.
func peerOf(table []byte, inodes map[string]bool) (string, bool) {
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "01" || !inodes[f[9]] {
			continue
		}
		hexAddr, _, ok := strings.Cut(f[2], ":")
		if !ok {
			continue
		}
		if a, ok := parseProcNetAddr(hexAddr); ok {
			return a.String(), true
		}
	}
	return "", false
}

// parseProcNetAddr decodes /proc/net/tcp's address: 32-bit words in host
// (little endian) byte order, 4 of them for IPv6.
func parseProcNetAddr(h string) (netip.Addr, bool) {
	if len(h) != 8 && len(h) != 32 {
		return netip.Addr{}, false
	}
	var b [16]byte
	for w := 0; w < len(h)/8; w++ {
		v, err := strconv.ParseUint(h[w*8:w*8+8], 16, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		b[w*4], b[w*4+1], b[w*4+2], b[w*4+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	if len(h) == 8 {
		return netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]}), true
	}
	return netip.AddrFrom16(b).Unmap(), true
}
