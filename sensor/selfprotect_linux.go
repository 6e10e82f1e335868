//go:build linux

package sensor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Kinds of guarded objects in the protected_dirs / protected_inodes
// values (PD_* in bansho.h).
const (
	pdIntegrity uint32 = 1 << 31
	pdSelf      uint32 = 1 << 30
	piGen       uint32 = 1 << 29 // protected_inodes: the entry carries the inode's generation
)

// IntegrityPath is a registered integrity path.
type IntegrityPath struct {
	Path string
	Self bool // one of the sensor's own files
	Dir  bool
}

// RegisterIntegrity guards paths for modification only: an open that can
// write, a truncate, rename, unlink, chmod or chown of anything under
// them is reported with FlagIntegrity, never a read, and nothing is
// tainted. self are the sensor's own files and directories (binary,
// configuration, output, key): reported with FlagSelf too. A path that
// does not exist is skipped and returned in skipped with the reason; a
// protected data directory keeps its stronger protection.
func (s *Sensor) RegisterIntegrity(paths, self []string) (reg []IntegrityPath, skipped []string, err error) {
	type item struct {
		p    string
		self bool
	}
	var items []item
	seen := map[string]bool{}
	for _, p := range self {
		if p != "" && !seen[p] {
			seen[p] = true
			items = append(items, item{p, true})
		}
	}
	for _, p := range paths {
		if p != "" && !seen[p] {
			seen[p] = true
			items = append(items, item{p, false})
		}
	}
	for i, it := range items {
		real, err := filepath.EvalSymlinks(it.p)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", it.p, errors.Unwrap(err)))
			continue
		}
		st, err := os.Stat(real)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", it.p, err))
			continue
		}
		// The nearest guarded directory decides: an integrity path inside
		// protected data would take the protection away from what is below.
		if pd, ok := s.underProtected(real); ok {
			skipped = append(skipped, fmt.Sprintf("%s: inside protected directory %s, stays protected data", it.p, pd))
			continue
		}
		dev, ino, err := s.KernelIdentity(real)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", it.p, err))
			continue
		}
		v := pdIntegrity | uint32(i)&0xffffff
		if it.self {
			v |= pdSelf
		}
		key := banshoInodeKey{Dev: dev, Ino: ino}
		if st.IsDir() {
			var old uint32
			if s.maps.protectedDirs.Lookup(key, &old) == nil && old&pdIntegrity == 0 {
				continue // protected data already; stays so
			}
			err = s.maps.protectedDirs.Put(key, v)
		} else {
			var old banshoProtInode
			if s.maps.protectedInodes.Lookup(key, &old) == nil && old.V&pdIntegrity == 0 {
				continue
			}
			err = s.putProtectedInode(key, v)
		}
		if err != nil {
			return reg, skipped, fmt.Errorf("protect.integrity_paths %s: add to kernel map: %w", it.p, err)
		}
		reg = append(reg, IntegrityPath{Path: real, Self: it.self, Dir: st.IsDir()})
	}
	if err := s.bumpGeneration(); err != nil {
		return reg, skipped, err
	}
	return reg, skipped, nil
}

// underProtected reports the protected directory that holds path, if any.
func (s *Sensor) underProtected(path string) (string, bool) {
	for _, pd := range s.protected {
		if path == pd.Path || strings.HasPrefix(path, strings.TrimSuffix(pd.Path, "/")+"/") {
			return pd.Path, true
		}
	}
	return "", false
}

// CheckAttached verifies that every program the sensor attached is still
// attached: its link is alive, still holds the same program, and the
// program is still loaded. It returns one line per program found missing.
// Someone with CAP_BPF/CAP_SYS_ADMIN can detach a link (bpftool link
// detach) or, with ptrace, close the sensor's descriptors.
func (s *Sensor) CheckAttached() []string {
	var bad []string
	i := 0
	for _, h := range hooks {
		p := s.coll.Programs[h.prog]
		if p == nil || i >= len(s.links) {
			continue
		}
		l := s.links[i]
		i++
		if msg := linkProblem(l, p); msg != "" {
			bad = append(bad, fmt.Sprintf("%s (tracepoint %s): %s", h.prog, h.tracepoint, msg))
		}
	}
	for name, l := range s.nsLinks {
		if msg := linkProblem(l, s.nsColl.Programs[name]); msg != "" {
			bad = append(bad, fmt.Sprintf("%s (fentry): %s", name, msg))
		}
	}
	if t := s.tls; t != nil {
		t.mu.Lock()
		for i, c := range t.links {
			l, ok := c.(link.Link)
			if !ok {
				continue // attached by ioctl (before 5.15): no link to check
			}
			if msg := linkProblem(l, t.prog); msg != "" {
				bad = append(bad, fmt.Sprintf("on_ssl_write (uprobe %d): %s", i, msg))
			}
		}
		t.mu.Unlock()
	}
	return bad
}

func linkProblem(l link.Link, p *ebpf.Program) string {
	info, err := l.Info()
	if err != nil {
		return "link gone: " + err.Error()
	}
	pinfo, err := p.Info()
	if err != nil {
		return "program gone: " + err.Error()
	}
	pid, _ := pinfo.ID()
	if info.Program != pid {
		return fmt.Sprintf("link %d holds program %d, not ours (%d)", info.ID, info.Program, pid)
	}
	// The link must still be listed by the kernel.
	if l2, err := link.NewFromID(info.ID); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Sprintf("link %d no longer exists", info.ID)
		}
	} else {
		l2.Close()
	}
	return ""
}

// detachForTest closes the link of prog, as a detach by someone else would.
func (s *Sensor) detachForTest(prog string) error {
	i := 0
	for _, h := range hooks {
		if s.coll.Programs[h.prog] == nil {
			continue
		}
		if h.prog == prog {
			return s.links[i].Close()
		}
		i++
	}
	return fmt.Errorf("no program %s", prog)
}

// Detach removes every kernel program from its hook (tracepoints and TLS
// uprobes), so that nothing new is recorded, and keeps the maps and the
// ring buffer: Run can then drain what was recorded before. Close still
// has to be called.
func (s *Sensor) Detach() {
	if s.tls != nil {
		s.tls.close()
	}
	s.closeLinks()
}

// RingPending is the number of bytes waiting in the ring buffer, or -1
// when Run is not reading it.
func (s *Sensor) RingPending() int {
	if rd := s.rstats.ring.Load(); rd != nil {
		return rd.AvailableBytes()
	}
	return -1
}

// LastTurn is when the read loop last went round (zero before Run).
func (s *Sensor) LastTurn() time.Time {
	if n := s.rstats.LastTurn.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}
