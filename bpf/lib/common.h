/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maps, load-time knobs and helpers shared by every hook. */
#ifndef BANSHO_COMMON_H
#define BANSHO_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "bansho.h"

/*
 * One source, two objects (sensor/gen.go). The default object is for
 * kernels that have the kfunc bpf_rdonly_cast, bpf_loop, task storage and
 * the BPF atomics (6.2 on): kernel memory is read with direct loads through
 * BTF-typed pointers. BANSHO_PORTABLE builds the object for the older
 * kernels servers run (5.10 on: Debian 11, RHEL 9, Ubuntu 22.04, the 6.1
 * of Debian 12 and Amazon Linux 2023): every kernel read is a
 * bpf_probe_read_kernel (BPF_CORE_READ), loops are bounded for-loops, and
 * the atomics other than add are plain updates or left out (see below).
 * The loader picks the object by probing the kernel. The difference is
 * kept to these macros:
 *   current_task()  the acting task
 *   kcast(p, T)     p as a pointer to struct T that KR may read through
 *   KR(p, a, b...)  p->a->b..., CO-RE relocated
 *   LOOP(n, fn, c)  fn(i, c) for i in [0, n) until it returns non-zero
 *                   (LOOP_BODY(fn, T) after fn, T the type of *c)
 */
#ifdef BANSHO_PORTABLE
#define current_task() ((struct task_struct *)bpf_get_current_task())
#define kcast(ptr, T) ((struct T *)(ptr))
#define KR(...) BPF_CORE_READ(__VA_ARGS__)
/*
 * A loop body is a global function here: the verifier checks it once, not
 * once per iteration (a path walk unrolled 64 times went past the 1M
 * instruction limit). Before 5.12 a global function takes scalars only,
 * so its context goes through a per-CPU slot: LOOP copies it in and back
 * out. Pointers in it become plain numbers, which KR reads through.
 */
#define LOOP_BODY(fn, T)                                                          \
	struct {                                                                  \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                          \
		__uint(max_entries, 1);                                           \
		__type(key, __u32);                                               \
		__type(value, T);                                                 \
	} fn##_slot SEC(".maps");                                                 \
	__noinline int fn##_body(__u32 i)                                         \
	{                                                                         \
		__u32 z = 0;                                                      \
		T *c = bpf_map_lookup_elem(&fn##_slot, &z);                       \
		return c ? fn(i, c) : 1;                                          \
	}
#define LOOP(n, fn, ctx)                                                          \
	do {                                                                      \
		__u32 __z = 0;                                                    \
		typeof(*(ctx)) *__c = bpf_map_lookup_elem(&fn##_slot, &__z);      \
		if (!__c)                                                         \
			break;                                                    \
		*__c = *(ctx);                                                    \
		for (__u32 __i = 0; __i < (n); __i++)                             \
			if (fn##_body(__i))                                       \
				break;                                            \
		*(ctx) = *__c;                                                    \
	} while (0)
#else
/*
 * Direct loads through BTF-typed pointers are plain (fault-handled) loads;
 * bpf_probe_read_kernel is a helper call each. Hot paths cast the one
 * pointer that must be read with a helper (an fd array slot) and load the
 * rest directly.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define current_task() bpf_get_current_task_btf()
#define kcast(ptr, T) ((struct T *)bpf_rdonly_cast((void *)(ptr), bpf_core_type_id_kernel(struct T)))
#define KR(src, ...) (___arrow(src, __VA_ARGS__))
#define LOOP_BODY(fn, T)
#define LOOP(n, fn, ctx) bpf_loop(n, fn, ctx, 0)
#endif

/*
 * Atomics: before 5.12 BPF has atomic add only, without its old value (no
 * or, and, exchange or fetch). The portable object does without the bitmap
 * filters in front of proc_states and protected_inodes (BITMAP_FILTERS 0:
 * a bit set by two CPUs at once could be lost, and a lost bit is a missed
 * lookup, so it always looks up), and takes a fold window's count with a
 * read and an atomic subtraction, which loses no concurrent increment.
 */
#ifdef BANSHO_PORTABLE
#define BITMAP_FILTERS 0
#else
#define BITMAP_FILTERS 1
#endif

#define EINPROGRESS 115
#define AF_INET 2
#define AF_INET6 10
#define AT_FDCWD -100
#define O_ACCMODE 00000003
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define TS_COMPAT 0x0002
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFDIR 0040000
#define S_IFIFO 0010000

/*
 * A syscall's six arguments in the native (x86_64) order, whichever entry
 * the call came through: the native dispatch fills them from di, si, dx,
 * r10, r8, r9; the ia32 one (compat.bpf.c) from bx, cx, dx, si, di, bp,
 * zero-extended, with 64-bit values that ia32 splits over two registers
 * joined. compat says which, for the handlers that read user structures
 * whose layout differs (iovec, msghdr).
 */
struct sc_args {
	__u64 a0, a1, a2, a3, a4, a5;
	__u32 compat;
	__u32 pad;
};

/* Load-time knobs, set by the loader on the CollectionSpec. */
const volatile __u32 self_tgid = 0;          /* the sensor itself: never traced */
const volatile __u64 wakeup_bytes = 256 * 1024; /* wake the reader past this backlog */
const volatile __u64 send_dedupe_ns = 10ULL * 1000000000ULL;
const volatile __u8 trace_accept = 1;
const volatile __u8 trace_udp_send = 1;
const volatile __u32 sample_bytes = 4096;     /* at most SAMPLE_MAX; 0: no content sampling */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Ring buffer reserve failures by opcode. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Protected directories, by the kernel's own (dev, ino) of each. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct inode_key);
	__type(value, __u32); /* index in protect.paths */
} protected_dirs SEC(".maps");

/* Protected files known by inode, wherever they are linked or moved to. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct inode_key);
	__type(value, struct prot_inode);
} protected_inodes SEC(".maps");

/*
 * A one-hash filter in front of protected_inodes: a bit per hash of each
 * (dev, ino) ever put there. Every open asks whether its file is protected;
 * nearly all are not, and an array lookup is inlined by the verifier where
 * a hash map lookup is a call that hashes and walks a bucket. A clear bit
 * means "not there"; a set one (the inode, a collision, or an entry since
 * removed) sends the open on to the real lookup. Bits are never cleared.
 * The kernel sets bits in prot_ino_kbits (atomically), the loader in
 * prot_ino_ubits, so neither overwrites the other's bits in a shared word.
 * sensor/filters.go computes the same position.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, INO_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} prot_ino_kbits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, INO_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} prot_ino_ubits SEC(".maps");

/* The word of a bitmap array map (u64 values) that holds bit, or NULL
 * past its end; the bit within it is bit & 63. */
static __always_inline __u64 *bitmap_word(void *map, __u32 bit)
{
	__u32 w = bit >> 6;

	return bpf_map_lookup_elem(map, &w);
}

/* The filter bit of k: Fibonacci hashing of the inode number mixed with
 * the device, top INO_FILTER_SHIFT bits. */
static __always_inline __u32 ino_filter_pos(const struct inode_key *k)
{
	__u64 h = (k->ino ^ (k->dev << 32) ^ (k->dev >> 32)) * 0x9E3779B97F4A7C15ULL;
	return h >> (64 - INO_FILTER_SHIFT);
}

/* False when k was never put in protected_inodes. */
static __always_inline int prot_inode_maybe(const struct inode_key *k)
{
	if (!BITMAP_FILTERS)
		return 1;
	__u32 pos = ino_filter_pos(k);
	__u64 *kw = bitmap_word(&prot_ino_kbits, pos);
	__u64 *uw = bitmap_word(&prot_ino_ubits, pos);

	if (!kw || !uw)
		return 1;
	return ((*kw | *uw) >> (pos & 63)) & 1;
}

/* The protected_inodes value of inode (key k), or NULL; a stale entry of a
 * deleted file whose inode number was reused is removed. */
static __always_inline __u32 *prot_inode_lookup(struct inode *inode, struct inode_key *k)
{
	if (!prot_inode_maybe(k))
		return NULL;
	struct prot_inode *hit = bpf_map_lookup_elem(&protected_inodes, k);
	if (!hit)
		return NULL;
	if ((hit->v & PI_GEN) && hit->gen != BPF_CORE_READ(inode, i_generation)) {
		bpf_map_delete_elem(&protected_inodes, k);
		return NULL;
	}
	return &hit->v;
}

/* Adds inode (key k) to protected_inodes with kind v and its generation. */
static __always_inline void prot_inode_add(struct inode *inode, struct inode_key *k, __u32 v)
{
	struct prot_inode val = {.v = v | PI_GEN, .gen = BPF_CORE_READ(inode, i_generation)};

	if (BITMAP_FILTERS) {
		__u32 pos = ino_filter_pos(k);
		__u64 *kw = bitmap_word(&prot_ino_kbits, pos);

		/* The bit first: a lookup that sees the entry must pass the filter. */
		if (kw)
			__sync_fetch_and_or(kw, 1ULL << (pos & 63));
	}
	bpf_map_update_elem(&protected_inodes, k, &val, BPF_ANY);
}

/*
 * Verdicts for directories, so an open outside the protected directories
 * costs one lookup instead of a walk to the root. A directory's verdict
 * depends on the mount it is seen through (a bind mount into a protected
 * directory), so the key has the mount's unique id. Entries are valid for
 * one generation: the generation moves on every rename, rmdir and mount
 * change and whenever userspace changes the protected set.
 */
struct dir_key {
	__u64 dev;
	__u64 ino;
	__u64 mnt_id;
};

struct dir_verdict {
	__u64 gen;
	__u32 protected_dir;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct dir_key);
	__type(value, struct dir_verdict);
} dir_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} generation SEC(".maps");

/*
 * The last directory verdict each CPU used, in front of dir_cache: a
 * process working in one directory (a log writer, the open loop) asks
 * about the same one again and again, and comparing four words here is
 * cheaper than hashing the key for dir_cache. Valid under the same
 * generation rule as dir_cache.
 */
struct last_dir {
	struct dir_key key;
	__u64 gen;
	__u32 protected_dir;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_dir);
} last_dir_map SEC(".maps");

static __always_inline struct last_dir *last_dir_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&last_dir_map, &zero);
}

static __always_inline void last_dir_set(struct last_dir *last, struct dir_key *k,
					 struct dir_verdict *v)
{
	if (!last)
		return;
	last->key = *k;
	last->gen = v->gen;
	last->protected_dir = v->protected_dir;
}


/* Open protected files and sockets, by (tgid, fd). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fd_key);
	__type(value, struct fd_info);
} fd_table SEC(".maps");

/* Processes that hold fd_table entries or have read protected data. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct proc_state);
} proc_states SEC(".maps");

/* An empty proc_states value to copy from, never written: on the stack its
 * 136 bytes would crowd the handler that makes the entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_state);
} proc_state_zero SEC(".maps");

/*
 * A bit per tgid, set while the process may have a proc_states entry. Most
 * system calls come from processes that have none, and the write, close
 * and open paths ask here first: an inlined array lookup instead of a hash
 * map call. A set bit without an entry only costs the lookup it saves; a
 * tgid past the map (pid_max raised after start) is looked up. The loader
 * sizes the map from /proc/sys/kernel/pid_max.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PID_WORDS_DEFAULT); /* resized by the loader */
	__type(key, __u32);
	__type(value, __u64);
} proc_present SEC(".maps");

/* Namespace syscalls in flight that touched a protected inode (by tid). */
struct inflight {
	__u64 dev;
	__u64 ino;
	__u32 i_mode;
	__u32 i_uid;
	__u32 i_gid;
	__u32 hits;
	__u32 kind; /* PROT_* of every inode hit */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* Pipes a tainted process wrote to: their readers become tainted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct inode_key);
	__type(value, __u8);
} tainted_pipes SEC(".maps");

/* [0]: how many pipes were ever tainted; reads are only checked once > 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pipe_taints SEC(".maps");

/* Last report of an unconnected datagram destination, per process. */
struct send_key {
	__u32 tgid;
	__u16 dport;
	__u16 family;
	__u8 daddr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct send_key);
	__type(value, __u64);
} send_seen SEC(".maps");

/* The sensor asks the kernel for its own view of a path's identity. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct self_probe);
} self_probe SEC(".maps");

/* Scratch space for building a record: too large for the BPF stack. */
/*
 * Records are assembled at offsets masked with OFF_MASK, and each field
 * copied is at most PATH_BUF, so the buffer has PATH_BUF of headroom past
 * the largest offset: the verifier can then prove every copy in bounds.
 * The largest record (a rename: two resolved anchors and two user names of
 * at most USER_NAME_BUF) stays below OFF_MASK, so offsets never wrap.
 */
#define OFF_MASK (4 * PATH_BUF - 1)
#define SCRATCH_SIZE (5 * PATH_BUF + 512)
struct scratch {
	__u8 buf[SCRATCH_SIZE];
	char path[2 * PATH_BUF]; /* paths are built backwards in here */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch_map, &zero);
}

/*
 * Submit a record built in scratch space. The reader is woken only when
 * enough has piled up; it also polls on a short deadline, so nothing waits
 * long. A full ring drops the record and counts it by opcode.
 *
 * The wakeup is sent only by the record that takes the backlog past
 * wakeup_bytes, not by every record while it is past: a wakeup is an
 * irq_work, a self-IPI (in a VM an exit to the hypervisor, several us),
 * and a reader that is awake reads until the ring is empty anyway (poll
 * reports a non-empty ring at once, so no wakeup can be missed). Waking on
 * every record made the producer slowest exactly when the reader lagged:
 * half of a sampled-write loop's time went to those IPIs.
 */
static __always_inline void submit(void *rec, __u32 size)
{
	struct event_hdr *hdr = rec;
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u64 avail;

	hdr->size = size;
	if (size > SCRATCH_SIZE)
		return;
	avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (avail < wakeup_bytes && avail + size >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, rec, size, flags) < 0) {
		__u32 op = hdr->op & 31;
		__u64 *v = bpf_map_lookup_elem(&drops, &op);
		if (v)
			*v += 1;
		stat_inc(STAT_RB_RESERVE_FAIL);
	}
}

static __always_inline __u32 encode_tty(struct tty_struct *tty)
{
	if (!tty || !KR(tty, driver))
		return 0;
	__u32 major = KR(tty, driver, major);
	__u32 minor = KR(tty, driver, minor_start) + KR(tty, index);
	return (major << 20) | (minor & 0xfffff);
}

static __always_inline __u32 pid_nr_of(struct pid *p)
{
	if (!p)
		return 0;
	return KR(p, numbers[0].nr);
}

/*
 * SUBPROG marks a function kept out of line, in a stack frame of its own:
 * a handler's frame plus what it inlines must stay under 512 bytes in one
 * program. `used` keeps clang from dropping the return value (it would
 * leave R0 unset, which the verifier refuses).
 */
#define SUBPROG static __noinline __attribute__((used))

/* The acting task; t may come from a probe read (it is cast first). Out
 * of line: every record fills it, with some twenty kernel reads. */
SUBPROG int fill_proc(struct proc_ctx *p, struct task_struct *t)
{
	struct task_struct *task = kcast(t, task_struct);
	struct task_struct *parent = KR(task, real_parent);
	const struct cred *cred = KR(task, cred);
	struct signal_struct *sig = KR(task, signal);

	p->pid = KR(task, tgid);
	p->tid = KR(task, pid);
	p->ppid = KR(parent, tgid);
	p->uid = KR(cred, uid.val);
	p->gid = KR(cred, gid.val);
	p->euid = KR(cred, euid.val);
	p->egid = KR(cred, egid.val);
	p->auid = KR(task, loginuid.val);
	p->sessionid = KR(task, sessionid);
	p->sid = pid_nr_of(KR(sig, pids[PIDTYPE_SID]));
	p->pgid = pid_nr_of(KR(sig, pids[PIDTYPE_PGID]));
	p->tty = encode_tty(KR(sig, tty));
	p->cgroup_id = bpf_get_current_cgroup_id();
	p->start_time = KR(task, group_leader, start_boottime);
	p->pstart_time = KR(parent, group_leader, start_boottime);
	p->mnt_ns = KR(task, nsproxy, mnt_ns, ns.inum);
	p->pid_ns = KR(task, nsproxy, pid_ns_for_children, ns.inum);
#ifdef BANSHO_PORTABLE
	BPF_CORE_READ_INTO(&p->comm, task, comm);
#else
	__builtin_memcpy(p->comm, task->comm, TASK_COMM_LEN);
#endif
	return 0;
}

/*
 * EFX_COMPAT marks a record made while the task ran a 32-bit (ia32) syscall;
 * for exec, a 32-bit program (the kernel sets TS_COMPAT for its first return
 * to user mode). Read here, on the record path only, not on every syscall.
 */
static __always_inline void fill_hdr(struct event_hdr *h, __u8 op)
{
	struct task_struct *t = current_task();

	h->op = op;
	h->flags = 0;
	h->size = 0;
	h->cpu = bpf_get_smp_processor_id();
	h->xflags = (KR(t, thread_info.status) & TS_COMPAT) ? EFX_COMPAT : 0;
	h->pad = 0;
	h->ktime = bpf_ktime_get_boot_ns();
}

/* The struct file behind fd in the current task's table, or NULL. */
static __always_inline struct file *fd_file(struct task_struct *task, int fd)
{
	struct task_struct *t = current_task();
	struct fdtable *fdt = KR(t, files, fdt);
	struct file *f = NULL;

	if (!fdt || fd < 0 || (__u32)fd >= KR(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &KR(fdt, fd)[fd]);
	if (!f)
		return NULL;
	return kcast(f, file);
}

static __always_inline int inode_key_of(struct inode *ip, struct inode_key *k)
{
	struct inode *inode = kcast(ip, inode);

	if (!inode)
		return -1;
	k->dev = KR(inode, i_sb, s_dev);
	k->ino = KR(inode, i_ino);
	return 0;
}

static __always_inline struct mount *real_mount(struct vfsmount *mnt)
{
	if (!mnt)
		return NULL;
	return kcast(container_of(mnt, struct mount, mnt), mount);
}

struct walk_ctx {
	struct dentry *d;
	struct mount *mnt; /* NULL: stay inside d's file system */
	__u32 pos;         /* build_path: first byte of the path so far */
	__u8 found;        /* dentry_protected: PROT_* of the guarded directory hit */
	__u8 trunc;
	__u8 done;
};

/* Step one level up: to the parent, or across a mount to its mount point. */
static __always_inline int walk_up(struct walk_ctx *c, struct dentry *parent)
{
	struct dentry *d = c->d;
	struct mount *mnt = c->mnt ? kcast(c->mnt, mount) : NULL;

	if (mnt && d == KR(mnt, mnt.mnt_root)) {
		struct mount *mp = KR(mnt, mnt_parent);
		if (mp == mnt || !mp)
			return 1;
		c->d = KR(mnt, mnt_mountpoint);
		c->mnt = mp;
		return 0;
	}
	if (parent == d || !parent)
		return 1;
	c->d = parent;
	return 0;
}

/* PROT_* of a protected_dirs or protected_inodes value (see PD_*). */
static __always_inline __u8 guard_kind(__u32 v)
{
	if (!(v & PD_INTEGRITY))
		return PROT_DATA;
	return PROT_INTEGRITY | ((v & PD_SELF) ? PROT_SELF : 0);
}

/* The record flags (EF_*) of a PROT_* verdict. */
static __always_inline __u8 guard_flags(__u32 prot)
{
	__u8 f = 0;

	if (prot & PROT_DATA)
		f |= EF_PROTECTED;
	if (prot & PROT_INTEGRITY)
		f |= EF_INTEGRITY;
	if (prot & PROT_SELF)
		f |= EF_SELF;
	return f;
}

static long protected_step(__u64 i, struct walk_ctx *c)
{
	struct inode_key k = {};
	struct dentry *d = kcast(c->d, dentry);

	__u32 *v = NULL;
	if (inode_key_of(KR(d, d_inode), &k) == 0 &&
	    (v = bpf_map_lookup_elem(&protected_dirs, &k))) {
		c->found = guard_kind(*v);
		return 1;
	}
	if (walk_up(c, KR(d, d_parent))) {
		c->done = 1;
		return 1;
	}
	return 0;
}

LOOP_BODY(protected_step, struct walk_ctx)

static __always_inline __u64 current_generation(void)
{
	__u32 zero = 0;
	__u64 *g = bpf_map_lookup_elem(&generation, &zero);
	return g ? *g : 0;
}

/* Invalidate every cached directory verdict. */
static __always_inline void bump_generation(void)
{
	__u32 zero = 0;
	__u64 *g = bpf_map_lookup_elem(&generation, &zero);
	if (g)
		__sync_fetch_and_add(g, 1);
}

/*
 * Is the object at dentry (seen through mnt, which may be NULL) protected
 * data (PROT_DATA), or under an integrity path (PROT_INTEGRITY, with
 * PROT_SELF for the sensor's own files)? 0 when neither. It is when it is a
 * known protected inode, or when it or any ancestor directory is a
 * protected directory (the nearest one decides the kind). The walk follows d_parent, so relative
 * paths, dirfds, "..", symlinks and bind mounts all end at the same
 * identities; with a mount it also climbs to the mount point, so a file
 * system mounted below a protected directory is covered too. The verdict
 * for the parent directory is cached (see dir_cache).
 */
SUBPROG int dentry_protected_hit(struct dentry *dp, struct vfsmount *vfsmnt, int *known)
{
	struct dentry *dentry = kcast(dp, dentry);
	struct inode_key k = {};
	struct mount *mnt = vfsmnt ? real_mount(vfsmnt) : NULL;
	struct walk_ctx c = {.d = dentry, .mnt = mnt};
	struct dentry *parent;
	struct dir_key dk = {};
	struct dir_verdict *cached, v = {};

	struct inode *inode = KR(dentry, d_inode);
	__u32 *hit;

	if (inode_key_of(inode, &k) == 0) {
		if ((hit = prot_inode_lookup(inode, &k))) {
			*known = 1;
			return guard_kind(*hit);
		}
		if ((KR(inode, i_mode) & S_IFMT) == S_IFDIR && (hit = bpf_map_lookup_elem(&protected_dirs, &k)))
			return guard_kind(*hit);
	}
	parent = KR(dentry, d_parent);
	if (!parent || parent == dentry || (mnt && dentry == KR(mnt, mnt.mnt_root))) {
		/* A root: nothing above it in this mount; walk (rare). */
		LOOP(MAX_DEPTH, protected_step, &c);
		return c.found;
	}
	if (inode_key_of(KR(parent, d_inode), &k) < 0)
		return 0;
	dk.dev = k.dev;
	dk.ino = k.ino;
	if (mnt)
		dk.mnt_id = bpf_core_field_exists(mnt->mnt_id_unique) ? KR(mnt, mnt_id_unique)
								       : (__u64)KR(mnt, mnt_id);
	v.gen = current_generation();
	struct last_dir *last = last_dir_get();
	if (last && last->gen == v.gen && last->key.dev == dk.dev && last->key.ino == dk.ino &&
	    last->key.mnt_id == dk.mnt_id)
		return last->protected_dir;
	cached = bpf_map_lookup_elem(&dir_cache, &dk);
	if (cached && cached->gen == v.gen) {
		last_dir_set(last, &dk, cached);
		return cached->protected_dir;
	}
	c.d = parent;
	LOOP(MAX_DEPTH, protected_step, &c);
	v.protected_dir = c.found;
	bpf_map_update_elem(&dir_cache, &dk, &v, BPF_ANY);
	last_dir_set(last, &dk, &v);
	return c.found;
}

static __always_inline int dentry_protected(struct dentry *dp, struct vfsmount *vfsmnt)
{
	int known = 0;

	return dentry_protected_hit(dp, vfsmnt, &known);
}

static long path_step(__u64 i, struct walk_ctx *c)
{
	struct scratch *s = get_scratch();
	struct dentry *d = kcast(c->d, dentry);
	struct mount *mnt = c->mnt ? kcast(c->mnt, mount) : NULL;
	struct dentry *parent = KR(d, d_parent);
	int crossing = mnt && d == KR(mnt, mnt.mnt_root);
	__u32 len, pos;

	if (!s)
		return 1;
	if (!crossing && parent != d && parent) {
		len = KR(d, d_name.len) & (NAME_BUF - 1);
		if (len + 1 > c->pos) {
			c->trunc = 1;
			return 1;
		}
		pos = c->pos - len;
		bpf_probe_read_kernel(&s->path[pos & (PATH_BUF - 1)], len, KR(d, d_name.name));
		pos -= 1;
		s->path[pos & (PATH_BUF - 1)] = '/';
		c->pos = pos;
	}
	if (walk_up(c, parent)) {
		c->done = 1;
		return 1;
	}
	return 0;
}

LOOP_BODY(path_step, struct walk_ctx)

/*
 * Build the absolute path of (dentry, mnt) at the end of s->path, like
 * d_path but bounded. Returns the offset of the first byte; the path ends at
 * PATH_BUF. *trunc is set when the path was deeper or longer than allowed.
 */
static __always_inline __u32 build_path(struct scratch *s, struct dentry *dentry,
					struct vfsmount *vfsmnt, int *trunc)
{
	struct walk_ctx c = {.d = dentry, .mnt = real_mount(vfsmnt), .pos = PATH_BUF};

	s->path[PATH_BUF & (2 * PATH_BUF - 1)] = 0;
	LOOP(MAX_DEPTH, path_step, &c);
	if (c.trunc || !c.done)
		*trunc = 1;
	if (c.pos >= PATH_BUF) {
		c.pos = PATH_BUF - 1;
		s->path[c.pos & (PATH_BUF - 1)] = '/';
	}
	return c.pos;
}

/*
 * Copy the path built at s->path[pos..PATH_BUF) to dst (capacity PATH_BUF).
 * Returns bytes copied.
 */
static __always_inline __u32 copy_built_path(struct scratch *s, __u32 pos, char *dst)
{
	__u32 len = (PATH_BUF - pos) & (PATH_BUF - 1);
	if (pos >= PATH_BUF)
		return 0;
	if (len == 0)
		len = PATH_BUF - 1;
	bpf_probe_read_kernel(dst, len, &s->path[pos & (PATH_BUF - 1)]);
	return len;
}

/* Marks tgid as having (or about to have) a proc_states entry. Set before
 * the entry is made, so a reader that would find the entry sees the bit. */
static __always_inline void proc_present_set(__u32 tgid)
{
	if (!BITMAP_FILTERS)
		return;
	__u64 *word = bitmap_word(&proc_present, tgid);

	if (word)
		__sync_fetch_and_or(word, 1ULL << (tgid & 63));
}

/* After the entry of an exited process is deleted. Its pid cannot be
 * reused yet (the task is not reaped), so no new entry races the clear. */
static __always_inline void proc_present_clear(__u32 tgid)
{
	if (!BITMAP_FILTERS)
		return;
	__u64 *word = bitmap_word(&proc_present, tgid);

	if (word)
		__sync_fetch_and_and(word, ~(1ULL << (tgid & 63)));
}

static __always_inline struct proc_state *proc_state_get(__u32 tgid)
{
	if (BITMAP_FILTERS) {
		__u64 *word = bitmap_word(&proc_present, tgid);

		if (word && !((*word >> (tgid & 63)) & 1))
			return NULL;
	}
	return bpf_map_lookup_elem(&proc_states, &tgid);
}

static __always_inline struct proc_state *proc_state_ensure(__u32 tgid)
{
	struct proc_state *ps = proc_state_get(tgid);
	if (ps)
		return ps;
	__u32 z = 0;
	struct proc_state *zero = bpf_map_lookup_elem(&proc_state_zero, &z);
	if (!zero)
		return NULL;
	proc_present_set(tgid);
	if (bpf_map_update_elem(&proc_states, &tgid, zero, BPF_NOEXIST) < 0 &&
	    !bpf_map_lookup_elem(&proc_states, &tgid)) {
		stat_inc(STAT_PROC_STATE_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&proc_states, &tgid);
}

/* The word of proc_state.fds holding fd's bit, or NULL past FD_BITS. */
static __always_inline __u64 *fd_word(struct proc_state *ps, int fd)
{
	__u32 w = (__u32)fd >> 6;

	if (!ps || fd < 0 || fd >= FD_BITS)
		return NULL;
	barrier_var(w); /* keep the mask: the verifier needs the bound */
	w &= FD_BITS / 64 - 1;
	return &ps->fds[w];
}

static __always_inline void fd_track(__u32 tgid, int fd, struct fd_info *info)
{
	struct fd_key k = {.tgid = tgid, .fd = fd};

	if (bpf_map_update_elem(&fd_table, &k, info, BPF_ANY) < 0) {
		stat_inc(STAT_FDTABLE_FULL);
		return;
	}
	__u64 *w = fd_word(proc_state_ensure(tgid), fd);
	if (w)
		*w |= 1ULL << (fd & 63);
}

/*
 * Under pressure, samples shrink before records are lost: once the ring is
 * more than half full (the reader lags, e.g. behind a tainted process
 * writing gigabytes), a sample is cut to SAMPLE_SHED bytes, and past three
 * quarters it is left out, so the record of who wrote how much where still
 * fits. Counted (STAT_SAMPLE_SHED) and flagged EF_TRUNCATED; the event's
 * content findings then say the sample was truncated.
 */
#define SAMPLE_SHED 256

static __always_inline __u32 sample_limit(__u8 *flags)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);

	if (avail <= size / 2)
		return sample_bytes;
	stat_inc(STAT_SAMPLE_SHED);
	*flags |= EF_TRUNCATED;
	if (avail > size / 4 * 3)
		return 0;
	return sample_bytes < SAMPLE_SHED ? sample_bytes : SAMPLE_SHED;
}

/*
 * Copy up to sample_bytes of user data at src (len bytes available) to dst.
 * Returns the bytes copied; counts a write larger than the sample.
 */
static __always_inline __u32 put_sample(void *dst, const void *src, long len, __u8 *flags)
{
	__u32 n, limit;

	if (!src || len <= 0 || sample_bytes == 0)
		return 0;
	limit = sample_limit(flags);
	if (limit == 0)
		return 0;
	n = len < limit ? len : limit;
	if (len > limit)
		stat_inc(STAT_SAMPLE_TRUNCATED);
	barrier_var(n);
	if (n > SAMPLE_MAX)
		return 0;
	if (bpf_probe_read_user(dst, n, src) < 0) {
		*flags |= EF_READ_FAILED;
		stat_inc(STAT_USER_READ_FAIL);
		return 0;
	}
	return n;
}

/* The first iovec's base and length, for the vector calls; compat: the
 * ia32 layout (struct compat_iovec: two 32-bit words). */
static __always_inline const void *first_iov(const void *iov, long *len, __u32 compat)
{
	struct iovec v = {};

	if (!iov)
		return NULL;
	if (compat) {
		__u32 cv[2] = {};
		if (bpf_probe_read_user(cv, sizeof(cv), iov) < 0)
			return NULL;
		v.iov_base = (void *)(__u64)cv[0];
		v.iov_len = cv[1];
	} else if (bpf_probe_read_user(&v, sizeof(v), iov) < 0) {
		return NULL;
	}
	if ((long)v.iov_len < *len)
		*len = v.iov_len;
	return v.iov_base;
}

static __always_inline void fd_untrack(__u32 tgid, int fd)
{
	struct fd_key k = {.tgid = tgid, .fd = fd};

	if (bpf_map_delete_elem(&fd_table, &k) < 0)
		return;
	__u64 *w = fd_word(proc_state_get(tgid), fd);
	if (w)
		*w &= ~(1ULL << (fd & 63));
}

#endif
