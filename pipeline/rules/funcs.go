package rules

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// ipIn(ip, list): the address is one of the list's addresses or inside
// one of its networks (CIDR). Entries that parse as neither never match.
func ipIn(params ...any) (any, error) {
	s, _ := params[0].(string)
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false, nil
	}
	a = a.Unmap()
	for _, e := range asStrings(params[1]) {
		if p, ok := prefix(e); ok && p.Contains(a) {
			return true, nil
		}
	}
	return false, nil
}

// prefixes parsed from list entries; lists are small and fixed per set.
var prefixCache sync.Map

func prefix(s string) (netip.Prefix, bool) {
	if v, ok := prefixCache.Load(s); ok {
		p := v.(netip.Prefix)
		return p, p.IsValid()
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		p, _ = netip.ParsePrefix(s)
		p = p.Masked()
	} else if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	}
	prefixCache.Store(s, p)
	return p, p.IsValid()
}

// under(path, dirs): the path is one of the directories or inside one
// (a directory boundary, not a string prefix: /srv/a does not hold
// /srv/ab).
func under(params ...any) (any, error) {
	p, _ := params[0].(string)
	for _, d := range asStrings(params[1]) {
		d = strings.TrimSuffix(d, "/")
		if d == "" {
			return strings.HasPrefix(p, "/"), nil
		}
		if p == d || strings.HasPrefix(p, d) && len(p) > len(d) && p[len(d)] == '/' {
			return true, nil
		}
	}
	return false, nil
}

func asStrings(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case string:
		return []string{l}
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				out = append(out, fmt.Sprint(e))
			}
		}
		return out
	}
	return nil
}
