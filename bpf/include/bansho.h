/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records shared between the kernel programs and the Go decoder
 * (sensor/decode.go). Every record starts with struct event_hdr; the opcode
 * says which body follows. Keep the layouts in sync with the Go side: the
 * decoder checks sizes against the object's BTF in its tests.
 */
#ifndef BANSHO_H
#define BANSHO_H

#define TASK_COMM_LEN 16
#define PATH_BUF 4096     /* longest path the kernel side reports */
#define NAME_BUF 256      /* one path component */
#define USER_NAME_BUF 2048 /* a path string as a syscall's caller gave it */
#define ARGS_BUF 1024     /* bytes of argv captured at exec */
#define MAX_DEPTH 64      /* dentry levels walked (protected check and path) */
#define FD_BITS 1024      /* fds tracked per process in proc_state.fds */
#define PID_WORDS_DEFAULT 512 /* proc_present words (32768 pids); resized at load */
#define INO_FILTER_SHIFT 19   /* prot_ino_*bits: 2^19 bits (64 KiB) each */
#define INO_FILTER_WORDS (1 << (INO_FILTER_SHIFT - 6))
#define SAMPLE_MAX 4096   /* bytes of a write or send sampled for content */

enum op {
	OP_EXEC = 1,
	OP_FORK = 2,
	OP_EXIT = 3,
	OP_FILE_OPEN = 10,
	OP_FILE_WRITE = 11,
	OP_FILE_NS = 12,       /* rename, unlink, link, symlink, mkdir, chmod, chown, truncate */
	OP_NET_CONNECT = 20,
	OP_NET_ACCEPT = 21,
	OP_NET_SEND = 22,
	OP_TLS_WRITE = 23,     /* plaintext handed to SSL_write by a tainted process */
	OP_SELF_SIGNAL = 30,   /* another process signalled the sensor */
	OP_SELF_PTRACE = 31,   /* another process ptrace-attached to or read/wrote the sensor's memory */
	OP_REPEAT = 32,        /* calls folded into an earlier record (struct repeat_event) */
};

/* Which namespace or attribute change an OP_FILE_NS record describes. */
enum file_ns_kind {
	NS_RENAME = 1,
	NS_UNLINK = 2,
	NS_RMDIR = 3,
	NS_LINK = 4,
	NS_SYMLINK = 5,
	NS_MKDIR = 6,
	NS_CHMOD = 7,
	NS_CHOWN = 8,
	NS_TRUNCATE = 9,
};

/* hdr.flags */
#define EF_TRUNCATED   (1 << 0) /* a string or argv was cut to its buffer */
#define EF_READ_FAILED (1 << 1) /* a user-memory read failed; a field is empty */
#define EF_TAINTED     (1 << 2) /* the process has read protected data */
#define EF_PROTECTED   (1 << 3) /* the object is protected data */
#define EF_COPY        (1 << 4) /* an in-kernel copy: the data never passed through userspace */
#define EF_INTEGRITY   (1 << 5) /* the object is under protect.integrity_paths (modification only) */
#define EF_SELF        (1 << 6) /* the target is the sensor itself: its process or its own files */

/*
 * Kinds of guarded objects. protected_dirs values carry PD_* in their top
 * bits (the rest is the index in its configuration list); protected_inodes
 * values are 1 for protected data, PD_INTEGRITY (| PD_SELF) for files.
 */
#define PD_INTEGRITY (1U << 31)
#define PD_SELF      (1U << 30)
#define PI_GEN       (1U << 29) /* protected_inodes: gen below is the inode's */

/* A protected_inodes value: the kind (above) and, for entries the kernel
 * side made, the inode's i_generation, so that a stale entry left by a
 * deleted file whose inode number was reused is recognised (ext4 reuses
 * them at once). Entries userspace adds at start carry no generation. */
struct prot_inode {
	__u32 v;
	__u32 gen;
};
#define PROT_DATA      1 /* protected data: opens, reads, writes, taint */
#define PROT_INTEGRITY 2 /* integrity only: modifications, no reads, no taint */
#define PROT_SELF      4 /* with PROT_INTEGRITY: one of the sensor's own files */
#define EF_FOLD_HEAD   (1 << 7) /* identical calls that follow are folded into this record */

/* stats map indexes (per-CPU array) */
enum stat_idx {
	STAT_RB_RESERVE_FAIL = 0, /* ring buffer full: a record was dropped */
	STAT_USER_READ_FAIL = 1,  /* bpf_probe_read_user failed */
	STAT_PATH_TRUNCATED = 2,  /* path deeper/longer than the buffer */
	STAT_FDTABLE_FULL = 3,    /* fd_table update failed */
	STAT_PROC_STATE_FULL = 4, /* proc_state update failed */
	STAT_INFLIGHT_FULL = 5,   /* inflight update failed */
	STAT_COMPAT_SYSCALL = 6,  /* 32-bit (ia32) syscall of a kind bansho reports, decoded */
	STAT_SEND_DEDUPED = 7,    /* unconnected UDP send folded into an earlier one */
	STAT_STALE_FD = 8,        /* fd_table entry no longer matched the fd */
	STAT_SAMPLE_TRUNCATED = 9,/* a write or send was larger than the sample */
	STAT_PIPE_TAINTED = 10,   /* a tainted process wrote to a pipe */
	STAT_SELF_DEDUPED = 11,   /* a repeated ptrace/process_vm_* on the sensor folded */
	STAT_TAIL_CALL_FAIL = 12, /* a sys_exit family program was not entered: the call went unexamined */
	STAT_SAMPLE_SHED = 13,    /* a sample cut to SAMPLE_SHED bytes: the ring was over half full */
	STAT_FOLDED = 14,         /* a call folded into an earlier record (counted there) */
	STAT_FOLD_FULL = 15,      /* fold_map full: the call was reported on its own */
	STAT_MAX = 16,
};

/* hdr.xflags (flags is full) */
#define EFX_COMPAT     (1 << 0) /* a 32-bit (ia32) syscall made it; exec: a 32-bit program */

struct event_hdr {
	__u8 op;
	__u8 flags;
	__u16 size;  /* bytes of the whole record, header included */
	__u16 cpu;
	__u8 xflags; /* EFX_* */
	__u8 pad;
	__u64 ktime; /* CLOCK_BOOTTIME ns */
};

/* The acting task, in every record. */
struct proc_ctx {
	__u32 pid;  /* tgid */
	__u32 tid;
	__u32 ppid; /* real parent's tgid */
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 auid;      /* audit login uid; 4294967295 when unset */
	__u32 sessionid; /* audit session id */
	__u32 sid;       /* session leader pid */
	__u32 pgid;
	__u32 tty;       /* (major << 20) | minor of the controlling tty, 0 when none */
	__u64 cgroup_id; /* cgroup v2 id */
	__u64 start_time;  /* group leader start, CLOCK_BOOTTIME ns */
	__u64 pstart_time; /* real parent's group leader start */
	__u32 mnt_ns;
	__u32 pid_ns;
	char comm[TASK_COMM_LEN];
};

struct exec_event {
	struct event_hdr hdr;
	struct proc_ctx proc;
	__u32 old_pid;    /* pid before exec (a non-leader thread exec'd) */
	__u16 filename_len;
	__u16 exe_len;
	__u16 cwd_len;
	__u16 args_len;   /* argv, NUL separated */
	__u32 argc;
	/* filename, exe path, cwd, args follow, in that order */
};

struct fork_event {
	struct event_hdr hdr;
	struct proc_ctx proc; /* the new child */
	__u32 parent_pid;
	__u32 clone_flags_hi; /* reserved */
};

struct exit_event {
	struct event_hdr hdr;
	struct proc_ctx proc;
	__u32 exit_code; /* wait(2) status: (code << 8) | signal */
	__u32 pad;
};

struct file_event {
	struct event_hdr hdr;
	struct proc_ctx proc;
	__s64 ret;
	__u32 nr;       /* syscall number */
	__s32 fd;
	__u32 flags;    /* open flags / renameat2 flags / unlinkat flags */
	__u32 mode;     /* open mode / chmod mode */
	__u32 uid;      /* chown: new owner */
	__u32 gid;
	__u64 dev;      /* object identity, when known */
	__u64 ino;
	__u64 count;    /* write: bytes asked; truncate: new length */
	__s64 pos;      /* pwrite: offset; -1 otherwise */
	__u32 i_mode;   /* object's inode mode (type and permissions) */
	__u32 i_uid;
	__u32 i_gid;
	__u16 kind;     /* enum file_ns_kind for OP_FILE_NS */
	__u16 path_len; /* resolved path (opens, fd-based) or first anchor */
	__u16 name_len; /* first user-supplied name */
	__u16 path2_len;/* second anchor */
	__u16 name2_len;/* second user-supplied name */
	__u16 sample_len;/* bytes of written data sampled, after the strings */
	/* path, name, path2, name2, then the sample, follow */
};

/* OP_SELF_SIGNAL, OP_SELF_PTRACE: the acting process is the sender or tracer. */
struct self_event {
	struct event_hdr hdr;
	struct proc_ctx proc;
	__s64 ret;        /* ptrace, process_vm_*: the result; signal: the tracepoint's result */
	__s64 request;    /* ptrace request; 0 otherwise */
	__u32 nr;         /* syscall number (ptrace, process_vm_readv/writev); 0 for signals */
	__s32 signo;      /* the signal */
	__s32 si_code;    /* SI_USER 0, SI_QUEUE -1, SI_TKILL -6, ... */
	__u32 target_pid; /* the sensor's tgid */
	__u32 target_tid; /* the thread signalled or traced */
	__u32 pad;
};

struct net_event {
	struct event_hdr hdr;
	struct proc_ctx proc;
	__s64 ret;
	__u32 nr;
	__s32 fd;
	__u16 family;   /* AF_INET, AF_INET6 */
	__u16 type;     /* SOCK_STREAM, SOCK_DGRAM */
	__u16 protocol; /* IPPROTO_TCP, IPPROTO_UDP */
	__u16 sport;    /* host order */
	__u16 dport;    /* host order */
	__u16 sample_len; /* bytes of sent data sampled, after the record */
	__u8 saddr[16];
	__u8 daddr[16];
	__u64 bytes;    /* sends: bytes asked */
};

/*
 * Folding (sensor.fold_window): the same process doing the same operation on
 * the same object with the same result class within the window is counted in
 * fold_map under the record that opened the window (the head, flagged
 * EF_FOLD_HEAD) instead of being emitted. The count reaches userspace either
 * as an OP_REPEAT record, when the next such call after the window is
 * emitted, or by the sensor's sweep of fold_map once the window is over.
 */
struct fold_key {
	__u32 tgid;
	__u8 op;
	__u8 flags;     /* the record's EF_PROTECTED/EF_TAINTED */
	__u16 nr;       /* syscall */
	__s64 result;   /* result class: 0 open/accept ok, 1 write of > 0 bytes, else ret */
	__u32 oflags;   /* open flags */
	__u32 xflags;   /* the record's EFX_COMPAT: 32-bit calls fold apart */
	__u64 dev;      /* file: dev and ino; net: (family << 16 | port) and 0 */
	__u64 ino;
	__u8 addr[16];  /* net: the peer address */
	__u64 start;    /* the process's start (CLOCK_BOOTTIME): a reused pid is another key */
};

struct fold_val {
	__u64 head_ktime; /* hdr.ktime of the head record: its window starts there */
	__u32 head_cpu;   /* hdr.cpu of the head record */
	__u32 pad;
	__u64 count;      /* calls folded since the head (64 bits: BPF atomics) */
	__u64 first;      /* CLOCK_BOOTTIME ns of the first and last folded call */
	__u64 last;
	__u64 bytes;      /* writes: bytes the folded calls wrote */
};

struct repeat_event {
	struct event_hdr hdr;
	struct fold_key key;
	struct fold_val val;
};

/* Keys and values of the maps userspace reads or writes. */
struct inode_key {
	__u64 dev; /* kernel dev_t (MAJOR << 20 | MINOR) */
	__u64 ino;
};

struct fd_key {
	__u32 tgid;
	__s32 fd;
};

#define FD_KIND_FILE 1
#define FD_KIND_SOCKET 2

struct fd_info {
	__u8 kind;
	__u8 protected_data; /* the file is protected data */
	__u16 family;
	__u16 dport;
	__u16 sport;
	__u64 dev;
	__u64 ino;
	__u8 daddr[16];
};

#define PS_TAINTED 1

struct proc_state {
	__u32 flags;
	__u32 pad;
	__u64 fds[FD_BITS / 64]; /* fds with an fd_table entry */
};

struct self_probe {
	__u64 armed;
	__u64 dev;
	__u64 ino;
};

#endif
