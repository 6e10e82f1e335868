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

/*
 * A fold key and value are built in this per-CPU slot, not on the stack:
 * the handlers that fold also build their record, and the two did not fit
 * in one 512-byte frame together.
 */
struct fold_slot {
	struct fold_key key;
	struct fold_val val;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fold_slot);
} fold_slots SEC(".maps");

/* A zeroed fold key in the slot with its common fields set, or NULL. */
static __always_inline struct fold_key *fold_key_new(__u32 tgid, __u8 op, long nr, __u32 xflags)
{
	__u32 zero = 0;
	struct fold_slot *sl = bpf_map_lookup_elem(&fold_slots, &zero);

	if (!sl)
		return NULL;
	__builtin_memset(&sl->key, 0, sizeof(sl->key));
	sl->key.tgid = tgid;
	sl->key.op = op;
	sl->key.nr = nr;
	sl->key.xflags = xflags;
	return &sl->key;
}

/* The acting process's start, so a pid reused within a window is not
 * taken for the process that had it. */
static __always_inline void fold_key_proc(struct fold_key *k)
{
	struct task_struct *task = current_task();

	k->start = KR(task, group_leader, start_boottime);
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
#ifdef BANSHO_PORTABLE
	if (v->count == 0) /* racy, as a window's first time may be */
		v->first = now;
	__sync_fetch_and_add(&v->count, 1);
#else
	if (__sync_fetch_and_add(&v->count, 1) == 0)
		v->first = now;
#endif
	v->last = now;
	if (bytes > 0)
		__sync_fetch_and_add(&v->bytes, bytes);
	stat_inc(STAT_FOLDED);
	return 1;
}

/* A repeat record is built here, not in the scratch buffer the caller is
 * using, nor on the stack, which the caller's own record nearly fills. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct repeat_event);
} repeat_scratch SEC(".maps");

/* Report a closed window's folded calls. */
static __always_inline void fold_report(struct fold_key *k, struct fold_val *v, __u64 count, __u64 bytes)
{
	__u32 zero = 0;
	struct repeat_event *r = bpf_map_lookup_elem(&repeat_scratch, &zero);

	if (!r)
		return;
	fill_hdr(&r->hdr, OP_REPEAT);
	r->key = *k;
	r->val.head_ktime = v->head_ktime;
	r->val.head_cpu = v->head_cpu;
	r->val.count = count;
	r->val.first = v->first;
	r->val.last = v->last;
	r->val.bytes = bytes;
	submit(r, sizeof(*r));
}

/*
 * The record hdr is about to be emitted for k outside any open window: flag
 * it as the head of a new window and report the previous one. The old
 * window's count is taken with an exchange, so a call of another thread
 * folding concurrently is either in this report or in the new window.
 */
static __always_inline void fold_head(struct fold_key *k, struct event_hdr *hdr)
{
	struct fold_val *v, *nv;
	__u32 zero = 0;
	struct fold_slot *sl;

	if (!fold_window_ns)
		return;
	fold_key_proc(k);
	v = bpf_map_lookup_elem(&fold_map, k);
	if (v) {
#ifdef BANSHO_PORTABLE
		/* No exchange before 5.12: take what is there and subtract it;
		 * an increment in between stays for the new window. */
		__u64 n = v->count;
		__u64 bytes = v->bytes;
		if (n)
			__sync_fetch_and_add(&v->count, -n);
		if (bytes)
			__sync_fetch_and_add(&v->bytes, -bytes);
#else
		__u64 n = __sync_lock_test_and_set(&v->count, 0);
		__u64 bytes = __sync_lock_test_and_set(&v->bytes, 0);
#endif
		if (n)
			fold_report(k, v, n, bytes);
		v->head_ktime = hdr->ktime;
		v->head_cpu = hdr->cpu;
		hdr->flags |= EF_FOLD_HEAD;
		return;
	}
	sl = bpf_map_lookup_elem(&fold_slots, &zero);
	if (!sl)
		return;
	nv = &sl->val;
	__builtin_memset(nv, 0, sizeof(*nv));
	nv->head_ktime = hdr->ktime;
	nv->head_cpu = hdr->cpu;
	long err = bpf_map_update_elem(&fold_map, k, nv, BPF_NOEXIST);
	if (err < 0) {
		/* -EEXIST: another thread of the process just made its head. */
		if (err != -17)
			stat_inc(STAT_FOLD_FULL);
		return;
	}
	hdr->flags |= EF_FOLD_HEAD;
}

#endif
