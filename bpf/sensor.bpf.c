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

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	long nr = regs->orig_ax;

	if (task->thread_info.status & TS_COMPAT) {
		stat_inc(STAT_COMPAT_SYSCALL);
		return 0;
	}
	if (self_tgid && task->tgid == self_tgid) {
		if (nr == NR_openat || nr == NR_open)
			self_probe_open(task, ret);
		return 0;
	}

	switch (nr) {
	case NR_read:
	case NR_pread64:
	case NR_readv:
	case NR_preadv:
	case NR_preadv2:
		return handle_read(regs, nr, ret);
	case NR_open:
	case NR_openat:
	case NR_openat2:
	case NR_creat:
		return handle_open(regs, nr, ret);
	case NR_write:
	case NR_pwrite64:
	case NR_writev:
	case NR_pwritev:
	case NR_pwritev2:
		return handle_write(regs, nr, ret, regs->di, regs->dx);
	case NR_sendfile:
		return handle_write(regs, nr, ret, regs->di, regs->r10);
	case NR_copy_file_range:
	case NR_splice:
		return handle_write(regs, nr, ret, regs->dx, regs->r8);
	case NR_close:
		return handle_close(task, regs->di, ret);
	case NR_dup:
	case NR_dup2:
	case NR_dup3:
	case NR_fcntl:
		return handle_dup(regs, nr, ret);
	case NR_fchmod:
	case NR_fchown:
	case NR_ftruncate:
		return handle_fd_attr(regs, nr, ret);
	case NR_connect:
		return handle_connect(regs, nr, ret);
	case NR_ptrace:
	case NR_process_vm_readv:
	case NR_process_vm_writev:
	case NR_pidfd_getfd:
		return handle_ptrace(regs, nr, ret);
	case NR_accept:
	case NR_accept4:
		return handle_accept(regs, nr, ret);
	case NR_sendto:
	case NR_sendmsg:
	case NR_sendmmsg:
		return handle_send(regs, nr, ret);
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
		/* A moved or removed directory can change verdicts below it. */
		if (ret == 0 && (nr == NR_rename || nr == NR_renameat || nr == NR_renameat2 ||
				 nr == NR_rmdir || (nr == NR_unlinkat && (regs->dx & AT_REMOVEDIR))))
			bump_generation();
		return handle_ns(regs, nr, ret);
	}
	return 0;
}
