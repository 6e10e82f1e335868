/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Folding of repeated identical calls (sensor.fold_window; see struct
 * fold_key in bansho.h and docs/events.md).
 *
 * A hook that may fold builds the call's fold_key before it builds its
 * record and asks fold_try: inside the window of an earlier head, the call
 * is only counted, and the hook returns without emitting anything. Otherwise
 * the hook builds its record and calls fold_head, which reports what the
 * previous window folded (an OP_REPEAT record) and makes this record the
 * new head. Windows of keys that see no further call are closed by the
 * sensor's sweep of fold_map, so no count waits longer than about a window.
 *
 * Callers never fold a record that carries a content sample, an in-kernel
 * copy (its content is read back in userspace), or a call that changed the
 * process's taint: those are always emitted. The first call of a key always
 * is, since it finds no entry.
 */
#ifndef BANSHO_FOLD_H
#define BANSHO_FOLD_H

const volatile __u64 fold_window_ns = 0; /* 0: no folding */

/*
 * A plain hash, not an LRU: an entry evicted under pressure would take its
 * count with it. When it is full, calls are emitted on their own and
 * counted (STAT_FOLD_FULL); the sweep frees expired entries.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct fold_key);
	__type(value, struct fold_val);
} fold_map SEC(".maps");

/* The acting process's start, so a pid reused within a window is not
 * taken for the process that had it. */
static __always_inline void fold_key_proc(struct fold_key *k)
{
	struct task_struct *task = bpf_get_current_task_btf();

	k->start = task->group_leader->start_boottime;
}

/* Count the call in its key's open window. 1: folded, emit nothing. */
static __always_inline int fold_try(struct fold_key *k, long bytes)
{
	struct fold_val *v;
	__u64 now;

	if (!fold_window_ns)
		return 0;
	fold_key_proc(k);
	v = bpf_map_lookup_elem(&fold_map, k);
	if (!v)
		return 0;
	now = bpf_ktime_get_boot_ns();
	if (now - v->head_ktime >= fold_window_ns)
		return 0;
	if (__sync_fetch_and_add(&v->count, 1) == 0)
		v->first = now;
	v->last = now;
	if (bytes > 0)
		__sync_fetch_and_add(&v->bytes, bytes);
	stat_inc(STAT_FOLDED);
	return 1;
}

/* Report a closed window's folded calls. Not inlined: its record lives on
 * this function's stack, not in the scratch buffer the caller is using. */
static __noinline void fold_report(struct fold_key *k, struct fold_val *v, __u64 count, __u64 bytes)
{
	struct repeat_event r = {};

	fill_hdr(&r.hdr, OP_REPEAT);
	r.key = *k;
	r.val.head_ktime = v->head_ktime;
	r.val.head_cpu = v->head_cpu;
	r.val.count = count;
	r.val.first = v->first;
	r.val.last = v->last;
	r.val.bytes = bytes;
	submit(&r, sizeof(r));
}

/*
 * The record hdr is about to be emitted for k outside any open window: flag
 * it as the head of a new window and report the previous one. The old
 * window's count is taken with an exchange, so a call of another thread
 * folding concurrently is either in this report or in the new window.
 */
static __always_inline void fold_head(struct fold_key *k, struct event_hdr *hdr)
{
	struct fold_val *v, nv = {};

	if (!fold_window_ns)
		return;
	fold_key_proc(k);
	v = bpf_map_lookup_elem(&fold_map, k);
	if (v) {
		__u64 n = __sync_lock_test_and_set(&v->count, 0);
		__u64 bytes = __sync_lock_test_and_set(&v->bytes, 0);
		if (n)
			fold_report(k, v, n, bytes);
		v->head_ktime = hdr->ktime;
		v->head_cpu = hdr->cpu;
		hdr->flags |= EF_FOLD_HEAD;
		return;
	}
	nv.head_ktime = hdr->ktime;
	nv.head_cpu = hdr->cpu;
	long err = bpf_map_update_elem(&fold_map, k, &nv, BPF_NOEXIST);
	if (err < 0) {
		/* -EEXIST: another thread of the process just made its head. */
		if (err != -17)
			stat_inc(STAT_FOLD_FULL);
		return;
	}
	hdr->flags |= EF_FOLD_HEAD;
}

#endif
