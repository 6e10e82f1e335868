//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Process lifecycle: exec, fork (new processes, not threads), exit. */

/* Up to ARGS_BUF bytes of argv, NUL separated, as the new program sees it. */
static __always_inline __u32 read_args(struct task_struct *task, char *dst, __u8 *flags)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u32 len;

	if (end <= start)
		return 0;
	len = end - start;
	if (len > ARGS_BUF) {
		len = ARGS_BUF;
		*flags |= EF_TRUNCATED;
	}
	barrier_var(len); /* keep the mask below: the verifier needs it */
	len &= (ARGS_BUF * 2 - 1);
	if (bpf_probe_read_user(dst, len, (void *)start) < 0) {
		*flags |= EF_READ_FAILED;
		stat_inc(STAT_USER_READ_FAIL);
		return 0;
	}
	return len;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct scratch *s;
	struct exec_event *e;
	__u32 off, pos;
	int trunc = 0;
	long n;

	__u32 tgid = task->tgid;

	if (self_tgid && tgid == self_tgid)
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	fill_hdr(&e->hdr, OP_EXEC);
	fill_proc(&e->proc, task);
	e->old_pid = old_pid;
	e->argc = bprm->argc;
	off = sizeof(*e);

	n = bpf_probe_read_kernel_str(&s->buf[off], PATH_BUF, bprm->filename);
	e->filename_len = n > 0 ? n - 1 : 0;
	off += e->filename_len & (PATH_BUF - 1);

	e->exe_len = 0;
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (exe) {
		pos = build_path(s, BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt), &trunc);
		e->exe_len = copy_built_path(s, pos, (char *)&s->buf[off & OFF_MASK]);
		off += e->exe_len & (PATH_BUF - 1);
	}

	e->cwd_len = 0;
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	if (fs) {
		pos = build_path(s, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt), &trunc);
		e->cwd_len = copy_built_path(s, pos, (char *)&s->buf[off & OFF_MASK]);
		off += e->cwd_len & (PATH_BUF - 1);
	}
	if (trunc) {
		e->hdr.flags |= EF_TRUNCATED;
		stat_inc(STAT_PATH_TRUNCATED);
	}

	e->args_len = read_args(task, (char *)&s->buf[off & OFF_MASK], &e->hdr.flags);
	off += e->args_len & (ARGS_BUF * 2 - 1);

	struct proc_state *ps = proc_state_get(tgid);
	if (ps && (ps->flags & PS_TAINTED))
		e->hdr.flags |= EF_TAINTED;

	submit(e, off);
	return 0;
}

struct fork_copy_ctx {
	__u32 parent;
	__u32 child;
	struct proc_state *ps;
};

/* Does tgid's fd bitmap (in ps, its proc_state) list fd? In the portable
 * object ps came through a loop's context slot as a number: looked up. */
static __always_inline int fd_listed(struct proc_state *ps, __u32 tgid, __u32 fd)
{
#ifdef BANSHO_PORTABLE
	ps = proc_state_get(tgid);
#endif
	__u64 *w = fd_word(ps, fd);

	return w && (*w & (1ULL << (fd & 63)));
}

/* Copy the parent's fd_table entries to the child: fds are inherited. */
static long fork_copy_fd(__u64 idx, struct fork_copy_ctx *c)
{
	__u32 fd = idx & (FD_BITS - 1);

	if (!fd_listed(c->ps, c->parent, fd))
		return 0;
	struct fd_key k = {.tgid = c->parent, .fd = fd};
	struct fd_info *info = bpf_map_lookup_elem(&fd_table, &k);
	if (!info)
		return 0;
	struct fd_info copy = *info;
	k.tgid = c->child;
	if (bpf_map_update_elem(&fd_table, &k, &copy, BPF_ANY) < 0)
		stat_inc(STAT_FDTABLE_FULL);
	return 0;
}

LOOP_BODY(fork_copy_fd, struct fork_copy_ctx)

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	struct scratch *s;
	struct fork_event *e;
	struct proc_state *pps, *cps;

	/* Threads share the process: only new thread groups are processes. */
	if (child->pid != child->tgid)
		return 0;
	if (self_tgid && parent->tgid == self_tgid)
		return 0;

	pps = proc_state_get(parent->tgid);
	if (pps) {
		__u32 ctgid = child->tgid;
		proc_present_set(ctgid);
		if (bpf_map_update_elem(&proc_states, &ctgid, pps, BPF_ANY) < 0) {
			stat_inc(STAT_PROC_STATE_FULL);
		} else {
			struct fork_copy_ctx c = {.parent = parent->tgid, .child = ctgid, .ps = pps};
			LOOP(FD_BITS, fork_copy_fd, &c);
		}
	}

	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	fill_hdr(&e->hdr, OP_FORK);
	fill_proc(&e->proc, child);
	/* fill_proc reads the cgroup of current (the parent); same at fork. */
	e->parent_pid = parent->tgid;
	e->clone_flags_hi = 0;
	cps = proc_state_get(child->tgid);
	if (cps && (cps->flags & PS_TAINTED))
		e->hdr.flags |= EF_TAINTED;
	submit(e, sizeof(*e));
	return 0;
}

struct exit_clean_ctx {
	__u32 tgid;
	struct proc_state *ps;
};

static long exit_clean_fd(__u64 idx, struct exit_clean_ctx *c)
{
	__u32 fd = idx & (FD_BITS - 1);

	if (!fd_listed(c->ps, c->tgid, fd))
		return 0;
	struct fd_key k = {.tgid = c->tgid, .fd = fd};
	bpf_map_delete_elem(&fd_table, &k);
	return 0;
}
LOOP_BODY(exit_clean_fd, struct exit_clean_ctx)

/*
 * The end of a process (its last thread). The tracepoint has two shapes:
 * from 6.16 it passes group_dead (on_exit_group); before, only the task
 * (on_exit), and the same fact is read where every kernel has it: do_exit
 * counts the group's live threads down before the tracepoint, so a group
 * whose count is zero is dead (two threads exiting at once may then both
 * see zero: the process's exit is reported twice, never missed). The
 * loader attaches the one that matches the kernel's tracepoint.
 */
static __always_inline int process_exit(struct task_struct *task)
{
	struct scratch *s;
	struct exit_event *e;
	__u32 tgid = task->tgid;
	struct proc_state *ps;
	__u8 tainted = 0;

	ps = proc_state_get(tgid);
	if (ps) {
		struct exit_clean_ctx c = {.tgid = tgid, .ps = ps};
		tainted = ps->flags & PS_TAINTED;
		LOOP(FD_BITS, exit_clean_fd, &c);
		bpf_map_delete_elem(&proc_states, &tgid);
		proc_present_clear(tgid);
	}
	if (self_tgid && tgid == self_tgid)
		return 0;

	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	fill_hdr(&e->hdr, OP_EXIT);
	fill_proc(&e->proc, task);
	if (tainted)
		e->hdr.flags |= EF_TAINTED;
	{
		struct signal_struct *sig = task->signal;
		__u32 code = task->exit_code;
		/* A group exit (exit_group, fatal signal) sets the group's code. */
		if (BPF_CORE_READ(sig, flags) & 0x00000004 /* SIGNAL_GROUP_EXIT */)
			code = BPF_CORE_READ(sig, group_exit_code);
		e->exit_code = code;
	}
	e->pad = 0;
	submit(e, sizeof(*e));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	return process_exit(task);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit_group, struct task_struct *task, bool group_dead)
{
	if (!group_dead)
		return 0;
	return process_exit(task);
}
