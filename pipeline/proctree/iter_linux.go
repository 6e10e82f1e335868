//go:build linux

package proctree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// ExactStarts reads every process's exact start time (CLOCK_BOOTTIME ns,
// the value the kernel records carry) with a BPF task iterator: /proc
// gives it to the clock tick only, and the entity id is a hash of it.
//
// The program is a dozen instructions assembled here (no clang, no object
// file): for each task that is a thread group leader, write (tgid,
// start_boottime) to the iterator's seq file. Field offsets come from the
// kernel's BTF. (On the 6.18 kernel here the iteration starts at pid 2:
// pid 1 keeps its /proc start time.)
func ExactStarts() (map[uint32]uint64, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("proctree: kernel btf: %w", err)
	}
	var task *btf.Struct
	if err := spec.TypeByName("task_struct", &task); err != nil {
		return nil, fmt.Errorf("proctree: task_struct: %w", err)
	}
	offPID, err := memberOffset(task.Members, "pid")
	if err != nil {
		return nil, err
	}
	offTGID, err := memberOffset(task.Members, "tgid")
	if err != nil {
		return nil, err
	}
	offStart, err := memberOffset(task.Members, "start_boottime")
	if err != nil {
		return nil, err
	}
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R7, asm.R6, 8, asm.DWord), // ctx->task
		asm.JEq.Imm(asm.R7, 0, "out"),
		asm.LoadMem(asm.R2, asm.R7, int16(offPID), asm.Word),
		asm.LoadMem(asm.R3, asm.R7, int16(offTGID), asm.Word),
		asm.JNE.Reg(asm.R2, asm.R3, "out"), // threads: only the leader
		asm.StoreMem(asm.RFP, -16, asm.R3, asm.Word),
		asm.StoreImm(asm.RFP, -12, 0, asm.Word),
		asm.LoadMem(asm.R4, asm.R7, int16(offStart), asm.DWord),
		asm.StoreMem(asm.RFP, -8, asm.R4, asm.DWord),
		asm.LoadMem(asm.R1, asm.R6, 0, asm.DWord), // ctx->meta
		asm.LoadMem(asm.R1, asm.R1, 0, asm.DWord), // meta->seq
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.Mov.Imm(asm.R3, 16),
		asm.FnSeqWrite.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "bansho_starts", Type: ebpf.Tracing, AttachType: ebpf.AttachTraceIter, AttachTo: "task",
		License: "GPL", Instructions: insns,
	})
	if err != nil {
		return nil, fmt.Errorf("proctree: load task iterator: %w", err)
	}
	defer prog.Close()
	it, err := link.AttachIter(link.IterOptions{Program: prog})
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
	out := make(map[uint32]uint64, len(b)/16)
	for ; len(b) >= 16; b = b[16:] {
		out[binary.NativeEndian.Uint32(b)] = binary.NativeEndian.Uint64(b[8:])
	}
	return out, nil
}

// memberOffset finds a member of s by name, also inside anonymous
// structs and unions, and returns its byte offset.
func memberOffset(members []btf.Member, name string) (uint32, error) {
	for _, m := range members {
		if m.Name == name {
			if m.Offset%8 != 0 {
				return 0, fmt.Errorf("proctree: task_struct.%s is a bit field", name)
			}
			return uint32(m.Offset / 8), nil
		}
		if m.Name == "" {
			var inner []btf.Member
			switch c := btf.UnderlyingType(m.Type).(type) {
			case *btf.Struct:
				inner = c.Members
			case *btf.Union:
				inner = c.Members
			}
			if off, err := memberOffset(inner, name); err == nil {
				return uint32(m.Offset/8) + off, nil
			}
		}
	}
	return 0, errors.New("proctree: task_struct has no " + name)
}
