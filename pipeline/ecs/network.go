package ecs

import (
	"net/netip"

	"github.com/bansho-sec/bansho/internal/event"
)

func netMeta(ev *event.Event) meta {
	m := meta{kind: "event", category: `["network"]`, dataset: "bansho.network",
		types: `["connection","start"]`, action: "connect"}
	switch ev.Op {
	case event.OpNetAccept:
		m.action = "accept"
	case event.OpNetSend, event.OpTLSWrite:
		m.action, m.types = "send", `["connection","info"]`
	}
	if n := ev.Net; n != nil && ev.Op != event.OpTLSWrite {
		// EINPROGRESS: a non-blocking connect under way, not a failure.
		// SSL_write is seen at entry: no result to report.
		m.outcome = "success"
		if n.Ret < 0 && n.Ret != -115 {
			m.outcome = "failure"
		}
	}
	return m
}

// netFields writes source, destination and network. The kernel reports
// the local end as Src; for an accepted connection the peer started it,
// so it is the ECS source and this host the destination.
func netFields(o *obj, ev *event.Event) {
	n := ev.Net
	src, dst := n.Src, n.Dst
	direction := "egress"
	if ev.Op == event.OpNetAccept {
		src, dst = dst, src
		direction = "ingress"
	}
	endpoint(o, "source", src)
	endpoint(o, "destination", dst)

	o.section("network")
	transport := ""
	switch n.Protocol {
	case 6:
		transport = "tcp"
	case 17:
		transport = "udp"
	}
	o.strNE("transport", transport)
	if n.Protocol != 0 {
		o.ustr("iana_number", uint64(n.Protocol))
	}
	a := dst.Addr()
	if !a.IsValid() {
		a = src.Addr()
	}
	switch {
	case a.IsValid() && a.Is4(), !a.IsValid() && n.Family == 2:
		o.str("type", "ipv4")
	case a.IsValid(), n.Family == 10:
		o.str("type", "ipv6")
	}
	o.str("direction", direction)
	if ev.Op == event.OpTLSWrite {
		o.str("protocol", "tls")
	}
	if en := ev.Enriched; en != nil && en.CommunityID != "" {
		o.str("community_id", en.CommunityID) // computed by the enrichment stage
	} else if transport != "" && src.Addr().IsValid() && dst.Addr().IsValid() {
		o.key("community_id")
		o.b = append(o.b, '"')
		o.b = appendCommunityID(o.b, uint8(n.Protocol), src, dst)
		o.b = append(o.b, '"')
	}
	o.close()
}

func endpoint(o *obj, k string, ap netip.AddrPort) {
	if !ap.Addr().IsValid() {
		return
	}
	o.section(k)
	o.key("ip")
	o.b = append(o.b, '"')
	o.b = ap.Addr().AppendTo(o.b)
	o.b = append(o.b, '"')
	o.uint("port", uint64(ap.Port()))
	o.close()
}
