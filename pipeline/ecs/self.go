package ecs

import (
	"strconv"

	"github.com/bansho-sec/bansho/internal/event"
)

// selfMeta categorizes actions aimed at the sensor itself. Signals and
// ptrace are process events whose acting process is the sender or tracer;
// a detached program is found by the sensor and is an alert on its own.
func selfMeta(ev *event.Event) (meta, bool) {
	s := ev.Self
	switch ev.Op {
	case event.OpSelfSignal:
		m := meta{"event", `["process"]`, `["info"]`, "signal", "bansho.process", ""}
		if s != nil && s.Ret == 0 {
			m.outcome = "success" // delivered (1: ignored, 2: already pending)
		}
		return m, true
	case event.OpSelfPtrace:
		m := meta{"event", `["process"]`, `["access"]`, "ptrace", "bansho.process", "success"}
		if s != nil && s.Ret < 0 {
			m.outcome = "failure"
		}
		return m, true
	}
	return meta{"alert", `["host"]`, `["change"]`, "bpf-detach", "bansho.self", ""}, false
}

// selfFields writes bansho.signal, bansho.ptrace, bansho.target and
// bansho.self.detached.
func selfFields(o *obj, ev *event.Event) {
	s := ev.Self
	switch ev.Op {
	case event.OpSelfSignal:
		o.section("signal")
		o.int("number", int64(s.Signal))
		o.str("name", signalName(s.Signal))
		o.int("code", int64(s.SigCode))
		o.int("result", s.Ret)
		o.close()
	case event.OpSelfPtrace:
		o.section("ptrace")
		o.str("syscall", map[uint32]string{101: "ptrace", 310: "process_vm_readv", 311: "process_vm_writev",
			438: "pidfd_getfd", 2: "open", 257: "openat", 437: "openat2"}[s.Syscall])
		switch s.Syscall {
		case 101:
			o.int("request", s.Request)
			o.str("request_name", ptraceRequest(s.Request))
		case 438:
			o.int("target_fd", s.Request) // the sensor's descriptor copied out
		case 2, 257, 437: // /proc/<sensor>/mem opened: the open flags
			o.int("open_flags", s.Request)
			o.str("file", "mem")
		}
		o.int("ret", s.Ret)
		o.close()
	case event.OpSelfDetach:
		o.section("self")
		o.users("detached", s.Detached)
		o.close()
		return
	}
	o.section("target")
	o.uint("pid", uint64(s.TargetPID))
	o.uint("tid", uint64(s.TargetTID))
	o.close()
}

var signalNames = [...]string{1: "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
	"SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
	"SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ",
	"SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"}

func signalName(n int32) string {
	if n > 0 && int(n) < len(signalNames) {
		return signalNames[n]
	}
	if n >= 34 && n <= 64 {
		return "SIGRTMIN+" + strconv.Itoa(int(n)-34)
	}
	return strconv.Itoa(int(n))
}

func ptraceRequest(r int64) string {
	switch r {
	case 16:
		return "PTRACE_ATTACH"
	case 0x4206:
		return "PTRACE_SEIZE"
	}
	return strconv.FormatInt(r, 10)
}
