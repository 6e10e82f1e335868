package sensor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
)

// Array-map filters the kernel side asks before a hash map lookup on its
// hottest paths (see bpf/lib/common.h, proc_present and prot_ino_*bits).

// inoFilterShift and the hash must match INO_FILTER_SHIFT and
// ino_filter_pos in the BPF programs; TestInodeFilterMatchesKernel checks
// them against the kernel side.
const inoFilterShift = 19

// inoFilterPos is the filter bit of a protected_inodes key.
func inoFilterPos(k banshoInodeKey) uint32 {
	h := (k.Ino ^ k.Dev<<32 ^ k.Dev>>32) * 0x9E3779B97F4A7C15
	return uint32(h >> (64 - inoFilterShift))
}

// inoFilter sets, from userspace, the bits of the keys it puts in
// protected_inodes. The kernel sets its own bits in another map, so a
// read-modify-write here never loses one of them.
type inoFilter struct {
	mu   sync.Mutex
	bits *ebpf.Map
}

func (f *inoFilter) add(k banshoInodeKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := inoFilterPos(k)
	w := pos >> 6
	var word uint64
	if err := f.bits.Lookup(w, &word); err != nil {
		return fmt.Errorf("read protected-inode filter: %w", err)
	}
	if err := f.bits.Put(w, word|1<<(pos&63)); err != nil {
		return fmt.Errorf("write protected-inode filter: %w", err)
	}
	return nil
}

// putProtectedInode adds k to protected_inodes with kind v (1 for protected
// data, PD_* bits for integrity paths) and no generation, its filter bit
// first (an entry the filter hides would never be found).
func (s *Sensor) putProtectedInode(k banshoInodeKey, v uint32) error {
	if err := s.inoBits.add(k); err != nil {
		return err
	}
	return s.maps.protectedInodes.Put(k, banshoProtInode{V: v})
}

// pidWords is the size of proc_present, one bit per pid up to pid_max
// (at least the object's default). A larger pid_max later only makes the
// kernel look those pids up in the hash map.
func pidWords(procRoot string) (uint32, error) {
	const pidMaxLimit = 4 << 20 // PID_MAX_LIMIT on 64-bit
	b, err := os.ReadFile(procRoot + "/sys/kernel/pid_max")
	if err != nil {
		return 0, fmt.Errorf("read pid_max: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil || n == 0 || n > pidMaxLimit {
		return 0, fmt.Errorf("%s/sys/kernel/pid_max: %q is not a pid limit", procRoot, strings.TrimSpace(string(b)))
	}
	return uint32(max((n+63)/64, 512)), nil
}
