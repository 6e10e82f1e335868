package enrich

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/bansho-sec/bansho/internal/testutil"
)

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Two network namespaces joined by a veth pair, made by the test: in A,
// 10.251.0.1/24 and fd51::1/64 on the link, 10.252.0.0/16 and the default
// route through B. Destinations are classified against A's table, and an
// address added later is followed through the netlink subscription.
func TestClassifyInNetworkNamespaces(t *testing.T) {
	testutil.RequireBPF(t) // root: namespaces and links
	a := fmt.Sprintf("bansho-ea-%d", os.Getpid())
	b := fmt.Sprintf("bansho-eb-%d", os.Getpid())
	sh(t, "netns", "add", a)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", a).Run() })
	sh(t, "netns", "add", b)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", b).Run() })
	// Link names unique to this run: created in this namespace first.
	va, vb := fmt.Sprintf("bsa%d", os.Getpid()%100000), fmt.Sprintf("bsb%d", os.Getpid()%100000)
	sh(t, "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b)
	sh(t, "-n", a, "link", "set", "lo", "up")
	sh(t, "-n", a, "addr", "add", "10.251.0.1/24", "dev", va)
	sh(t, "-n", a, "-6", "addr", "add", "fd51::1/64", "dev", va, "nodad")
	sh(t, "-n", a, "link", "set", va, "up")
	sh(t, "-n", b, "addr", "add", "10.251.0.2/24", "dev", vb)
	sh(t, "-n", b, "link", "set", vb, "up")
	sh(t, "-n", a, "route", "add", "10.252.0.0/16", "via", "10.251.0.2")
	sh(t, "-n", a, "route", "add", "default", "via", "10.251.0.2")

	h, err := netns.GetFromName(a)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	n, err := NewNet(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	gotChange := make(chan []string, 8)
	n.OnChange = func(ips []string) { gotChange <- ips }
	for dst, want := range map[string]string{
		"127.0.0.1":      DestLoopback,
		"::1":            DestLoopback,
		"10.251.0.1":     DestHost,
		"fd51::1":        DestHost,
		"0.0.0.0":        DestHost,
		"10.251.0.2":     DestSubnet,
		"10.251.0.77":    DestSubnet,
		"fd51::9":        DestSubnet,
		"10.252.3.4":     DestPrivate,
		"172.16.0.1":     DestPrivate,
		"100.64.1.1":     DestPrivate,
		"8.8.8.8":        DestInternet,
		"::ffff:8.8.4.4": DestInternet,
		"10.253.0.7":     DestPrivate,
	} {
		if got := n.Classify(netip.MustParseAddr(dst)); got != want {
			t.Errorf("%s: %s, want %s", dst, got, want)
		}
	}
	if ips := n.HostIPs(); !slices.Contains(ips, "10.251.0.1") || slices.Contains(ips, "127.0.0.1") {
		t.Errorf("host ips %v", ips)
	}

	done := make(chan struct{})
	defer close(done)
	if err := n.Watch(done); err != nil {
		t.Fatal(err)
	}
	sh(t, "-n", a, "addr", "add", "10.253.0.1/24", "dev", va)
	// Earlier changes (the veth's link-local address coming up) may be
	// reported first: wait for the one that holds the new address.
	deadline := time.After(5 * time.Second)
	for followed := false; !followed; {
		select {
		case ips := <-gotChange:
			followed = slices.Contains(ips, "10.253.0.1")
		case <-deadline:
			t.Fatal("the new address was not followed")
		}
	}
	if got := n.Classify(netip.MustParseAddr("10.253.0.7")); got != DestSubnet {
		t.Errorf("10.253.0.7 after the change: %s", got)
	}
}

// The machine's own table: its addresses are the host, their networks the
// subnet, loopback is loopback.
func TestClassifyHostTable(t *testing.T) {
	testutil.RequireBPF(t)
	n, err := NewNet(netns.None(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.Classify(netip.MustParseAddr("127.0.0.53")); got != DestLoopback {
		t.Errorf("127.0.0.53: %s", got)
	}
	if len(n.HostIPs()) == 0 {
		t.Fatal("no host addresses")
	}
	for _, s := range n.HostIPs() {
		ip := netip.MustParseAddr(s)
		if got := n.Classify(ip); got != DestHost {
			t.Errorf("own address %s: %s", s, got)
		}
	}
	if got := n.Classify(netip.MustParseAddr("1.1.1.1")); got != DestInternet {
		t.Errorf("1.1.1.1: %s", got)
	}
}
