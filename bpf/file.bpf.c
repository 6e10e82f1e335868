//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * File activity on protected data, decided by identity in the kernel.
 *
 * Opens and fd-based calls look at the struct file the syscall produced or
 * used. Path-based namespace and attribute changes (rename, unlink, link,
 * chmod, ...) cannot be resolved from their string arguments here, so the
 * inode ctime tracepoints tell us which inodes such a syscall really
 * changed; a hit on protected data is parked per thread in `inflight` and
 * turned into one record at sys_exit, with the names as the caller gave them.
 */

/* x86_64 syscall numbers used below. */
#define NR_read 0
#define NR_write 1
#define NR_open 2
#define NR_close 3
#define NR_pread64 17
#define NR_pwrite64 18
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_dup 32
#define NR_dup2 33
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_sendmsg 46
#define NR_fcntl 72
#define NR_truncate 76
#define NR_ftruncate 77
#define NR_rename 82
#define NR_mkdir 83
#define NR_rmdir 84
#define NR_creat 85
#define NR_link 86
#define NR_unlink 87
#define NR_symlink 88
#define NR_chmod 90
#define NR_fchmod 91
#define NR_chown 92
#define NR_fchown 93
#define NR_lchown 94
#define NR_openat 257
#define NR_mkdirat 258
#define NR_fchownat 260
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_linkat 265
#define NR_symlinkat 266
#define NR_mount 165
#define NR_umount2 166
#define NR_pivot_root 155
#define NR_open_tree 428
#define NR_move_mount 429
#define NR_fsmount 432
#define NR_mount_setattr 442
#define NR_fchmodat 268
#define NR_accept4 288
#define NR_dup3 292
#define NR_splice 275
#define NR_preadv 295
#define NR_pwritev 296
#define NR_sendmmsg 307
#define NR_renameat2 316
#define NR_copy_file_range 326
#define NR_preadv2 327
#define NR_pwritev2 328
#define NR_openat2 437
#define NR_fchmodat2 452

#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030
#define AT_REMOVEDIR 0x200
#define O_CREAT 0100
#define O_TRUNC 01000

/* The native number of an ia32 syscall (compat.bpf.c). */
static __always_inline long compat_to_native(long nr32);

static __always_inline int is_ns_syscall(long nr)
{
	switch (nr) {
	case NR_rename: case NR_renameat: case NR_renameat2:
	case NR_unlink: case NR_unlinkat: case NR_rmdir:
	case NR_link: case NR_linkat: case NR_symlink: case NR_symlinkat:
	case NR_mkdir: case NR_mkdirat:
	case NR_chmod: case NR_fchmodat: case NR_fchmodat2:
	case NR_chown: case NR_lchown: case NR_fchownat:
	case NR_truncate:
		return 1;
	}
	return 0;
}

SUBPROG int fill_inode_attrs(struct file_event *e, struct inode *ip)
{
	struct inode *inode = kcast(ip, inode);
	struct inode_key k = {};
	if (inode_key_of(inode, &k) < 0)
		return 0;
	e->dev = k.dev;
	e->ino = k.ino;
	e->i_mode = KR(inode, i_mode);
	e->i_uid = KR(inode, i_uid.val);
	e->i_gid = KR(inode, i_gid.val);
	return 0;
}

SUBPROG int file_event_init(struct file_event *e, struct task_struct *task,
					    __u8 op, long nr, long ret)
{
	fill_hdr(&e->hdr, op);
	fill_proc(&e->proc, task);
	e->ret = ret;
	e->nr = nr;
	e->fd = -1;
	e->flags = 0;
	e->mode = 0;
	e->uid = -1;
	e->gid = -1;
	e->dev = 0;
	e->ino = 0;
	e->count = 0;
	e->pos = -1;
	e->i_mode = 0;
	e->i_uid = 0;
	e->i_gid = 0;
	e->kind = 0;
	e->path_len = 0;
	e->name_len = 0;
	e->path2_len = 0;
	e->name2_len = 0;
	e->sample_len = 0;
	return 0;
}

/* Append a user string at off; returns its length (without NUL). */
SUBPROG __u32 put_user_str(struct file_event *e, __u8 *buf, __u32 off, const char *src)
{
	long n;

	if (!src)
		return 0;
	n = bpf_probe_read_user_str(&buf[off & OFF_MASK], USER_NAME_BUF, src);
	if (n <= 0) {
		e->hdr.flags |= EF_READ_FAILED;
		stat_inc(STAT_USER_READ_FAIL);
		return 0;
	}
	if (n == USER_NAME_BUF)
		e->hdr.flags |= EF_TRUNCATED;
	return (n - 1) & (USER_NAME_BUF - 1);
}

/* Append the resolved path of (dentry, mnt) at off; returns its length. */
SUBPROG __u32 put_path(struct scratch *s, struct file_event *e, __u32 off,
				      struct dentry *d, struct vfsmount *mnt)
{
	int trunc = 0;
	__u32 pos, len;

	if (!d || !mnt)
		return 0;
	pos = build_path(s, d, mnt, &trunc);
	len = copy_built_path(s, pos, (char *)&s->buf[off & OFF_MASK]);
	if (trunc) {
		e->hdr.flags |= EF_TRUNCATED;
		stat_inc(STAT_PATH_TRUNCATED);
	}
	return len;
}

/*
 * The directory a relative name given with dfd starts from: the dirfd's
 * file, or the cwd for AT_FDCWD (a NULL dentry when dfd is not open).
 */
static __always_inline struct path dirfd_path(struct task_struct *task, int dfd)
{
	struct path p = {};

	if (dfd == AT_FDCWD) {
		struct fs_struct *fs = KR(task, fs);
		p.dentry = BPF_CORE_READ(fs, pwd.dentry);
		p.mnt = BPF_CORE_READ(fs, pwd.mnt);
		return p;
	}
	struct file *f = fd_file(task, dfd);
	if (f) {
		p.dentry = BPF_CORE_READ(f, f_path.dentry);
		p.mnt = BPF_CORE_READ(f, f_path.mnt);
	}
	return p;
}

/*
 * The directory a user-supplied name is relative to (dirfd_path).
 * Absolute names need no anchor.
 */
static __always_inline __u32 put_anchor(struct scratch *s, struct file_event *e, __u32 off,
					struct task_struct *task, int dfd, const char *name)
{
	char c = 0;

	if (!name || bpf_probe_read_user(&c, 1, name) < 0 || c == '/')
		return 0;
	struct path p = dirfd_path(task, dfd);
	if (!p.dentry)
		return 0;
	return put_path(s, e, off, p.dentry, p.mnt);
}

/*
 * The arguments of open, creat, openat and openat2 as the caller gave them:
 * the name, the flags and mode, and the dirfd the name is relative to
 * (AT_FDCWD for open and creat).
 */
static __always_inline int open_args(const struct sc_args *a, long nr, const char **uname, __u32 *flags,
				     __u32 *mode)
{
	switch (nr) {
	case NR_open:
		*uname = (const char *)a->a0;
		*flags = a->a1;
		*mode = a->a2;
		return AT_FDCWD;
	case NR_creat:
		*uname = (const char *)a->a0;
		*flags = O_CREAT | O_WRONLY | O_TRUNC;
		*mode = a->a1;
		return AT_FDCWD;
	case NR_openat:
		*uname = (const char *)a->a1;
		*flags = a->a2;
		*mode = a->a3;
		return a->a0;
	case NR_openat2: {
		struct open_how how = {};
		*uname = (const char *)a->a1;
		if (bpf_probe_read_user(&how, sizeof(how), (void *)a->a2) == 0) {
			*flags = how.flags;
			*mode = how.mode;
		}
		return a->a0;
	}
	}
	return AT_FDCWD;
}

/* The sensor asked for the kernel's identity of a path it just opened. */
static __always_inline void self_probe_open(struct task_struct *task, long ret)
{
	__u32 zero = 0;
	struct self_probe *sp = bpf_map_lookup_elem(&self_probe, &zero);
	struct inode_key k = {};

	if (!sp || !sp->armed || ret < 0)
		return;
	struct file *f = fd_file(task, ret);
	if (!f || inode_key_of(BPF_CORE_READ(f, f_path.dentry, d_inode), &k) < 0)
		return;
	sp->dev = k.dev;
	sp->ino = k.ino;
	sp->armed = 0;
}

/*
 * An open of a file under an integrity path: reported only when it can
 * modify the file (write access, O_TRUNC, O_CREAT), never for reads; the
 * opener is not tainted and the fd is not followed.
 */
static __always_inline int integrity_open(struct task_struct *task, long nr, long ret, __u32 flags,
					  __u32 mode, int prot, struct dentry *d, struct vfsmount *mnt,
					  const char *uname)
{
	struct scratch *s;
	struct file_event *e;
	__u32 off;

	__u32 tgid = KR(task, tgid);

	if (proc_state_get(tgid))
		fd_untrack(tgid, ret); /* fd number reused */
	if (!(flags & O_ACCMODE) && !(flags & (O_TRUNC | O_CREAT)))
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	file_event_init(e, task, OP_FILE_OPEN, nr, ret);
	e->hdr.flags |= guard_flags(prot);
	e->fd = ret;
	e->flags = flags;
	e->mode = mode;
	fill_inode_attrs(e, KR(d, d_inode));
	off = sizeof(*e);
	e->path_len = put_path(s, e, off, d, mnt);
	off += e->path_len;
	e->name_len = put_user_str(e, s->buf, off, uname);
	off += e->name_len;
	submit(e, off);
	return 0;
}

/*
 * Track fd unless the table already says exactly this (a file reopened on
 * the fd number it had before: see handle_close). A lookup is much cheaper
 * than rewriting an LRU entry.
 */
static __always_inline void fd_track_changed(__u32 tgid, int fd, struct fd_info *info,
					     struct proc_state *ps)
{
	struct fd_key key = {.tgid = tgid, .fd = fd};
	struct fd_info *cur = bpf_map_lookup_elem(&fd_table, &key);

	if (cur && cur->kind == info->kind && cur->protected_data == info->protected_data &&
	    cur->dev == info->dev && cur->ino == info->ino) {
		__u64 *w = fd_word(ps, fd);
		if (w && (*w & (1ULL << (fd & 63))))
			return;
	}
	fd_track(tgid, fd, info);
}

SUBPROG int self_mem_open(long nr, long ret, __u32 flags); /* self.bpf.c */

static __always_inline int handle_open(const struct sc_args *a, long nr, long ret)
{
	struct task_struct *task = current_task();
	__u32 tgid = KR(task, tgid);
	const char *uname = NULL;
	__u32 flags = 0, mode = 0;
	struct proc_state *ps;
	struct scratch *s;
	struct file_event *e;
	struct file *f;
	struct dentry *d;
	struct vfsmount *mnt;
	struct inode *inode;
	int prot, tainted, known = 0;
	__u32 off;

	if (ret < 0) /* the dispatcher sends refused ones to self_mem_refused */
		return 0;
	f = fd_file(task, ret);
	if (!f)
		return 0;
	d = KR(f, f_path.dentry);
	mnt = KR(f, f_path.mnt);
	prot = dentry_protected_hit(d, mnt, &known);

	open_args(a, nr, &uname, &flags, &mode);

	inode = KR(d, d_inode);
	__u32 imode = KR(inode, i_mode);
	int writes = (flags & O_ACCMODE) != 0;

	if (self_tgid && KR(inode, i_sb, s_magic) == 0x9fa0 /* PROC_SUPER_MAGIC */)
		self_mem_open(nr, ret, flags);

	/* Most opens on a host: read-only, outside protected data. Nothing to
	 * track; an entry left for a closed fd of the same number is checked
	 * against the inode on any use (see handle_close). */
	if (!prot && !writes)
		return 0;
	ps = proc_state_get(tgid);
	tainted = ps && (ps->flags & PS_TAINTED);

	__u8 guard = 0;
	if (prot & PROT_INTEGRITY) {
		/* A tainted process writing there is still followed as below. */
		if (!(tainted && writes && (imode & S_IFMT) == S_IFREG))
			return integrity_open(task, nr, ret, flags, mode, prot, d, mnt, uname);
		guard = guard_flags(prot);
		prot = 0;
	}

	if (!prot) {
		/* A tainted process opening a regular file to write: data may be
		 * copied out. Track it so its writes are attributed. */
		if (!(tainted && writes && (imode & S_IFMT) == S_IFREG)) {
			if (ps)
				fd_untrack(tgid, ret); /* fd number reused */
			return 0;
		}
	}

	struct fd_info info = {.kind = FD_KIND_FILE, .protected_data = prot};
	struct inode_key k = {};
	int newly_tainted = 0;
	inode_key_of(inode, &k);
	info.dev = k.dev;
	info.ino = k.ino;
	fd_track_changed(tgid, ret, &info, ps);
	if (prot) {
		__u32 one = 1;
		/* Known already on every open but the first (dentry_protected
		 * found it, or dropped a stale entry): rewriting the LRU entry
		 * each time would cost far more than knowing. */
		if ((imode & S_IFMT) == S_IFREG && !known)
			prot_inode_add(inode, &k, one);
		if ((flags & O_ACCMODE) != O_WRONLY) {
			ps = proc_state_ensure(tgid);
			if (ps)
				ps->flags |= PS_TAINTED;
			newly_tainted = !tainted;
			tainted = 1;
		}
	}

	/* The same open of the same file again within the window: counted in
	 * the first one's window (the open that tainted the process never is). */
	struct fold_key *fk = fold_key_new(tgid, OP_FILE_OPEN, nr, a->compat);
	if (!fk)
		return 0;
	fk->oflags = flags;
	fk->dev = k.dev;
	fk->ino = k.ino;
	fk->flags = (prot ? EF_PROTECTED : 0) | (tainted ? EF_TAINTED : 0);
	if (!newly_tainted && fold_try(fk, 0))
		return 0;

	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	file_event_init(e, task, OP_FILE_OPEN, nr, ret);
	if (prot)
		e->hdr.flags |= EF_PROTECTED;
	if (tainted)
		e->hdr.flags |= EF_TAINTED;
	e->hdr.flags |= guard;
	e->fd = ret;
	e->flags = flags;
	e->mode = mode;
	fill_inode_attrs(e, inode);
	off = sizeof(*e);
	e->path_len = put_path(s, e, off, d, mnt);
	off += e->path_len;
	e->name_len = put_user_str(e, s->buf, off, uname);
	off += e->name_len;
	if (!newly_tainted)
		fold_head(fk, &e->hdr);
	submit(e, off);
	return 0;
}

static __always_inline void fill_sock(struct net_event *e, struct socket *sp, int local_only)
{
	struct socket *sock = kcast(sp, socket);
	struct sock *sk;

	if (!sock)
		return;
	e->type = KR(sock, type);
	sk = KR(sock, sk);
	if (!sk)
		return;
	e->protocol = KR(sk, sk_protocol);
	e->family = KR(sk, __sk_common.skc_family);
	e->sport = KR(sk, __sk_common.skc_num);
	if (e->family == AF_INET) {
		__u32 a = KR(sk, __sk_common.skc_rcv_saddr);
		__builtin_memcpy(e->saddr, &a, 4);
		if (!local_only) {
			a = KR(sk, __sk_common.skc_daddr);
			__builtin_memcpy(e->daddr, &a, 4);
		}
	} else if (e->family == AF_INET6) {
		struct in6_addr a6 = KR(sk, __sk_common.skc_v6_rcv_saddr);
		__builtin_memcpy(e->saddr, &a6, 16);
		if (!local_only) {
			a6 = KR(sk, __sk_common.skc_v6_daddr);
			__builtin_memcpy(e->daddr, &a6, 16);
		}
	}
	if (!local_only)
		e->dport = bpf_ntohs(KR(sk, __sk_common.skc_dport));
}

/* The struct socket behind fd, or NULL when fd is not a socket. */
static __always_inline struct socket *fd_socket(struct task_struct *task, int fd)
{
	struct file *f = fd_file(task, fd);
	if (!f || (KR(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	return KR(f, private_data);
}

static __always_inline void net_event_init(struct net_event *e, struct task_struct *task,
					   __u8 op, long nr, long ret, int fd)
{
	__builtin_memset(e, 0, sizeof(*e));
	fill_hdr(&e->hdr, op);
	fill_proc(&e->proc, task);
	e->ret = ret;
	e->nr = nr;
	e->fd = fd;
}

/*
 * Data written to fd: write and pwrite families, and the in-kernel copies
 * (copy_file_range, sendfile, splice) that tools like cp use instead.
 * count is the bytes asked (iovec count for the vector calls).
 *
 * Reported: writes to protected data, and every write of a tainted process
 * (one that read protected data) to a file or socket, with the first
 * sample_bytes of the data for the content detector. A tainted process
 * writing to a pipe taints the pipe, so whoever reads it is tainted too.
 */
static __always_inline int handle_write(const struct sc_args *a, long nr, long ret, int fd, __u64 count)
{
	struct task_struct *task = current_task();
	__u32 tgid = KR(task, tgid);
	struct proc_state *ps = proc_state_get(tgid);
	struct fd_key key = {.tgid = tgid, .fd = fd};
	struct fd_info *info, fresh = {};
	struct inode_key k = {};
	struct scratch *s;
	struct file *f;
	struct inode *inode;
	int tainted, copy;
	__u32 off;

	/* No tracked fds and never tainted: nothing to do (the common case). */
	if (!ps)
		return 0;
	tainted = ps->flags & PS_TAINTED;
	info = bpf_map_lookup_elem(&fd_table, &key);
	if (!info && (!tainted || ret <= 0))
		return 0;
	f = fd_file(task, fd);
	if (!f)
		return 0;
	inode = KR(f, f_path.dentry, d_inode);
	if (inode_key_of(inode, &k) < 0)
		return 0;
	if (info && (k.dev != info->dev || k.ino != info->ino)) {
		/* Closed by a path we do not see (exec with O_CLOEXEC,
		 * close_range) and reused: forget the stale entry. */
		stat_inc(STAT_STALE_FD);
		fd_untrack(tgid, fd);
		info = NULL;
		if (!tainted || ret <= 0)
			return 0;
	}
	if (!info) {
		/* A tainted process writing where it did not open: an inherited
		 * stdout, a shell redirection, a pipe. */
		__u32 imode = KR(inode, i_mode) & S_IFMT;
		if (imode == S_IFIFO) {
			__u8 one = 1;
			__u32 zero = 0;
			if (!bpf_map_lookup_elem(&tainted_pipes, &k)) {
				bpf_map_update_elem(&tainted_pipes, &k, &one, BPF_ANY);
				__u64 *n = bpf_map_lookup_elem(&pipe_taints, &zero);
				if (n)
					__sync_fetch_and_add(n, 1);
				stat_inc(STAT_PIPE_TAINTED);
			}
			return 0;
		}
		if (imode == S_IFSOCK) {
			fresh.kind = FD_KIND_SOCKET;
		} else if (imode == S_IFREG) {
			fresh.kind = FD_KIND_FILE;
			fresh.protected_data = dentry_protected(KR(f, f_path.dentry), KR(f, f_path.mnt)) == PROT_DATA;
		} else {
			return 0;
		}
		fresh.dev = k.dev;
		fresh.ino = k.ino;
		fd_track(tgid, fd, &fresh);
		info = &fresh;
	}
	s = get_scratch();
	if (!s)
		return 0;
	copy = nr == NR_copy_file_range || nr == NR_sendfile || nr == NR_splice;

	if (info->kind == FD_KIND_SOCKET) {
		if (!tainted)
			return 0;
		struct net_event *n = (void *)s->buf;
		net_event_init(n, task, OP_NET_SEND, nr, ret, fd);
		n->hdr.flags |= EF_TAINTED;
		if (copy)
			n->hdr.flags |= EF_COPY;
		n->bytes = count;
		fill_sock(n, KR(f, private_data), 0);
		off = sizeof(*n);
		if (!copy) {
			long len = ret;
			const void *src = (const void *)a->a1;
			if (nr == NR_writev || nr == NR_pwritev || nr == NR_pwritev2)
				src = first_iov(src, &len, a->compat);
			n->sample_len = put_sample(&s->buf[off], src, len, &n->hdr.flags);
			off += n->sample_len;
		}
		submit(n, off);
		return 0;
	}

	/* Writes that carry nothing for the content detector (no sample, no
	 * read-back of a copy) fold; the fold sums the bytes written. */
	int sampled = tainted && !info->protected_data && !copy;
	struct fold_key *fk = fold_key_new(tgid, OP_FILE_WRITE, nr, a->compat);
	if (!fk)
		return 0;
	fk->result = ret > 0 ? 1 : ret;
	fk->dev = k.dev;
	fk->ino = k.ino;
	fk->flags = (info->protected_data ? EF_PROTECTED : 0) | (tainted ? EF_TAINTED : 0);
	int foldable = !sampled && !copy;
	if (foldable && fold_try(fk, ret))
		return 0;

	struct file_event *e = (void *)s->buf;
	file_event_init(e, task, OP_FILE_WRITE, nr, ret);
	if (info->protected_data)
		e->hdr.flags |= EF_PROTECTED;
	if (tainted)
		e->hdr.flags |= EF_TAINTED;
	if (copy)
		e->hdr.flags |= EF_COPY;
	e->fd = fd;
	e->count = count;
	if (nr == NR_pwrite64 || nr == NR_pwritev || nr == NR_pwritev2)
		e->pos = a->a3;
	else if (ret > 0)
		e->pos = KR(f, f_pos) - ret; /* where this write started */
	fill_inode_attrs(e, inode);
	off = sizeof(*e);
	e->path_len = put_path(s, e, off, KR(f, f_path.dentry), KR(f, f_path.mnt));
	off += e->path_len;
	/* Sample what a tainted process writes outside protected data. */
	if (sampled) {
		long len = ret;
		const void *src = (const void *)a->a1;
		if (nr == NR_writev || nr == NR_pwritev || nr == NR_pwritev2)
			src = first_iov(src, &len, a->compat);
		e->sample_len = put_sample(&s->buf[off & OFF_MASK], src, len, &e->hdr.flags);
		off += e->sample_len;
	}
	if (foldable)
		fold_head(fk, &e->hdr);
	submit(e, off);
	return 0;
}

/*
 * close: entries for fds below FD_BITS are left in fd_table. They are
 * listed in the process's bitmap, so exit removes them; every open of the
 * same fd number replaces or removes them (handle_open), dup2 onto it
 * likewise (handle_dup); and every use checks the entry against the fd's
 * inode first (handle_write: stale_fd_entry), so a leftover can never
 * attribute a write to the wrong file. This spares a loop that opens and
 * closes a protected file a delete and an insert of an LRU entry per
 * iteration. Higher fds, which the bitmap does not cover, are removed here.
 */
static __always_inline int handle_close(struct task_struct *task, int fd, long ret)
{
	if (ret == 0 && fd >= FD_BITS) {
		__u32 tgid = KR(task, tgid);
		if (proc_state_get(tgid))
			fd_untrack(tgid, fd);
	}
	return 0;
}

/* A read from a pipe a tainted process wrote to taints the reader. */
static __always_inline int handle_read(const struct sc_args *a, long ret)
{
	__u32 zero = 0;
	__u64 *any = bpf_map_lookup_elem(&pipe_taints, &zero);
	struct task_struct *task;
	struct inode_key k = {};
	struct file *f;
	struct proc_state *ps;

	if (!any || !*any || ret <= 0)
		return 0;
	task = current_task();
	f = fd_file(task, a->a0);
	if (!f)
		return 0;
	struct inode *inode = KR(f, f_path.dentry, d_inode);
	if ((KR(inode, i_mode) & S_IFMT) != S_IFIFO)
		return 0;
	if (inode_key_of(inode, &k) < 0 || !bpf_map_lookup_elem(&tainted_pipes, &k))
		return 0;
	ps = proc_state_ensure(KR(task, tgid));
	if (ps)
		ps->flags |= PS_TAINTED;
	return 0;
}

static __always_inline int handle_dup(const struct sc_args *a, long nr, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fd_key k = {.tgid = tgid, .fd = a->a0};
	struct fd_info *info;

	if (ret < 0)
		return 0;
	if (nr == NR_fcntl && a->a1 != F_DUPFD && a->a1 != F_DUPFD_CLOEXEC)
		return 0;
	if (!proc_state_get(tgid))
		return 0;
	info = bpf_map_lookup_elem(&fd_table, &k);
	if (!info) {
		fd_untrack(tgid, ret); /* dup2 over a tracked fd */
		return 0;
	}
	struct fd_info copy = *info;
	fd_track(tgid, ret, &copy);
	return 0;
}

/* fchmod, fchown, ftruncate: the fd names the object. */
static __always_inline int handle_fd_attr(const struct sc_args *a, long nr, long ret)
{
	struct task_struct *task = current_task();
	struct file *f = fd_file(task, a->a0);
	struct scratch *s;
	struct file_event *e;
	struct dentry *d;
	struct vfsmount *mnt;
	int prot;

	if (!f)
		return 0;
	d = BPF_CORE_READ(f, f_path.dentry);
	mnt = BPF_CORE_READ(f, f_path.mnt);
	prot = dentry_protected(d, mnt);
	if (!prot)
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	file_event_init(e, task, OP_FILE_NS, nr, ret);
	e->hdr.flags |= guard_flags(prot);
	e->fd = a->a0;
	switch (nr) {
	case NR_fchmod:
		e->kind = NS_CHMOD;
		e->mode = a->a1;
		break;
	case NR_fchown:
		e->kind = NS_CHOWN;
		e->uid = a->a1;
		e->gid = a->a2;
		break;
	case NR_ftruncate:
		e->kind = NS_TRUNCATE;
		e->count = a->a1;
		break;
	}
	fill_inode_attrs(e, BPF_CORE_READ(d, d_inode));
	e->path_len = put_path(s, e, sizeof(*e), d, mnt);
	submit(e, sizeof(*e) + e->path_len);
	return 0;
}

/* A path-based namespace or attribute syscall that touched protected data. */
static __always_inline int handle_ns(const struct sc_args *a, long nr, long ret)
{
	struct task_struct *task = current_task();
	__u32 tid = KR(task, pid);
	struct inflight *in = bpf_map_lookup_elem(&inflight, &tid);
	struct inflight hit;
	int dfd1 = AT_FDCWD, dfd2 = AT_FDCWD;
	const char *name1 = NULL, *name2 = NULL;
	int anchor1 = 1;
	struct scratch *s;
	struct file_event *e;
	__u32 off;

	if (!in)
		return 0;
	hit = *in;
	bpf_map_delete_elem(&inflight, &tid);

	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	file_event_init(e, task, OP_FILE_NS, nr, ret);
	e->hdr.flags |= guard_flags(hit.kind);
	e->dev = hit.dev;
	e->ino = hit.ino;
	e->i_mode = hit.i_mode;
	e->i_uid = hit.i_uid;
	e->i_gid = hit.i_gid;

	switch (nr) {
	case NR_rename:
		e->kind = NS_RENAME;
		name1 = (void *)a->a0;
		name2 = (void *)a->a1;
		break;
	case NR_renameat:
	case NR_renameat2:
		e->kind = NS_RENAME;
		dfd1 = a->a0;
		name1 = (void *)a->a1;
		dfd2 = a->a2;
		name2 = (void *)a->a3;
		if (nr == NR_renameat2)
			e->flags = a->a4;
		break;
	case NR_unlink:
		e->kind = NS_UNLINK;
		name1 = (void *)a->a0;
		break;
	case NR_rmdir:
		e->kind = NS_RMDIR;
		name1 = (void *)a->a0;
		break;
	case NR_unlinkat:
		dfd1 = a->a0;
		name1 = (void *)a->a1;
		e->flags = a->a2;
		e->kind = (e->flags & AT_REMOVEDIR) ? NS_RMDIR : NS_UNLINK;
		break;
	case NR_link:
		e->kind = NS_LINK;
		name1 = (void *)a->a0;
		name2 = (void *)a->a1;
		break;
	case NR_linkat:
		e->kind = NS_LINK;
		dfd1 = a->a0;
		name1 = (void *)a->a1;
		dfd2 = a->a2;
		name2 = (void *)a->a3;
		e->flags = a->a4;
		break;
	case NR_symlink:
		e->kind = NS_SYMLINK;
		name1 = (void *)a->a0; /* the target: a string, not resolved */
		anchor1 = 0;
		name2 = (void *)a->a1;
		break;
	case NR_symlinkat:
		e->kind = NS_SYMLINK;
		name1 = (void *)a->a0;
		anchor1 = 0;
		dfd2 = a->a1;
		name2 = (void *)a->a2;
		break;
	case NR_mkdir:
		e->kind = NS_MKDIR;
		name1 = (void *)a->a0;
		e->mode = a->a1;
		break;
	case NR_mkdirat:
		e->kind = NS_MKDIR;
		dfd1 = a->a0;
		name1 = (void *)a->a1;
		e->mode = a->a2;
		break;
	case NR_chmod:
		e->kind = NS_CHMOD;
		name1 = (void *)a->a0;
		e->mode = a->a1;
		break;
	case NR_fchmodat:
	case NR_fchmodat2:
		e->kind = NS_CHMOD;
		dfd1 = a->a0;
		name1 = (void *)a->a1;
		e->mode = a->a2;
		if (nr == NR_fchmodat2)
			e->flags = a->a3;
		break;
	case NR_chown:
	case NR_lchown:
		e->kind = NS_CHOWN;
		name1 = (void *)a->a0;
		e->uid = a->a1;
		e->gid = a->a2;
		break;
	case NR_fchownat:
		e->kind = NS_CHOWN;
		dfd1 = a->a0;
		name1 = (void *)a->a1;
		e->uid = a->a2;
		e->gid = a->a3;
		e->flags = a->a4;
		break;
	case NR_truncate:
		e->kind = NS_TRUNCATE;
		name1 = (void *)a->a0;
		e->count = a->a1;
		break;
	}

	off = sizeof(*e);
	if (anchor1) {
		e->path_len = put_anchor(s, e, off, task, dfd1, name1);
		off += e->path_len;
	}
	e->name_len = put_user_str(e, s->buf, off, name1);
	off += e->name_len;
	if (name2) {
		e->path2_len = put_anchor(s, e, off, task, dfd2, name2);
		off += e->path2_len;
		e->name2_len = put_user_str(e, s->buf, off, name2);
		off += e->name2_len;
	}
	submit(e, off);
	return 0;
}

/*
 * What a rename changed, by the type of the inodes whose ctime it set: the
 * ctime hook counts, sys_exit reads and clears. Only a moved directory can
 * change cached directory verdicts (those of everything below it); a moved
 * file cannot, and hosts rename files all the time (atomic saves, log
 * rotation), so sys_exit invalidates every verdict only when the rename may
 * have moved a directory (see rename_may_move_dir).
 */
struct rename_shape {
	__u16 dirs;   /* directory inodes touched: the parents, a moved directory */
	__u16 others; /* anything else: the moved file, an overwritten one */
	__u32 seen;
};

#ifdef BANSHO_PORTABLE
/* No task storage before 5.11: a table by thread id. An entry left by a
 * thread that died mid-rename is reused by its id or evicted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct rename_shape);
} rename_shapes SEC(".maps");

static __always_inline struct rename_shape *rename_shape_of(struct task_struct *task, int create)
{
	__u32 tid = KR(task, pid);
	struct rename_shape *sh = bpf_map_lookup_elem(&rename_shapes, &tid);

	if (!sh && create) {
		struct rename_shape zero = {};
		bpf_map_update_elem(&rename_shapes, &tid, &zero, BPF_NOEXIST);
		sh = bpf_map_lookup_elem(&rename_shapes, &tid);
	}
	return sh;
}
#else
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rename_shape);
} rename_shapes SEC(".maps");

static __always_inline struct rename_shape *rename_shape_of(struct task_struct *task, int create)
{
	return bpf_task_storage_get(&rename_shapes, task, 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}
#endif

static __always_inline int is_rename(long nr)
{
	return nr == NR_rename || nr == NR_renameat || nr == NR_renameat2;
}

/*
 * At sys_exit of a rename: might it have moved a directory to another
 * parent? No only when a non-directory was touched and at most two
 * directories (its old and new parents): a directory moved between two
 * parents makes three, an exchange with a directory three or four. Whatever
 * is unknown (no ctime seen, a file system that sets none, storage busy)
 * counts as yes. The shape is cleared for the next call either way.
 */
static __always_inline int rename_may_move_dir(struct task_struct *task)
{
	struct rename_shape *sh = rename_shape_of(task, 0);
	int file_only;

	if (!sh || !sh->seen)
		return 1;
	file_only = sh->others > 0 && sh->dirs <= 2;
	sh->dirs = 0;
	sh->others = 0;
	sh->seen = 0;
	return !file_only;
}

static __always_inline void rename_shape_count(struct task_struct *task, struct inode *inode)
{
	struct rename_shape *sh = rename_shape_of(task, 1);

	if (!sh)
		return;
	sh->seen = 1;
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) == S_IFDIR)
		sh->dirs++;
	else
		sh->others++;
}

/* Kernels from 7.0 name no union around a dentry's d_alias (d_u). */
struct dentry___nod_u {
	struct hlist_node d_alias;
} __attribute__((preserve_access_index));

/* A dentry of inode (the first on its alias list), or NULL. */
static __always_inline struct dentry *inode_alias(struct inode *inode)
{
	struct hlist_node *first = BPF_CORE_READ(inode, i_dentry.first);

	if (!first)
		return NULL;
	if (bpf_core_field_exists(struct dentry, d_u))
		return (void *)first - bpf_core_field_offset(struct dentry, d_u.d_alias);
	return (void *)first - bpf_core_field_offset(struct dentry___nod_u, d_alias);
}

/*
 * The user registers of the current task's syscall. bpf_task_pt_regs came
 * in 5.15; before, they are at the top of the task's kernel stack
 * (x86_64: THREAD_SIZE is 16 KiB on kernels built without KASAN, which
 * distribution kernels are).
 */
#define X86_THREAD_SIZE 16384
static __always_inline struct pt_regs *current_regs(void)
{
#ifdef BANSHO_PORTABLE
	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs)) {
		struct task_struct *task = current_task();
		return (struct pt_regs *)(KR(task, stack) + X86_THREAD_SIZE) - 1;
	}
#endif
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/*
 * Called for every inode a namespace or attribute change touches: from the
 * ctime tracepoints (6.13 on), or from fentry on the security_inode_*
 * hooks where those are missing (ns.bpf.c). Inside one of the namespace
 * syscalls, note whether a protected inode was touched.
 */
SUBPROG int ns_hit(struct inode *inode)
{
	struct task_struct *task = current_task();
	struct pt_regs *regs = current_regs();
	long nr = KR(regs, orig_ax);
	struct inode_key k = {};
	int prot;

	if (!inode)
		return 0;
	if (KR(task, thread_info.status) & TS_COMPAT)
		nr = compat_to_native(nr); /* an ia32 number: see compat.bpf.c */
	if (!is_ns_syscall(nr))
		return 0;
	if (KR(task, flags) & 0x00200000 /* PF_KTHREAD */)
		return 0;
	if (self_tgid && KR(task, tgid) == self_tgid)
		return 0;
	if (is_rename(nr))
		rename_shape_count(task, inode);
	if (inode_key_of(inode, &k) < 0)
		return 0;
	__u32 *known = prot_inode_lookup(inode, &k);
	prot = known ? guard_kind(*known) : 0;
	if (!prot) {
		struct dentry *d = inode_alias(inode);
		if (d)
			prot = dentry_protected(d, NULL);
	}
	if (!prot)
		return 0;

	__u32 imode = BPF_CORE_READ(inode, i_mode);
	/* Protected data stays protected wherever it is moved or linked to. */
	if ((prot & PROT_DATA) && (imode & S_IFMT) == S_IFREG &&
	    (nr == NR_rename || nr == NR_renameat || nr == NR_renameat2 ||
	     nr == NR_link || nr == NR_linkat)) {
		prot_inode_add(inode, &k, 1);
	}

	__u32 tid = KR(task, pid);
	struct inflight *in = bpf_map_lookup_elem(&inflight, &tid);
	if (in) {
		/* Prefer the object over its directory. */
		if ((in->i_mode & S_IFMT) == 0040000 && (imode & S_IFMT) != 0040000) {
			in->dev = k.dev;
			in->ino = k.ino;
			in->i_mode = imode;
			in->i_uid = BPF_CORE_READ(inode, i_uid.val);
			in->i_gid = BPF_CORE_READ(inode, i_gid.val);
		}
		in->kind |= prot;
		in->hits++;
		return 0;
	}
	struct inflight n = {
		.dev = k.dev,
		.ino = k.ino,
		.i_mode = imode,
		.i_uid = BPF_CORE_READ(inode, i_uid.val),
		.i_gid = BPF_CORE_READ(inode, i_gid.val),
		.hits = 1,
		.kind = prot,
	};
	if (bpf_map_update_elem(&inflight, &tid, &n, BPF_ANY) < 0)
		stat_inc(STAT_INFLIGHT_FULL);
	return 0;
}

SEC("tp_btf/inode_set_ctime_to_ts")
int BPF_PROG(on_ctime_set, struct inode *inode, struct timespec64 *ts)
{
	ns_hit(inode);
	return 0;
}

SEC("tp_btf/ctime_ns_xchg")
int BPF_PROG(on_ctime_xchg, struct inode *inode, u32 old, u32 new, u32 cur)
{
	ns_hit(inode);
	return 0;
}

SEC("tp_btf/ctime_xchg_skip")
int BPF_PROG(on_ctime_skip, struct inode *inode, struct timespec64 *ctime)
{
	ns_hit(inode);
	return 0;
}
