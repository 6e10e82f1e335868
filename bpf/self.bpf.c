//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Self-protection: another process signalling the sensor, ptrace-attaching
 * to it or reading or writing its memory (process_vm_readv/writev). Files
 * under protect.integrity_paths are handled with the file hooks (PROT_*).
 */

#define NR_ptrace 101
#define NR_process_vm_readv 310
#define NR_process_vm_writev 311
#define NR_pidfd_getfd 438
#define PID_FS_MAGIC 0x50494446 /* "PIDF": pidfds live on pidfs (6.9+) */
#define ANON_INODE_FS_MAGIC 0x09041934 /* before 6.9 a pidfd is the anon inode "[pidfd]" */
#define PROC_SUPER_MAGIC 0x9fa0
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206

/*
 * A tracer repeats itself: strace attaches to every thread and reads the
 * sensor's memory with process_vm_readv at every syscall it decodes; a
 * sender may loop on kill. One record per tracer or sender, call and
 * request (or signal) per SELF_DEDUPE_NS; the rest are counted
 * (STAT_SELF_DEDUPED).
 */
#define SELF_DEDUPE_NS (10ULL * 1000000000ULL)

struct self_seen_key {
	__u32 tgid;
	__u32 nr;
	__s64 request;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct self_seen_key);
	__type(value, __u64);
} self_seen SEC(".maps");

/* True (and counted) when the same tracer or sender did the same within
 * SELF_DEDUPE_NS; records the time otherwise. */
static __always_inline int self_repeat(__u32 tgid, __u32 nr, __s64 request)
{
	struct self_seen_key k = {.tgid = tgid, .nr = nr, .request = request};
	__u64 now = bpf_ktime_get_boot_ns();
	__u64 *last = bpf_map_lookup_elem(&self_seen, &k);

	if (last && now - *last < SELF_DEDUPE_NS) {
		stat_inc(STAT_SELF_DEDUPED);
		return 1;
	}
	bpf_map_update_elem(&self_seen, &k, &now, BPF_ANY);
	return 0;
}

#ifdef BANSHO_PORTABLE
/*
 * Without the kfunc bpf_task_from_pid (6.2) a pid cannot be taken to its
 * thread group: only the sensor's main thread, whose pid is its tgid, is
 * recognised (what strace -p, gdb -p and process_vm_readv on the pid a
 * user sees aim at). An access aimed at another of its threads is not
 * (the loader lists this among the features a kernel lacks).
 */
static __always_inline int pid_ids(s32 pid, __u32 *tgid, __u32 *tid)
{
	if (pid != (s32)self_tgid)
		return -1;
	*tgid = pid;
	*tid = pid;
	return 0;
}
#else
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

/* The thread group and thread of pid (initial pid namespace). */
static __always_inline int pid_ids(s32 pid, __u32 *tgid, __u32 *tid)
{
	struct task_struct *t = bpf_task_from_pid(pid);

	if (!t)
		return -1;
	*tgid = t->tgid;
	*tid = t->pid;
	bpf_task_release(t);
	return 0;
}
#endif

static __always_inline void self_event_init(struct self_event *e, __u8 op, struct task_struct *sender)
{
	__builtin_memset(e, 0, sizeof(*e));
	fill_hdr(&e->hdr, op);
	fill_proc(&e->proc, sender);
	e->hdr.flags |= EF_SELF;
}

/*
 * Signals generated for the sensor by another process. Only signals a
 * process sent (kill, tgkill, sigqueue: si_code <= 0, or no siginfo) are
 * reported; kernel-made ones (SIGCHLD, timers, faults) are not: they run
 * in whatever context the kernel is in, which names no sender.
 */
SEC("tp_btf/signal_generate")
int BPF_PROG(on_signal, int sig, struct kernel_siginfo *info, struct task_struct *task, int group, int result)
{
	struct task_struct *cur;
	struct scratch *s;
	struct self_event *e;
	int code = 0;

	if (!self_tgid || task->tgid != self_tgid)
		return 0;
	cur = current_task();
	__u32 cur_tgid = KR(cur, tgid);
	if (cur_tgid == self_tgid)
		return 0;
	/* SEND_SIG_NOINFO (0) is a user signal; SEND_SIG_PRIV (1) the kernel's. */
	if ((unsigned long)info == 1)
		return 0;
	if (info) {
		code = BPF_CORE_READ(info, si_code);
		if (code > 0)
			return 0;
	}
	if (self_repeat(cur_tgid, 0, sig)) /* nr 0: a signal, request: its number */
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	self_event_init(e, OP_SELF_SIGNAL, cur);
	e->signo = sig;
	e->si_code = code;
	e->ret = result;
	e->target_pid = task->tgid;
	e->target_tid = task->pid;
	submit(e, sizeof(*e));
	return 0;
}

/*
 * Reports an access by cur to task pid's memory or descriptors (syscall nr,
 * request, result ret) when pid is a thread of the sensor: OP_SELF_PTRACE,
 * once per tracer, call and request within SELF_DEDUPE_NS. pid is in the
 * initial pid namespace.
 */
static __always_inline void self_access(struct task_struct *cur, s32 pid, long nr, __s64 request, long ret)
{
	struct scratch *s;
	struct self_event *e;
	__u32 tgid = 0, tid = 0;

	if (pid <= 0 || pid_ids(pid, &tgid, &tid) < 0)
		return;
	if (tgid != self_tgid)
		return;
	if (self_repeat(KR(cur, tgid), nr, request))
		return;
	s = get_scratch();
	if (!s)
		return;
	e = (void *)s->buf;
	self_event_init(e, OP_SELF_PTRACE, cur);
	e->ret = ret;
	e->request = request;
	e->nr = nr;
	e->target_pid = tgid;
	e->target_tid = tid;
	submit(e, sizeof(*e));
}

/*
 * The pid a pidfd refers to (pidfd_pid()), or 0 if f is not a pidfd: on
 * pidfs (6.9 on) the inode holds it, before that the file of the anon
 * inode "[pidfd]" does.
 */
static __always_inline s32 pidfd_pid_nr(struct file *f)
{
	char name[8] = {};
	void *p;

	if (!f)
		return 0;
	switch (KR(f, f_inode, i_sb, s_magic)) {
	case PID_FS_MAGIC:
		p = KR(f, f_inode, i_private);
		break;
	case ANON_INODE_FS_MAGIC:
		if (bpf_probe_read_kernel(name, sizeof(name), KR(f, f_path.dentry, d_name.name)) < 0 ||
		    name[0] != '[' || name[1] != 'p' || name[2] != 'i' || name[3] != 'd' || name[4] != 'f' ||
		    name[5] != 'd' || name[6] != ']' || name[7] != 0)
			return 0;
		p = KR(f, private_data);
		break;
	default:
		return 0;
	}
	return p ? pid_nr_of(kcast(p, pid)) : 0;
}

/*
 * ptrace(PTRACE_ATTACH/PTRACE_SEIZE), process_vm_readv/writev and
 * pidfd_getfd aimed at any thread of the sensor, whatever the result (a refused attempt is as
 * telling as a successful one). The pid is resolved in the initial pid
 * namespace.
 */
static __always_inline int handle_ptrace(const struct sc_args *a, long nr, long ret)
{
	struct task_struct *cur = current_task();
	long request = 0;
	s32 pid;

	if (!self_tgid)
		return 0;
	if (nr == NR_ptrace) {
		request = a->a0;
		if (request != PTRACE_ATTACH && request != PTRACE_SEIZE)
			return 0;
		pid = a->a1;
	} else if (nr == NR_pidfd_getfd) {
		/* pidfd_getfd(pidfd, targetfd, flags): copies one of the
		 * target's descriptors out. The pidfs inode holds its pid. */
		pid = pidfd_pid_nr(fd_file(cur, a->a0));
		request = a->a1; /* the target's fd */
	} else {
		pid = a->a0;
	}
	self_access(cur, pid, nr, request, ret);
	return 0;
}

/*
 * An open of /proc/<pid>/mem (or /proc/<pid>/task/<tid>/mem) of a thread of
 * the sensor: with it, root reads or writes the sensor's memory without
 * ptrace or process_vm_*. Reported like them (OP_SELF_PTRACE, the open's
 * syscall, the open flags as the request). Called by handle_open for opens
 * on procfs only; a refused one is self_mem_refused's.
 */
/* The pid of the task a procfs inode is about (0 for none): the proc inode
 * around it holds it. */
static __always_inline s32 proc_inode_pid(struct inode *inode)
{
	void *pi = (void *)inode - bpf_core_field_offset(struct proc_inode, vfs_inode);
	struct pid *p = BPF_CORE_READ((struct proc_inode *)pi, pid);
	return p ? pid_nr_of(kcast(p, pid)) : 0;
}

SUBPROG int self_mem_open(long nr, long ret, __u32 flags)
{
	struct task_struct *cur = current_task();
	struct file *f = fd_file(cur, ret);
	char name[4] = {};

	if (!f || !self_tgid)
		return 0;
	if (bpf_probe_read_kernel(name, sizeof(name), KR(f, f_path.dentry, d_name.name)) < 0 ||
	    name[0] != 'm' || name[1] != 'e' || name[2] != 'm' || name[3] != 0)
		return 0;
	self_access(cur, proc_inode_pid(KR(f, f_inode)), nr, flags, ret);
	return 0;
}

/* The pid a procfs directory is about (0 if the dentry is not one). */
static __always_inline s32 proc_dir_pid(struct dentry *d)
{
	struct inode *inode = BPF_CORE_READ(d, d_inode);

	if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != PROC_SUPER_MAGIC)
		return 0;
	return proc_inode_pid(inode);
}

/*
 * The pid whose mem a name asks for: "/proc/<pid>/mem" and
 * "/proc/<tgid>/task/<tid>/mem" (the tid), or "mem" relative to a procfs
 * directory of a process (dir_pid, from the dirfd or the cwd). 0 otherwise.
 * The pid is the opener's view; self_access resolves it in the initial pid
 * namespace, where a host process's view is the same.
 */
#define MEMPATH_BUF 48
static __always_inline s32 mem_path_pid(const char *uname, s32 dir_pid)
{
	char p[MEMPATH_BUF] = {};
	s32 num = 0;
	int digits = 0, state = 0; /* 0: the first number, 1: the task's */

	if (bpf_probe_read_user_str(p, sizeof(p), uname) < 0)
		return 0;
	if (p[0] == 'm' && p[1] == 'e' && p[2] == 'm' && p[3] == 0)
		return dir_pid;
	if (p[0] != '/' || p[1] != 'p' || p[2] != 'r' || p[3] != 'o' || p[4] != 'c' || p[5] != '/')
		return 0;
	for (int i = 6; i < MEMPATH_BUF - 8; i++) {
		char c = p[i];
		if (c >= '0' && c <= '9') {
			if (++digits > 10)
				return 0;
			num = num * 10 + (c - '0');
			continue;
		}
		if (c != '/' || !digits)
			return 0;
		if (p[i + 1] == 'm' && p[i + 2] == 'e' && p[i + 3] == 'm' && p[i + 4] == 0)
			return num;
		if (state == 0 && p[i + 1] == 't' && p[i + 2] == 'a' && p[i + 3] == 's' && p[i + 4] == 'k' &&
		    p[i + 5] == '/') {
			state = 1;
			num = 0;
			digits = 0;
			i += 5;
			continue;
		}
		return 0;
	}
	return 0;
}

/*
 * An open of a sensor thread's mem that the kernel refused (EACCES, EPERM:
 * the ptrace access check): there is no file to look at, so the name the
 * caller gave is read, as written (see mem_path_pid). An attempt is as
 * telling as a success; it is reported the same way, with the error.
 */
static __always_inline int self_mem_refused(const struct sc_args *a, long nr, long ret)
{
	struct task_struct *cur = current_task();
	const char *uname = NULL;
	__u32 flags = 0, mode = 0;

	if (!self_tgid || nr == NR_creat) /* creat: mem cannot be created */
		return 0;
	int dfd = open_args(a, nr, &uname, &flags, &mode);
	struct dentry *dir = dirfd_path(cur, dfd).dentry;
	s32 pid = mem_path_pid(uname, dir ? proc_dir_pid(dir) : 0);
	self_access(cur, pid, nr, flags, ret);
	return 0;
}
