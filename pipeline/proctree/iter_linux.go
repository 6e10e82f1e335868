//go:build linux

package proctree

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cilium/ebpf/link"
)

// taskStartSize is the size of one record of the iterator, struct
// task_start in bpf/iter.bpf.c: tgid u32, pad u32, start_boottime u64.
const taskStartSize = 16

// ExactStarts reads every process's exact start time (CLOCK_BOOTTIME ns,
// the value the kernel records carry) with a BPF task iterator: /proc
// gives it to the clock tick only, and the entity id is a hash of it.
//
// The program is bpf/iter.bpf.c (iter_bpfel.o, generated): for each task
// that is a thread group leader it writes (tgid, start_boottime) to the
// iterator's seq file, reading the fields with CO-RE relocations against
// the kernel's BTF. (On the 6.18 kernel here the iteration starts at pid
// 2: pid 1 keeps its /proc start time.)
func ExactStarts() (map[uint32]uint64, error) {
	var objs iterObjects
	if err := loadIterObjects(&objs, nil); err != nil {
		return nil, fmt.Errorf("proctree: load task iterator: %w", err)
	}
	defer objs.Close()
	it, err := link.AttachIter(link.IterOptions{Program: objs.TaskStarts})
	if err != nil {
		return nil, fmt.Errorf("proctree: attach task iterator: %w", err)
	}
	defer it.Close()
	rd, err := it.Open()
	if err != nil {
		return nil, fmt.Errorf("proctree: open task iterator: %w", err)
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("proctree: read task iterator: %w", err)
	}
	out := make(map[uint32]uint64, len(b)/taskStartSize)
	for ; len(b) >= taskStartSize; b = b[taskStartSize:] {
		out[binary.NativeEndian.Uint32(b)] = binary.NativeEndian.Uint64(b[8:])
	}
	return out, nil
}
