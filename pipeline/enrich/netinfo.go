package enrich

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Destination classes (bansho.network.destination_class).
const (
	DestLoopback = "loopback" // 127.0.0.0/8, ::1
	DestHost     = "host"     // an address of this host
	DestSubnet   = "subnet"   // on a directly connected network (no gateway)
	DestPrivate  = "private"  // RFC 1918, RFC 6598, link-local, ULA: through a gateway
	DestInternet = "internet" // anything else
)

// route is one unicast route of the main table.
type route struct {
	dst     netip.Prefix
	gateway bool // through a router; false: the destination is on the link
	local   bool // RTN_LOCAL
}

// netState is one snapshot of the addresses and routes.
type netState struct {
	local   map[netip.Addr]struct{}
	routes  []route // longest prefix first
	hostIPs []string
}

// Net follows this host's addresses and routes (from netlink, updated on
// address and route changes) and classifies connection destinations
// against them as they were when the connection happened.
type Net struct {
	ns     netns.NsHandle // netns.None(): the sensor's own
	handle *netlink.Handle
	log    *slog.Logger
	cur    atomic.Pointer[netState]
	mu     sync.Mutex // serialises reloads
	// OnChange, when set, is called with the new host addresses after a
	// reload (to update host.ip).
	OnChange func(ips []string)

	Reloads      atomic.Uint64
	ReloadErrors atomic.Uint64
}

// NewNet reads the addresses and routes of the network namespace ns
// (netns.None() for the sensor's own).
func NewNet(ns netns.NsHandle, log *slog.Logger) (*Net, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("enrich: netlink: %w", err)
	}
	n := &Net{ns: ns, handle: h, log: log}
	if err := n.Reload(); err != nil {
		h.Close()
		return nil, err
	}
	return n, nil
}

// Close releases the netlink socket.
func (n *Net) Close() { n.handle.Close() }

// Reload re-reads addresses and routes.
func (n *Net) Reload() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.Reloads.Add(1)
	addrs, err := n.handle.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		n.ReloadErrors.Add(1)
		return fmt.Errorf("enrich: list addresses: %w", err)
	}
	routes, err := n.handle.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		n.ReloadErrors.Add(1)
		return fmt.Errorf("enrich: list routes: %w", err)
	}
	st := &netState{local: make(map[netip.Addr]struct{}, len(addrs))}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		st.local[ip] = struct{}{}
		if !ip.IsLoopback() {
			st.hostIPs = append(st.hostIPs, ip.String())
		}
		// The address's own prefix is on the link even where no route is
		// listed for it (a /32 with a peer, for instance).
		if ones, _ := a.Mask.Size(); a.Mask != nil && ones > 0 && a.Peer == nil {
			st.routes = append(st.routes, route{dst: netip.PrefixFrom(ip, ones).Masked()})
		}
	}
	for _, r := range routes {
		var pfx netip.Prefix
		if r.Dst == nil {
			if r.Family == unix.AF_INET6 {
				pfx = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
			} else {
				pfx = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
			}
		} else {
			ip, ok := netip.AddrFromSlice(r.Dst.IP)
			if !ok {
				continue
			}
			ones, _ := r.Dst.Mask.Size()
			pfx = netip.PrefixFrom(ip.Unmap(), ones).Masked()
		}
		gw := r.Gw != nil || len(r.MultiPath) > 0 || r.Via != nil
		switch r.Type {
		case unix.RTN_UNICAST, unix.RTN_LOCAL:
		default:
			continue // blackhole, unreachable, prohibit, broadcast...
		}
		st.routes = append(st.routes, route{dst: pfx, gateway: gw, local: r.Type == unix.RTN_LOCAL})
	}
	sort.SliceStable(st.routes, func(i, j int) bool { return st.routes[i].dst.Bits() > st.routes[j].dst.Bits() })
	old := n.cur.Swap(st)
	if n.OnChange != nil && (old == nil || !equalStrings(old.hostIPs, st.hostIPs)) {
		n.OnChange(st.hostIPs)
	}
	return nil
}

// HostIPs are the host's addresses, loopback excepted.
func (n *Net) HostIPs() []string {
	if st := n.cur.Load(); st != nil {
		return st.hostIPs
	}
	return nil
}

// Classify says what kind of place dst is, from the routing table as it
// is now: loopback, host, subnet, private or internet.
func (n *Net) Classify(dst netip.Addr) string {
	dst = dst.Unmap()
	if !dst.IsValid() {
		return ""
	}
	if dst.IsLoopback() {
		return DestLoopback
	}
	st := n.cur.Load()
	if dst.IsUnspecified() {
		return DestHost // connect(0.0.0.0) reaches this host
	}
	if st != nil {
		if _, ok := st.local[dst]; ok {
			return DestHost
		}
		for i := range st.routes {
			r := &st.routes[i]
			if !r.dst.Contains(dst) {
				continue
			}
			if r.local {
				return DestHost
			}
			if !r.gateway && r.dst.Bits() > 0 {
				return DestSubnet
			}
			break
		}
	}
	if isPrivate(dst) {
		return DestPrivate
	}
	return DestInternet
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func isPrivate(a netip.Addr) bool {
	return a.IsPrivate() || a.IsLinkLocalUnicast() || cgnat.Contains(a)
}

// Watch follows address and route changes until done is closed: every
// change reloads the snapshot (changes are rare; a full reload is simple
// and cannot drift). A subscription that fails (its socket overflowed in
// a route storm) is made again after a second, with a reload, so changes
// are never lost for good.
func (n *Net) Watch(done <-chan struct{}) error {
	achan, rchan, gen, err := n.subscribe(done)
	if err != nil {
		return err
	}
	go func() {
		for {
			select {
			case <-done:
				return
			case _, ok := <-achan:
				if !ok {
					achan, rchan, gen = n.resubscribe(done, gen)
					if achan == nil {
						return
					}
					continue
				}
			case _, ok := <-rchan:
				if !ok {
					achan, rchan, gen = n.resubscribe(done, gen)
					if achan == nil {
						return
					}
					continue
				}
			}
			// Fold a burst of updates into one reload.
			for drained := false; !drained; {
				select {
				case <-achan:
				case <-rchan:
				default:
					drained = true
				}
			}
			if err := n.Reload(); err != nil && n.log != nil {
				n.log.Warn("reload routes", "error", err)
			}
		}
	}()
	return nil
}

// subscribe opens the address and route subscriptions; closing the
// returned stop channel (or done) ends both.
func (n *Net) subscribe(done <-chan struct{}) (chan netlink.AddrUpdate, chan netlink.RouteUpdate, chan struct{}, error) {
	// stop is closed by resubscribe only; gen by this goroutine only.
	stop, gen := make(chan struct{}), make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-stop:
		}
		close(gen)
	}()
	achan := make(chan netlink.AddrUpdate, 64)
	rchan := make(chan netlink.RouteUpdate, 256)
	errf := func(err error) {
		select {
		case <-gen:
			return // the socket closing at shutdown or resubscription
		default:
		}
		n.ReloadErrors.Add(1)
		if n.log != nil {
			n.log.Warn("netlink subscription", "error", err)
		}
	}
	ns := n.ns
	if err := netlink.AddrSubscribeWithOptions(achan, gen, netlink.AddrSubscribeOptions{Namespace: &ns, ErrorCallback: errf}); err != nil {
		close(stop)
		return nil, nil, nil, fmt.Errorf("enrich: subscribe to addresses: %w", err)
	}
	if err := netlink.RouteSubscribeWithOptions(rchan, gen, netlink.RouteSubscribeOptions{Namespace: &ns, ErrorCallback: errf}); err != nil {
		close(stop)
		return nil, nil, nil, fmt.Errorf("enrich: subscribe to routes: %w", err)
	}
	return achan, rchan, stop, nil
}

// resubscribe ends the failed generation (closing its stop channel,
// which only this does) and subscribes again (every second until it works
// or done is closed); nil channels: done.
func (n *Net) resubscribe(done <-chan struct{}, stop chan struct{}) (chan netlink.AddrUpdate, chan netlink.RouteUpdate, chan struct{}) {
	close(stop)
	for {
		select {
		case <-done:
			return nil, nil, nil
		case <-time.After(time.Second):
		}
		_ = n.Reload()
		a, r, gen, err := n.subscribe(done)
		if err == nil {
			return a, r, gen
		}
		n.ReloadErrors.Add(1)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
