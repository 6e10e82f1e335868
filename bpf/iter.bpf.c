//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Exact process start times for seeding the process table
 * (pipeline/proctree, ExactStarts): /proc gives them to the clock tick
 * only, the kernel records carry start_boottime in ns, and the entity id
 * is a hash of it.
 *
 * A task iterator: for every thread-group leader, one fixed record to the
 * iterator's seq file. Fields are read with CO-RE relocations, so the
 * object loads on any kernel with BTF from 5.10 on (iter/task is 5.8+).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* Keep in sync with pipeline/proctree/iter_linux.go (16 bytes). */
struct task_start {
	__u32 tgid;
	__u32 pad;
	__u64 start_boottime; /* CLOCK_BOOTTIME ns */
};

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("iter/task")
int task_starts(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct task_start rec = {};

	if (!task)
		return 0;
	rec.tgid = BPF_CORE_READ(task, tgid);
	if (BPF_CORE_READ(task, pid) != rec.tgid)
		return 0; /* a thread: only the leader */
	rec.start_boottime = BPF_CORE_READ(task, start_boottime);
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}
