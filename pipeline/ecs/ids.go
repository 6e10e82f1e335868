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
// differs), on another boot or another host (the boot id and host id
// differ). It is the first 16 bytes of SHA-256 over the host id, the boot
// id, the pid namespace inode, the pid and the start time (CLOCK_BOOTTIME
// ns), base64 URL-encoded without padding: 22 characters.
func EntityID(hostID string, pidNSIno uint64, bootID string, pid uint32, startBootNS uint64) string {
	return string(appendEntityID(nil, hostID, pidNSIno, bootID, pid, startBootNS))
}

// entityIDLen is the length of an entity id: 16 bytes in unpadded base64.
const entityIDLen = 22

func appendEntityID(dst []byte, hostID string, pidNSIno uint64, bootID string, pid uint32, startBootNS uint64) []byte {
	// machine-id (32) and boot_id (36) fit the array: no allocation.
	var a [128]byte
	in := append(a[:0], hostID...)
	in = append(in, 0)
	in = append(in, bootID...)
	in = append(in, 0)
	in = binary.LittleEndian.AppendUint64(in, pidNSIno)
	in = binary.LittleEndian.AppendUint32(in, pid)
	in = binary.LittleEndian.AppendUint64(in, startBootNS)
	sum := sha256.Sum256(in)
	return base64.RawURLEncoding.AppendEncode(dst, sum[:16])
}

// CommunityID is the Community ID v1 flow hash (seed 0) of a TCP or UDP
// flow: the same string for both directions, so this sensor's events join
// those of network sensors (Zeek, Suricata, Packetbeat) about the same
// connection.
func CommunityID(proto uint8, src, dst netip.AddrPort) string {
	return string(appendCommunityID(nil, proto, src, dst))
}

// appendCommunityID implements Community ID v1: "1:" and the base64 of
// SHA-1 over seed (2 bytes, big endian), the two addresses, the protocol,
// a zero byte and the two ports, the endpoints in a canonical order (the
// smaller address first; on equal addresses, the smaller port first).
func appendCommunityID(dst []byte, proto uint8, src, dst2 netip.AddrPort) []byte {
	sa, da := src.Addr().Unmap(), dst2.Addr().Unmap()
	sp, dp := src.Port(), dst2.Port()
	if c := sa.Compare(da); c > 0 || (c == 0 && sp > dp) {
		sa, da, sp, dp = da, sa, dp, sp
	}
	var a [2 + 16 + 16 + 2 + 4]byte
	in := append(a[:0], 0, 0) // seed 0
	in = appendAddr(in, sa)
	in = appendAddr(in, da)
	in = append(in, proto, 0)
	in = binary.BigEndian.AppendUint16(in, sp)
	in = binary.BigEndian.AppendUint16(in, dp)
	sum := sha1.Sum(in)
	dst = append(dst, "1:"...)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}
