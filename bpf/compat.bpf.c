//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * 32-bit (ia32) syscalls on x86_64: a program built with gcc -m32, or a
 * 64-bit one using int $0x80, enters the kernel with the i386 numbers
 * (arch/x86/entry/syscalls/syscall_32.tbl) and its arguments in bx, cx, dx,
 * si, di, bp (32 bits each). The kernel marks the task TS_COMPAT for the
 * call. Each call bansho reports is mapped to its native number and its
 * arguments to the native order, then handled exactly like the native one
 * (the dispatcher in sensor.bpf.c): the records are the same, flagged EFX_COMPAT
 * (fill_hdr). Pointers are 32-bit user addresses; the handlers read the
 * compat layouts of iovec and msghdr where they differ (a->compat).
 *
 * ia32 has calls x86_64 does not: socketcall (one entry for every socket
 * call, its arguments in a user array), 16-bit-uid chown variants, and
 * 64-bit offsets and lengths split over two registers. They are decoded
 * into the native call they stand for.
 */

#define NR32_read 3
#define NR32_write 4
#define NR32_open 5
#define NR32_close 6
#define NR32_creat 8
#define NR32_link 9
#define NR32_unlink 10
#define NR32_chmod 15
#define NR32_lchown16 16
#define NR32_mount 21
#define NR32_umount 22
#define NR32_ptrace 26
#define NR32_rename 38
#define NR32_mkdir 39
#define NR32_rmdir 40
#define NR32_dup 41
#define NR32_umount2 52
#define NR32_fcntl 55
#define NR32_dup2 63
#define NR32_symlink 83
#define NR32_truncate 92
#define NR32_ftruncate 93
#define NR32_fchmod 94
#define NR32_fchown16 95
#define NR32_socketcall 102
#define NR32_readv 145
#define NR32_writev 146
#define NR32_pread64 180
#define NR32_pwrite64 181
#define NR32_chown16 182
#define NR32_sendfile 187
#define NR32_truncate64 193
#define NR32_ftruncate64 194
#define NR32_lchown 198
#define NR32_fchown 207
#define NR32_chown 212
#define NR32_pivot_root 217
#define NR32_fcntl64 221
#define NR32_sendfile64 239
#define NR32_openat 295
#define NR32_mkdirat 296
#define NR32_fchownat 298
#define NR32_unlinkat 301
#define NR32_renameat 302
#define NR32_linkat 303
#define NR32_symlinkat 304
#define NR32_fchmodat 306
#define NR32_splice 313
#define NR32_dup3 330
#define NR32_preadv 333
#define NR32_pwritev 334
#define NR32_sendmmsg 345
#define NR32_process_vm_readv 347
#define NR32_process_vm_writev 348
#define NR32_renameat2 353
#define NR32_connect 362
#define NR32_accept4 364
#define NR32_sendto 369
#define NR32_sendmsg 370
#define NR32_copy_file_range 377
#define NR32_preadv2 378
#define NR32_pwritev2 379
/* From 403 on, new calls have one number on every architecture. */
#define NR32_open_tree 428
#define NR32_move_mount 429
#define NR32_fsmount 432
#define NR32_openat2 437
#define NR32_pidfd_getfd 438
#define NR32_mount_setattr 442
#define NR32_fchmodat2 452

/* socketcall(call, args): include/uapi/linux/net.h */
#define SYS_CONNECT 3
#define SYS_ACCEPT 5
#define SYS_SEND 9
#define SYS_SENDTO 11
#define SYS_SENDMSG 16
#define SYS_ACCEPT4 18
#define SYS_SENDMMSG 20

/*
 * The native number of an ia32 call bansho reports, or -1. The calls that
 * need their arguments reshaped (split 64-bit values, 16-bit ids,
 * socketcall) are mapped here too, for ns_hit, which only needs to know
 * which call is in flight; compat_args reshapes them.
 */
static __always_inline long compat_to_native(long nr32)
{
	switch (nr32) {
	case NR32_read: return NR_read;
	case NR32_write: return NR_write;
	case NR32_open: return NR_open;
	case NR32_close: return NR_close;
	case NR32_creat: return NR_creat;
	case NR32_link: return NR_link;
	case NR32_unlink: return NR_unlink;
	case NR32_chmod: return NR_chmod;
	case NR32_lchown16: return NR_lchown;
	case NR32_mount: return NR_mount;
	case NR32_umount: return NR_umount2;
	case NR32_ptrace: return NR_ptrace;
	case NR32_rename: return NR_rename;
	case NR32_mkdir: return NR_mkdir;
	case NR32_rmdir: return NR_rmdir;
	case NR32_dup: return NR_dup;
	case NR32_umount2: return NR_umount2;
	case NR32_fcntl: return NR_fcntl;
	case NR32_dup2: return NR_dup2;
	case NR32_symlink: return NR_symlink;
	case NR32_truncate: return NR_truncate;
	case NR32_ftruncate: return NR_ftruncate;
	case NR32_fchmod: return NR_fchmod;
	case NR32_fchown16: return NR_fchown;
	case NR32_readv: return NR_readv;
	case NR32_writev: return NR_writev;
	case NR32_pread64: return NR_pread64;
	case NR32_pwrite64: return NR_pwrite64;
	case NR32_chown16: return NR_chown;
	case NR32_sendfile: return NR_sendfile;
	case NR32_truncate64: return NR_truncate;
	case NR32_ftruncate64: return NR_ftruncate;
	case NR32_lchown: return NR_lchown;
	case NR32_fchown: return NR_fchown;
	case NR32_chown: return NR_chown;
	case NR32_pivot_root: return NR_pivot_root;
	case NR32_fcntl64: return NR_fcntl;
	case NR32_sendfile64: return NR_sendfile;
	case NR32_openat: return NR_openat;
	case NR32_mkdirat: return NR_mkdirat;
	case NR32_fchownat: return NR_fchownat;
	case NR32_unlinkat: return NR_unlinkat;
	case NR32_renameat: return NR_renameat;
	case NR32_linkat: return NR_linkat;
	case NR32_symlinkat: return NR_symlinkat;
	case NR32_fchmodat: return NR_fchmodat;
	case NR32_splice: return NR_splice;
	case NR32_dup3: return NR_dup3;
	case NR32_preadv: return NR_preadv;
	case NR32_pwritev: return NR_pwritev;
	case NR32_sendmmsg: return NR_sendmmsg;
	case NR32_process_vm_readv: return NR_process_vm_readv;
	case NR32_process_vm_writev: return NR_process_vm_writev;
	case NR32_renameat2: return NR_renameat2;
	case NR32_connect: return NR_connect;
	case NR32_accept4: return NR_accept4;
	case NR32_sendto: return NR_sendto;
	case NR32_sendmsg: return NR_sendmsg;
	case NR32_copy_file_range: return NR_copy_file_range;
	case NR32_preadv2: return NR_preadv2;
	case NR32_pwritev2: return NR_pwritev2;
	case NR32_open_tree: return NR_open_tree;
	case NR32_move_mount: return NR_move_mount;
	case NR32_fsmount: return NR_fsmount;
	case NR32_openat2: return NR_openat2;
	case NR32_pidfd_getfd: return NR_pidfd_getfd;
	case NR32_mount_setattr: return NR_mount_setattr;
	case NR32_fchmodat2: return NR_fchmodat2;
	}
	return -1;
}

/* A 16-bit uid or gid (old_uid_t) as the kernel widens it: -1 stays -1. */
static __always_inline __u64 low2high(__u64 id)
{
	__u16 v = id;
	return v == 0xffff ? 0xffffffffULL : v;
}

/*
 * socketcall(call, args): the call's arguments are an array of 32-bit
 * words in user memory (still there at exit: the caller's own). Fills a
 * with them and returns the native call, or -1 for a call bansho does not
 * report (socket, bind, recv...).
 */
static __always_inline long socketcall_args(struct sc_args *a)
{
	__u32 w[6] = {};
	long nr;
	__u32 n;

	switch (a->a0) {
	case SYS_CONNECT: nr = NR_connect; n = 3; break;
	case SYS_ACCEPT: nr = NR_accept; n = 3; break;
	case SYS_ACCEPT4: nr = NR_accept4; n = 4; break;
	case SYS_SEND: nr = NR_sendto; n = 4; break; /* send: sendto without an address */
	case SYS_SENDTO: nr = NR_sendto; n = 6; break;
	case SYS_SENDMSG: nr = NR_sendmsg; n = 3; break;
	case SYS_SENDMMSG: nr = NR_sendmmsg; n = 4; break;
	default: return -1;
	}
	if (bpf_probe_read_user(w, n * 4, (void *)a->a1) < 0) {
		stat_inc(STAT_USER_READ_FAIL);
		return -1;
	}
	a->a0 = w[0];
	a->a1 = w[1];
	a->a2 = w[2];
	a->a3 = w[3];
	a->a4 = w[4];
	a->a5 = w[5];
	return nr;
}

/*
 * Fills a with an ia32 call's arguments in the native order and returns
 * its native number, or -1 for a call bansho does not report. Runs in the
 * dispatcher, which hands the call on like a native one.
 */
static __always_inline long compat_args(struct sc_args *a, struct pt_regs *regs, long nr32)
{
	long nr;

	a->a0 = (__u32)regs->bx;
	a->a1 = (__u32)regs->cx;
	a->a2 = (__u32)regs->dx;
	a->a3 = (__u32)regs->si;
	a->a4 = (__u32)regs->di;
	a->a5 = (__u32)regs->bp;
	a->compat = 1;

	switch (nr32) {
	case NR32_socketcall:
		nr = socketcall_args(a);
		break;
	case NR32_pwrite64:
		/* (fd, buf, count, pos_lo, pos_hi) */
		a->a3 |= a->a4 << 32;
		nr = NR_pwrite64;
		break;
	case NR32_pwritev:
	case NR32_pwritev2:
		/* (fd, vec, vlen, pos_lo, pos_hi[, flags]) */
		a->a3 |= a->a4 << 32;
		a->a4 = a->a5;
		nr = compat_to_native(nr32);
		break;
	case NR32_truncate64:
	case NR32_ftruncate64:
		/* (name or fd, len_lo, len_hi) */
		a->a1 |= a->a2 << 32;
		nr = compat_to_native(nr32);
		break;
	case NR32_lchown16:
	case NR32_chown16:
	case NR32_fchown16:
		a->a1 = low2high(a->a1);
		a->a2 = low2high(a->a2);
		nr = compat_to_native(nr32);
		break;
	default:
		nr = compat_to_native(nr32);
	}
	return nr;
}
