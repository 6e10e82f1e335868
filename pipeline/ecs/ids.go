package ecs

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// EntityID is a process's stable identifier in the style of ECS RFC 0030:
// the same for the whole life of the process, on every event, and never
// the same for another process, even when the pid is reused (the start time
// differs) or on another boot or host (the boot id and host id differ).
func EntityID(hostID string, pidNSIno uint64, bootID string, pid uint32, startBootNS uint64) string {
	var buf [16]byte
	h := sha256.New()
	h.Write([]byte(hostID))
	h.Write([]byte{0})
	h.Write([]byte(bootID))
	h.Write([]byte{0})
	binary.LittleEndian.PutUint64(buf[:8], pidNSIno)
	binary.LittleEndian.PutUint32(buf[8:12], pid)
	h.Write(buf[:12])
	binary.LittleEndian.PutUint64(buf[:8], startBootNS)
	h.Write(buf[:8])
	var sum [32]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:16])
}

// CommunityID is the Community ID v1 flow hash (seed 0) of a TCP/UDP flow:
// the same string for both directions, so events from different sensors
// about one connection can be joined.
func CommunityID(proto uint8, src, dst netip.AddrPort) string {
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	sp, dp := src.Port(), dst.Port()
	// Order the endpoints: the smaller address (then port) first.
	if c := sa.Compare(da); c > 0 || (c == 0 && sp > dp) {
		sa, da, sp, dp = da, sa, dp, sp
	}
	h := sha1.New()
	h.Write([]byte{0, 0}) // seed
	h.Write(sa.AsSlice())
	h.Write(da.AsSlice())
	h.Write([]byte{proto, 0})
	var ports [4]byte
	binary.BigEndian.PutUint16(ports[0:], sp)
	binary.BigEndian.PutUint16(ports[2:], dp)
	h.Write(ports[:])
	return "1:" + base64.StdEncoding.EncodeToString(h.Sum(nil))
}
