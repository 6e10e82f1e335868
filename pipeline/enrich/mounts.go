package enrich

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bansho-sec/bansho/internal/event"
)

// networkFS are file systems whose data leaves the host.
var networkFS = map[string]bool{
	"nfs": true, "nfs4": true, "cifs": true, "smb3": true, "smbfs": true, "ceph": true, "glusterfs": true,
	"fuse.glusterfs": true, "fuse.sshfs": true, "sshfs": true, "9p": true, "afs": true, "lustre": true,
	"gfs2": true, "ocfs2": true, "fuse.s3fs": true, "fuse.rclone": true, "davfs": true, "fuse.davfs2": true,
}

// mountTable maps a device (the kernel's dev_t: major<<20 | minor, what
// file events carry) to what is mounted from it.
type mountTable map[uint64]*event.Mount

// parseMountinfo reads /proc/PID/mountinfo lines:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
//
// (id, parent, major:minor, root, mount point, options, optional fields,
// "-", type, source, super options). The first mount of a device wins
// (later ones are bind mounts of it). Broken lines are counted.
func parseMountinfo(b []byte, sys string) (mountTable, int) {
	t := mountTable{}
	bad := 0
	removable := map[uint64]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 7 || sep < 0 || sep+2 >= len(f) {
			bad++
			continue
		}
		maj, min, ok := strings.Cut(f[2], ":")
		ma, err1 := strconv.ParseUint(maj, 10, 32)
		mi, err2 := strconv.ParseUint(min, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			bad++
			continue
		}
		dev := ma<<20 | mi
		if _, dup := t[dev]; dup {
			continue
		}
		fstype := f[sep+1]
		m := &event.Mount{FSType: fstype, Source: unescapeMount(f[sep+2]), MountPoint: unescapeMount(f[4]),
			Network: networkFS[fstype] || strings.HasPrefix(fstype, "nfs")}
		if ma != 0 { // block devices only; 0 is anonymous (tmpfs, overlay, nfs)
			r, seen := removable[dev]
			if !seen {
				r = isRemovable(sys, ma, mi)
				removable[dev] = r
			}
			m.Removable = r
		}
		t[dev] = m
	}
	return t, bad
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isRemovable: the disk (the partition's parent) says removable=1, or it
// hangs off a USB bus (USB disks often say removable=0).
func isRemovable(sys string, major, minor uint64) bool {
	link := filepath.Join(sys, "dev/block", fmt.Sprintf("%d:%d", major, minor))
	real, err := filepath.EvalSymlinks(link)
	if err != nil {
		return false
	}
	if strings.Contains(real, "/usb") {
		return true
	}
	for _, dir := range []string{real, filepath.Dir(real)} {
		if b, err := os.ReadFile(filepath.Join(dir, "removable")); err == nil {
			return strings.TrimSpace(string(b)) == "1"
		}
	}
	return false
}

// Mounts knows the mount facts of every device, from mountinfo, re-read
// when the mount table changes (the kernel flags mountinfo with POLLPRI).
type Mounts struct {
	path string // /proc/self/mountinfo
	sys  string // /sys
	cur  atomic.Pointer[mountTable]

	Reloads  atomic.Uint64
	BadLines atomic.Uint64
	Errors   atomic.Uint64
}

// NewMounts reads the mount table at path (normally /proc/self/mountinfo)
// with removable flags from sys (normally /sys).
func NewMounts(path, sys string) (*Mounts, error) {
	m := &Mounts{path: path, sys: sys}
	if err := m.Reload(); err != nil {
		return nil, err
	}
	return m, nil
}

// Reload re-reads the mount table.
func (m *Mounts) Reload() error {
	b, err := os.ReadFile(m.path)
	if err != nil {
		m.Errors.Add(1)
		return fmt.Errorf("enrich: mounts: %w", err)
	}
	t, bad := parseMountinfo(b, m.sys)
	m.BadLines.Add(uint64(bad))
	m.cur.Store(&t)
	m.Reloads.Add(1)
	return nil
}

// Of returns the mount of the device a file is on, or nil.
func (m *Mounts) Of(dev uint64) *event.Mount {
	if t := m.cur.Load(); t != nil {
		return (*t)[dev]
	}
	return nil
}

// Watch reloads the table whenever it changes, until done is closed.
//
// The file is opened with a raw open(2), not os.Open: an os.File is put
// in the Go runtime's epoll set, whose wakeups also run mountinfo's poll
// handler and so consume the change notice before our poll(2) sees it.
func (m *Mounts) Watch(done <-chan struct{}) error {
	fd, err := unix.Open(m.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("enrich: watch mounts: %w", &os.PathError{Op: "open", Path: m.path, Err: err})
	}
	// A change between the first read (NewMounts) and this open.
	_ = m.Reload()
	go func() {
		defer unix.Close(fd)
		for {
			select {
			case <-done:
				return
			default:
			}
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI | unix.POLLERR}}
			n, err := unix.Poll(fds, 500) // wake up to see done
			if err != nil && err != unix.EINTR {
				m.Errors.Add(1)
				return
			}
			if n > 0 && fds[0].Revents&(unix.POLLPRI|unix.POLLERR) != 0 {
				_ = m.Reload()
			}
		}
	}()
	return nil
}
