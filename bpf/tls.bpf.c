//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * TLS plaintext: uprobes on libssl's SSL_write and SSL_write_ex. The
 * arguments (ssl, buf, num) are the same for both; the plaintext is at buf
 * on entry, before it is encrypted. Only tainted processes are sampled.
 * (BPF_KPROBE reads the parameters from pt_regs, as a uprobe needs too;
 * libbpf 1.1 has no BPF_UPROBE.)
 */

SEC("uprobe")
int BPF_KPROBE(on_ssl_write, void *ssl, const void *buf, int num)
{
	struct task_struct *task = current_task();
	__u32 tgid = KR(task, tgid);
	struct proc_state *ps;
	struct scratch *s;
	struct net_event *e;

	if (self_tgid && tgid == self_tgid)
		return 0;
	ps = proc_state_get(tgid);
	if (!ps || !(ps->flags & PS_TAINTED) || num <= 0)
		return 0;
	s = get_scratch();
	if (!s)
		return 0;
	e = (void *)s->buf;
	net_event_init(e, task, OP_TLS_WRITE, 0, num, -1);
	e->hdr.flags |= EF_TAINTED;
	e->bytes = num;
	e->sample_len = put_sample(&s->buf[sizeof(*e)], buf, num, &e->hdr.flags);
	submit(e, sizeof(*e) + e->sample_len);
	return 0;
}
