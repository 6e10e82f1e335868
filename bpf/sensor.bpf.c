//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bansho's kernel side: one object, one ring buffer. The per-hook files are
 * included here so bpf2go compiles a single object.
 *
 * Syscalls are seen at tp_btf/sys_exit only: on x86_64 the argument
 * registers in pt_regs are unchanged at exit, so every handler sees the
 * arguments and the result together, reads user memory the kernel has just
 * touched (resident), and needs no enter/exit bookkeeping.
 */
#include "lib/common.h"
#include "lib/fold.h"
#include "process.bpf.c"
#include "file.bpf.c"
#include "net.bpf.c"
#include "tls.bpf.c"
#include "self.bpf.c"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Referenced so that the record layouts are in the object's BTF, where the
 * Go decoder's tests check every offset against them. */
const struct exec_event *unused_exec __attribute__((unused));
const struct fork_event *unused_fork __attribute__((unused));
const struct exit_event *unused_exit __attribute__((unused));
const struct file_event *unused_file __attribute__((unused));
const struct net_event *unused_net __attribute__((unused));
const struct self_event *unused_self __attribute__((unused));
const struct repeat_event *unused_repeat __attribute__((unused));

/*
 * The handlers get the call's arguments in a struct sc_args. The native
 * dispatch (pre == NULL, regs set) fills it from regs only in the cases that
 * use it, so a syscall bansho does not handle costs nothing more; the ia32
 * dispatch passes its own (pre, regs NULL), with nr already the native
 * number. Both are inlined, the compiler drops the other branch of ARGS.
 *
 * The handlers are global functions, so the verifier checks each once for
 * any caller: as static subprograms they were checked again at every call
 * site, and the second dispatch took the program past the 1M-instruction
 * limit. A global function's parameters must all be used: clang leaves an
 * unused one's register unset at the call, and the verifier rejects that.
 */
static __always_inline struct sc_args *args_of(struct sc_args *a, struct pt_regs *regs,
					       struct sc_args *pre)
{
	if (pre)
		return pre;
	a->a0 = regs->di;
	a->a1 = regs->si;
	a->a2 = regs->dx;
	a->a3 = regs->r10;
	a->a4 = regs->r8;
	a->a5 = regs->r9;
	a->compat = 0;
	return a;
}

static __always_inline int route(struct task_struct *task, struct pt_regs *regs,
				 struct sc_args *pre, long nr, long ret)
{
	struct sc_args a;
#define ARGS args_of(&a, regs, pre)

	switch (nr) {
	case NR_read:
	case NR_pread64:
	case NR_readv:
	case NR_preadv:
	case NR_preadv2:
		return handle_read(ARGS, ret);
	case NR_open:
	case NR_openat:
	case NR_openat2:
	case NR_creat:
		return handle_open(ARGS, nr, ret);
	case NR_write:
	case NR_pwrite64:
	case NR_writev:
	case NR_pwritev:
	case NR_pwritev2: {
		struct sc_args *p = ARGS;
		return handle_write(p, nr, ret, p->a0, p->a2);
	}
	case NR_sendfile: {
		struct sc_args *p = ARGS;
		return handle_write(p, nr, ret, p->a0, p->a3);
	}
	case NR_copy_file_range:
	case NR_splice: {
		struct sc_args *p = ARGS;
		return handle_write(p, nr, ret, p->a2, p->a4);
	}
	case NR_close:
		return handle_close(task, pre ? pre->a0 : regs->di, ret);
	case NR_dup:
	case NR_dup2:
	case NR_dup3:
	case NR_fcntl:
		return handle_dup(ARGS, nr, ret);
	case NR_fchmod:
	case NR_fchown:
	case NR_ftruncate:
		return handle_fd_attr(ARGS, nr, ret);
	case NR_connect:
		return handle_connect(ARGS, nr, ret);
	case NR_ptrace:
	case NR_process_vm_readv:
	case NR_process_vm_writev:
	case NR_pidfd_getfd:
		return handle_ptrace(ARGS, nr, ret);
	case NR_accept:
	case NR_accept4:
		return handle_accept(ARGS, nr, ret);
	case NR_sendto:
	case NR_sendmsg:
	case NR_sendmmsg:
		return handle_send(ARGS, nr, ret);
	case NR_mount:
	case NR_umount2:
	case NR_pivot_root:
	case NR_open_tree:
	case NR_move_mount:
	case NR_fsmount:
	case NR_mount_setattr:
		/* Mount changes alter what is above a directory. */
		if (ret >= 0)
			bump_generation();
		return 0;
	}
	if (is_ns_syscall(nr)) {
		struct sc_args *p = ARGS;
		/* A moved directory changes the verdicts below it; a removed
		 * one's inode number may come back as another directory. */
		if (is_rename(nr)) {
			if (rename_may_move_dir(task) && ret == 0)
				bump_generation();
		} else if (ret == 0 && (nr == NR_rmdir || (nr == NR_unlinkat && (p->a2 & AT_REMOVEDIR)))) {
			bump_generation();
		}
		return handle_ns(p, nr, ret);
	}
	return 0;
#undef ARGS
}

#include "compat.bpf.c"

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	long nr = regs->orig_ax;

	if (task->thread_info.status & TS_COMPAT)
		return compat_sys_exit(task, regs, nr, ret);
	if (self_tgid && task->tgid == self_tgid) {
		if (nr == NR_openat || nr == NR_open)
			self_probe_open(task, ret);
		return 0;
	}
	return route(task, regs, NULL, nr, ret);
}
