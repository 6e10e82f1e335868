package store

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"strings"
)

// A bloom filter per sealed segment (NNNN.bloom) over every index key of
// its records lets a query skip a segment that cannot hold what it looks
// for without reading the segment's index: a timeline over weeks reads
// the indexes of the few segments where the file, user or processes
// appear. Derived data like the index: missing or damaged, it is ignored
// (the index is read), never trusted to leave something out.
//
//	file: magic "BNSHOBLM" | version u16 | 0 u16 | bytes u32 | first seq u64 | bits | crc32c u32
const (
	bloomMagic  = "BNSHOBLM"
	bloomHdr    = 24
	bloomHashes = 6
)

type bloom []byte

// newBloom sizes a filter for a segment of segBytes: about 10 bits per
// distinct key at bansho's rate of keys per byte, from 1 KiB to 64 KiB.
func newBloom(segBytes int64) bloom {
	n := int64(1 << 10)
	for n < segBytes/1024 && n < 64<<10 {
		n <<= 1
	}
	return make(bloom, n)
}

func bloomBits(k uint64) (uint64, uint64) {
	h1 := k * 0x9E3779B97F4A7C15
	h2 := (k^(k>>29))*0xBF58476D1CE4E5B9 | 1
	return h1, h2
}

func (b bloom) add(k uint64) {
	m := uint64(len(b))*8 - 1 // len is a power of two
	h1, h2 := bloomBits(k)
	for i := uint64(0); i < bloomHashes; i++ {
		bit := (h1 + i*h2) & m
		b[bit>>3] |= 1 << (bit & 7)
	}
}

func (b bloom) may(k uint64) bool {
	m := uint64(len(b))*8 - 1
	h1, h2 := bloomBits(k)
	for i := uint64(0); i < bloomHashes; i++ {
		bit := (h1 + i*h2) & m
		if b[bit>>3]&(1<<(bit&7)) == 0 {
			return false
		}
	}
	return true
}

// addEntries adds the keys of index entries.
func (b bloom) addEntries(entries []byte) {
	walkIdxBytes(entries, func(_ int64, _ int64, _ Kind, keys []uint64) error {
		for _, k := range keys {
			b.add(k)
		}
		return nil
	})
}

func (s *segment) bloomPath() string { return strings.TrimSuffix(s.path, ".seg") + ".bloom" }

// writeBloom writes seg's filter and returns its size on disk.
func writeBloom(seg *segment, b bloom) (int64, error) {
	out := make([]byte, bloomHdr, bloomHdr+len(b)+4)
	copy(out, bloomMagic)
	binary.LittleEndian.PutUint16(out[8:], segVersion)
	binary.LittleEndian.PutUint32(out[12:], uint32(len(b)))
	binary.LittleEndian.PutUint64(out[16:], seg.first)
	out = append(out, b...)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crcTable))
	tmp := seg.bloomPath() + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		os.Remove(tmp)
		return 0, err
	}
	if err := os.Rename(tmp, seg.bloomPath()); err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return int64(len(out)), nil
}

// readBloom returns seg's filter, or nil when there is none to trust.
func readBloom(seg *segment) bloom {
	b, err := os.ReadFile(seg.bloomPath())
	if err != nil || len(b) < bloomHdr+4 || string(b[:8]) != bloomMagic ||
		binary.LittleEndian.Uint64(b[16:]) != seg.first {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(b[12:]))
	if n == 0 || n&(n-1) != 0 || len(b) != bloomHdr+n+4 ||
		crc32.Checksum(b[:bloomHdr+n], crcTable) != binary.LittleEndian.Uint32(b[bloomHdr+n:]) {
		return nil
	}
	return bloom(b[bloomHdr : bloomHdr+n])
}

// bloomSize is the size of seg's filter file, 0 when there is none.
func bloomSize(seg *segment) int64 {
	fi, err := os.Stat(seg.bloomPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}
