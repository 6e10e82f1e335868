package event

// Self-protection: the sensor's own process, programs and files.
const (
	OpSelfSignal Op = 30  // kernel: another process signalled the sensor
	OpSelfPtrace Op = 31  // kernel: ptrace attach, process_vm_readv/writev or pidfd_getfd on the sensor
	OpSelfDetach Op = 103 // userspace: a kernel program of the sensor is no longer attached
)

// Flags of guarded objects (EF_INTEGRITY, EF_SELF in bansho.h).
const (
	FlagIntegrity uint8 = 1 << 5 // the object is under protect.integrity_paths
	FlagSelf      uint8 = 1 << 6 // the target is the sensor: its process or its own files
)

// Self describes an action aimed at the sensor itself. Proc of the event
// is the sender or tracer (for OpSelfDetach, the sensor).
type Self struct {
	Signal    int32  // OpSelfSignal: the signal number
	SigCode   int32  // si_code: 0 kill, -1 sigqueue, -6 tkill/tgkill
	Ret       int64  // ptrace / process_vm_*: result; signal: delivery result (0 delivered, 1 ignored, 2 already pending)
	Request   int64  // ptrace request (16 PTRACE_ATTACH, 0x4206 PTRACE_SEIZE); pidfd_getfd: the target fd
	Syscall   uint32 // 101 ptrace, 310 process_vm_readv, 311 process_vm_writev, 438 pidfd_getfd
	TargetPID uint32 // the sensor's pid
	TargetTID uint32 // the thread signalled or traced
	// Detached lists, for OpSelfDetach, each program found missing and how.
	Detached []string
}

func selfOpString(o Op) string {
	switch o {
	case OpSelfSignal:
		return "signal"
	case OpSelfPtrace:
		return "ptrace"
	case OpSelfDetach:
		return "detach"
	}
	return "unknown"
}
