//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Outbound connects, inbound accepts, datagram destinations, tainted sends. */

struct sockaddr_any {
	__u16 family;
	__u16 port;          /* network order */
	__u32 flowinfo_or_v4;/* sin_addr for AF_INET; sin6_flowinfo for AF_INET6 */
	__u8 addr6[16];
};

/* Read a user sockaddr into e's destination. Returns 0 for AF_INET(6). */
static __always_inline int read_dest(struct net_event *e, const void *uaddr)
{
	struct sockaddr_any sa = {};

	if (!uaddr)
		return -1;
	if (bpf_probe_read_user(&sa, sizeof(sa), uaddr) < 0) {
		/* A short AF_INET sockaddr may end before addr6: retry. */
		if (bpf_probe_read_user(&sa, 8, uaddr) < 0) {
			e->hdr.flags |= EF_READ_FAILED;
			stat_inc(STAT_USER_READ_FAIL);
			return -1;
		}
	}
	if (sa.family == AF_INET) {
		__builtin_memcpy(e->daddr, &sa.flowinfo_or_v4, 4);
	} else if (sa.family == AF_INET6) {
		__builtin_memcpy(e->daddr, sa.addr6, 16);
	} else {
		return -1;
	}
	e->family = sa.family;
	e->dport = bpf_ntohs(sa.port);
	return 0;
}

/* Remember the socket at fd and its peer, so later writes are attributed. */
static __always_inline void track_socket(struct task_struct *task, int fd, struct net_event *e)
{
	struct file *f = fd_file(task, fd);
	struct inode_key k = {};
	struct fd_info info = {.kind = FD_KIND_SOCKET, .family = e->family,
			       .dport = e->dport, .sport = e->sport};

	if (!f || inode_key_of(KR(f, f_path.dentry, d_inode), &k) < 0)
		return;
	info.dev = k.dev;
	info.ino = k.ino;
	__builtin_memcpy(info.daddr, e->daddr, 16);
	fd_track(KR(task, tgid), fd, &info);
}

/* The record's header and process, for a record whose body is filled. */
static __always_inline void net_event_head(struct net_event *e, struct task_struct *task,
					   __u8 op, long nr, long ret, int fd, int tainted)
{
	fill_hdr(&e->hdr, op);
	if (tainted)
		e->hdr.flags |= EF_TAINTED;
	fill_proc(&e->proc, task);
	e->ret = ret;
	e->nr = nr;
	e->fd = fd;
}

/*
 * The fold key is known from the destination and the result alone, so it
 * is checked before the process and the socket are read: a folded connect
 * costs a user read and two lookups.
 */
static __always_inline int handle_connect(const struct sc_args *a, long nr, long ret)
{
	struct task_struct *task = current_task();
	__u32 tgid = KR(task, tgid);
	int fd = a->a0;
	struct scratch *s = get_scratch();
	struct net_event *e;
	struct socket *sock;

	if (!s)
		return 0;
	e = (void *)s->buf;
	__builtin_memset(e, 0, sizeof(*e));
	if (read_dest(e, (void *)a->a1) < 0)
		return 0;
	struct proc_state *ps = proc_state_get(tgid);
	int tainted = ps && (ps->flags & PS_TAINTED);

	/* The same destination with the same result again within the window:
	 * counted in the first connect's window (the source port is not kept). */
	struct fold_key *fk = fold_key_new(tgid, OP_NET_CONNECT, nr, a->compat);
	if (!fk)
		return 0;
	fk->flags = tainted ? EF_TAINTED : 0;
	fk->result = ret;
	fk->dev = ((__u64)e->family << 16) | e->dport;
	__builtin_memcpy(fk->addr, e->daddr, 16);
	/* Only a tainted process's sockets need an entry: an untainted one's
	 * writes are not reported, and once tainted, handle_write recognises
	 * a socket from its inode. Sparing the entry keeps every connecting
	 * process off the per-process paths (proc_states). */
	if (tainted && (ret == 0 || ret == -EINPROGRESS))
		track_socket(task, fd, e);
	if (fold_try(fk, 0))
		return 0;

	net_event_head(e, task, OP_NET_CONNECT, nr, ret, fd, tainted);
	sock = fd_socket(task, fd);
	if (sock) {
		__u16 fam = e->family, dport = e->dport;
		fill_sock(e, sock, 1);
		e->family = fam;
		e->dport = dport;
	}
	fold_head(fk, &e->hdr);
	submit(e, sizeof(*e));
	return 0;
}

static __always_inline int handle_accept(const struct sc_args *a, long nr, long ret)
{
	struct task_struct *task = current_task();
	__u32 tgid = KR(task, tgid);
	struct scratch *s;
	struct net_event *e;
	struct socket *sock;

	if (!trace_accept || ret < 0)
		return 0;
	sock = fd_socket(task, ret);
	if (!sock)
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	__builtin_memset(e, 0, sizeof(*e));
	fill_sock(e, sock, 0);
	if (e->family != AF_INET && e->family != AF_INET6)
		return 0;
	struct proc_state *ps = proc_state_get(tgid);
	int tainted = ps && (ps->flags & PS_TAINTED);
	if (tainted)
		track_socket(task, ret, e); /* see handle_connect */
	/* Connections from the same peer address to the same local port within
	 * the window: counted in the first accept's window. */
	struct fold_key *fk = fold_key_new(tgid, OP_NET_ACCEPT, nr, a->compat);
	if (!fk)
		return 0;
	fk->flags = tainted ? EF_TAINTED : 0;
	fk->dev = ((__u64)e->family << 16) | e->sport;
	__builtin_memcpy(fk->addr, e->daddr, 16);
	if (fold_try(fk, 0))
		return 0;
	net_event_head(e, task, OP_NET_ACCEPT, nr, ret, ret, tainted);
	fold_head(fk, &e->hdr);
	submit(e, sizeof(*e));
	return 0;
}

/*
 * sendto/sendmsg/sendmmsg. A datagram with an explicit destination is
 * reported (deduplicated per process and destination); any send by a
 * tainted process is reported with its peer.
 */
static __always_inline int handle_send(const struct sc_args *a, long nr, long ret)
{
	struct task_struct *task = current_task();
	__u32 tgid = KR(task, tgid);
	int fd = a->a0;
	const void *dest = NULL;
	struct scratch *s;
	struct net_event *e;
	struct socket *sock;
	struct proc_state *ps = proc_state_get(tgid);
	int tainted = ps && (ps->flags & PS_TAINTED);

	if (nr == NR_sendto) {
		dest = (void *)a->a4;
	} else {
		/* msghdr (sendmsg) or the first mmsghdr (sendmmsg): msg_name
		 * first, a pointer (32 bits in struct compat_msghdr) */
		void *msg = (void *)a->a1;
		__u64 name = 0;
		if (msg && bpf_probe_read_user(&name, a->compat ? 4 : 8, msg) < 0) {
			stat_inc(STAT_USER_READ_FAIL);
			name = 0;
		}
		dest = (const void *)name;
	}
	if (!dest && !tainted)
		return 0;
	if (dest && !trace_udp_send && !tainted)
		return 0;
	sock = fd_socket(task, fd);
	if (!sock)
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	net_event_init(e, task, OP_NET_SEND, nr, ret, fd);
	e->bytes = nr == NR_sendto ? a->a2 : (ret > 0 ? ret : 0);
	fill_sock(e, sock, dest != NULL);
	if (dest && read_dest(e, dest) < 0 && !tainted)
		return 0;
	if (e->family != AF_INET && e->family != AF_INET6)
		return 0;
	__u32 off = sizeof(*e);
	if (tainted) {
		e->hdr.flags |= EF_TAINTED;
		long len = ret;
		const void *src = (const void *)a->a1;
		if (nr != NR_sendto) {
			/* msghdr (or the first mmsghdr): msg_iov after name and namelen */
			src = NULL;
			if (a->compat) {
				/* struct compat_msghdr: name, namelen, iov, ... (32 bits each) */
				__u32 iov = 0;
				if (bpf_probe_read_user(&iov, 4, (void *)a->a1 + 8) == 0)
					src = first_iov((void *)(__u64)iov, &len, 1);
			} else {
				struct user_msghdr m = {};
				if (bpf_probe_read_user(&m, sizeof(m), (void *)a->a1) == 0)
					src = first_iov(m.msg_iov, &len, 0);
			}
		}
		e->sample_len = put_sample(&s->buf[off], src, len, &e->hdr.flags);
		off += e->sample_len;
	} else {
		struct send_key k = {.tgid = tgid, .dport = e->dport, .family = e->family};
		__u64 now = e->hdr.ktime;
		__builtin_memcpy(k.daddr, e->daddr, 16);
		__u64 *last = bpf_map_lookup_elem(&send_seen, &k);
		if (last && now - *last < send_dedupe_ns) {
			stat_inc(STAT_SEND_DEDUPED);
			return 0;
		}
		bpf_map_update_elem(&send_seen, &k, &now, BPF_ANY);
	}
	submit(e, off);
	return 0;
}
