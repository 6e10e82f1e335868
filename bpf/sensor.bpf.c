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
#include "ns.bpf.c"

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
const struct proc_state *unused_proc_state __attribute__((unused)); /* a map value the portable build would only forward-declare */

/*
 * sys_exit is one small dispatcher and a program per family of calls.
 *
 * on_sys_exit runs for every system call on the host. It maps an ia32
 * call to its native number and argument order (compat.bpf.c), picks the
 * family of the calls bansho reports, puts the call (number, result,
 * arguments) in the per-CPU sys_calls slot and tail-calls the family's
 * program through sys_progs. Each family program is verified on its own,
 * with its own 512-byte stack and instruction budget: no kernel's private
 * per-subprogram stacks are assumed, and a handler that grows cannot push
 * another over a limit. A tail call does not return; one that fails (the
 * slot empty: never, the loader fills every one) is counted.
 *
 * The slot is safe to share: a tail call runs at once on the same CPU,
 * and no other program writes it.
 */
struct sys_call {
	struct sc_args a;
	long nr;
	long ret;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sys_call);
} sys_calls SEC(".maps");

enum sys_family {
	SF_READ,
	SF_OPEN,
	SF_WRITE,
	SF_CLOSE,
	SF_DUP,
	SF_FD_ATTR,
	SF_CONNECT,
	SF_ACCEPT,
	SF_SEND,
	SF_PTRACE,
	SF_NS,
	SF_SELF_OPEN, /* the sensor's own opens: the identity probe */
	SF_OPEN_REFUSED, /* opens refused with EACCES or EPERM: of the sensor's mem? */
	SF_MAX,
};

/* The family of a native call bansho reports, or -1. */
static __always_inline int family_of(long nr)
{
	switch (nr) {
	case NR_read:
	case NR_pread64:
	case NR_readv:
	case NR_preadv:
	case NR_preadv2:
		return SF_READ;
	case NR_open:
	case NR_openat:
	case NR_openat2:
	case NR_creat:
		return SF_OPEN;
	case NR_write:
	case NR_pwrite64:
	case NR_writev:
	case NR_pwritev:
	case NR_pwritev2:
	case NR_sendfile:
	case NR_copy_file_range:
	case NR_splice:
		return SF_WRITE;
	case NR_close:
		return SF_CLOSE;
	case NR_dup:
	case NR_dup2:
	case NR_dup3:
	case NR_fcntl:
		return SF_DUP;
	case NR_fchmod:
	case NR_fchown:
	case NR_ftruncate:
		return SF_FD_ATTR;
	case NR_connect:
		return SF_CONNECT;
	case NR_accept:
	case NR_accept4:
		return SF_ACCEPT;
	case NR_sendto:
	case NR_sendmsg:
	case NR_sendmmsg:
		return SF_SEND;
	case NR_ptrace:
	case NR_process_vm_readv:
	case NR_process_vm_writev:
	case NR_pidfd_getfd:
		return SF_PTRACE;
	}
	if (is_ns_syscall(nr))
		return SF_NS;
	return -1;
}

static __always_inline int is_mount_syscall(long nr)
{
	switch (nr) {
	case NR_mount:
	case NR_umount2:
	case NR_pivot_root:
	case NR_open_tree:
	case NR_move_mount:
	case NR_fsmount:
	case NR_mount_setattr:
		return 1;
	}
	return 0;
}

/* The call handed over by the dispatcher (never NULL in practice). */
static __always_inline struct sys_call *this_call(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&sys_calls, &zero);
}

/* A family program: fetch the call and hand it to the handler. */
#define SYS_FAMILY(name, body)                                              \
	SEC("tp_btf/sys_exit")                                              \
	int BPF_PROG(name, struct pt_regs *regs, long sys_ret)              \
	{                                                                   \
		struct sys_call *c = this_call();                           \
		if (!c)                                                     \
			return 0;                                           \
		struct sc_args *a __attribute__((unused)) = &c->a;          \
		long nr __attribute__((unused)) = c->nr, ret = c->ret;      \
		body;                                                       \
		return 0;                                                   \
	}

SYS_FAMILY(sys_read, handle_read(a, ret))
SYS_FAMILY(sys_open, handle_open(a, nr, ret))
SYS_FAMILY(sys_write, {
	int fd = a->a0;
	__u64 count = a->a2;
	if (nr == NR_sendfile) {
		count = a->a3;
	} else if (nr == NR_copy_file_range || nr == NR_splice) {
		fd = a->a2;
		count = a->a4;
	}
	handle_write(a, nr, ret, fd, count);
})
SYS_FAMILY(sys_close, handle_close(current_task(), a->a0, ret))
SYS_FAMILY(sys_dup, handle_dup(a, nr, ret))
SYS_FAMILY(sys_fd_attr, handle_fd_attr(a, nr, ret))
SYS_FAMILY(sys_connect, handle_connect(a, nr, ret))
SYS_FAMILY(sys_accept, handle_accept(a, nr, ret))
SYS_FAMILY(sys_send, handle_send(a, nr, ret))
SYS_FAMILY(sys_ptrace, handle_ptrace(a, nr, ret))
SYS_FAMILY(sys_ns, {
	struct task_struct *task = current_task();
	/* A moved directory changes the verdicts below it; a removed one's
	 * inode number may come back as another directory. */
	if (is_rename(nr)) {
		if (rename_may_move_dir(task) && ret == 0)
			bump_generation();
	} else if (ret == 0 && (nr == NR_rmdir || (nr == NR_unlinkat && (a->a2 & AT_REMOVEDIR)))) {
		bump_generation();
	}
	handle_ns(a, nr, ret);
})
SYS_FAMILY(sys_self_open, self_probe_open(current_task(), ret))
SYS_FAMILY(sys_open_refused, self_mem_refused(a, nr, ret))

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SF_MAX);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} sys_progs SEC(".maps") = {
	.values = {
		[SF_READ] = (void *)&sys_read,
		[SF_OPEN] = (void *)&sys_open,
		[SF_WRITE] = (void *)&sys_write,
		[SF_CLOSE] = (void *)&sys_close,
		[SF_DUP] = (void *)&sys_dup,
		[SF_FD_ATTR] = (void *)&sys_fd_attr,
		[SF_CONNECT] = (void *)&sys_connect,
		[SF_ACCEPT] = (void *)&sys_accept,
		[SF_SEND] = (void *)&sys_send,
		[SF_PTRACE] = (void *)&sys_ptrace,
		[SF_NS] = (void *)&sys_ns,
		[SF_SELF_OPEN] = (void *)&sys_self_open,
		[SF_OPEN_REFUSED] = (void *)&sys_open_refused,
	},
};

#include "compat.bpf.c"

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = current_task();
	long nr = regs->orig_ax;
	struct sys_call *c;
	int fam;

	if (KR(task, thread_info.status) & TS_COMPAT) {
		c = this_call();
		if (!c)
			return 0;
		nr = compat_args(&c->a, regs, nr);
		if (nr < 0)
			return 0;
		stat_inc(STAT_COMPAT_SYSCALL);
		fam = family_of(nr);
	} else if (self_tgid && KR(task, tgid) == self_tgid) {
		if (nr != NR_openat && nr != NR_open)
			return 0;
		fam = SF_SELF_OPEN;
	} else {
		/* The arguments are copied only for the calls handed on. */
		fam = family_of(nr);
		c = fam < 0 ? NULL : this_call();
		if (c) {
			c->a.a0 = regs->di;
			c->a.a1 = regs->si;
			c->a.a2 = regs->dx;
			c->a.a3 = regs->r10;
			c->a.a4 = regs->r8;
			c->a.a5 = regs->r9;
			c->a.compat = 0;
		}
	}
	if (fam < 0) {
		/* Mount changes alter what is above a directory. */
		if (is_mount_syscall(nr) && ret >= 0)
			bump_generation();
		return 0;
	}
	if (fam == SF_OPEN && ret < 0) {
		/* A failed open names no file. One refused by the ptrace
		 * access check may have been aimed at the sensor's mem. */
		if (!self_tgid || (ret != -13 /* EACCES */ && ret != -1 /* EPERM */))
			return 0;
		fam = SF_OPEN_REFUSED;
	}
	c = this_call();
	if (!c)
		return 0;
	c->nr = nr;
	c->ret = ret;
	bpf_tail_call(ctx, &sys_progs, fam);
	stat_inc(STAT_TAIL_CALL_FAIL);
	return 0;
}
