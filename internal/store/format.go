package store

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk format. All integers are little endian.
//
// A segment file (NNNNNNNNNNNNNNNNNNNN.seg, named by its first sequence
// number) is a 64-byte header followed by records:
//
//	header:  [0:8) magic "BNSHOSEG" | [8:10) version u16 | [10] stream id |
//	         [11] 0 | [12:16) crc32c of the other 60 bytes |
//	         [16:24) first seq | [24:32) created unix ns | [32:64) prev hash
//	record:  body length u32 | crc32c(body) u32 | body
//	body:    seq u64 | time unix ns i64 | kind u8 | chain hash [32] | document
//
// The chain hash of a record is SHA-256(prev hash | seq | time | kind |
// document), where prev hash is the chain hash of the record before it; for
// the first record of a segment it is the header's prev hash, which is the
// last chain hash of the segment before (zero for the very first segment of
// a stream). Changing, removing or reordering any record therefore changes
// every later chain hash, so the newest hash (published in the health
// documents) vouches for everything before it.

const (
	segMagic    = "BNSHOSEG"
	segVersion  = 1
	segHdrSize  = 64
	recHdrSize  = 8              // length, crc
	bodyHdrSize = 8 + 8 + 1 + 32 // seq, time, kind, hash
	recOverhead = recHdrSize + bodyHdrSize
	hashSize    = sha256.Size
	// MaxDocument is the largest document the store accepts. bansho's own
	// documents are a few KiB; anything near this is a bug upstream.
	MaxDocument = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Kind classifies a document by its event.kind; it decides the stream a
// document goes to and how long it is kept.
type Kind uint8

const (
	KindEvent      Kind = 0 // event.kind "event" (and anything unknown)
	KindAlert      Kind = 1 // "alert": kept longest
	KindMetric     Kind = 2 // "metric": health documents
	KindState      Kind = 3 // "state": sensor lifecycle
	KindDeadLetter Kind = 4 // a document a sink rejected, with the reason
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindAlert:
		return "alert"
	case KindMetric:
		return "metric"
	case KindState:
		return "state"
	case KindDeadLetter:
		return "dead_letter"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func kindOf(eventKind []byte) Kind {
	switch string(eventKind) {
	case "alert":
		return KindAlert
	case "metric":
		return KindMetric
	case "state":
		return KindState
	}
	return KindEvent
}

// Stream names. Routine documents (events, health, state) go to "events",
// alerts to "alerts", and documents a sink rejected to "deadletter". Each
// stream has its own sequence numbers and hash chain.
const (
	StreamEvents     = "events"
	StreamAlerts     = "alerts"
	StreamDeadLetter = "deadletter"
)

// streamIDs number the streams in segment headers, so a segment copied into
// the wrong directory is noticed.
var streamIDs = map[string]uint8{StreamEvents: 1, StreamAlerts: 2, StreamDeadLetter: 3}

// Streams lists every stream, in eviction order: the first loses its
// oldest segments first when the store is full.
var Streams = []string{StreamEvents, StreamDeadLetter, StreamAlerts}

type segHeader struct {
	stream   uint8
	first    uint64
	created  int64
	prevHash [hashSize]byte
}

func marshalHeader(h *segHeader) []byte {
	b := make([]byte, segHdrSize)
	copy(b, segMagic)
	binary.LittleEndian.PutUint16(b[8:], segVersion)
	b[10] = h.stream
	binary.LittleEndian.PutUint64(b[16:], h.first)
	binary.LittleEndian.PutUint64(b[24:], uint64(h.created))
	copy(b[32:], h.prevHash[:])
	binary.LittleEndian.PutUint32(b[12:], headerCRC(b))
	return b
}

func headerCRC(b []byte) uint32 {
	c := crc32.Update(0, crcTable, b[:12])
	return crc32.Update(c, crcTable, b[16:segHdrSize])
}

var errBadHeader = errors.New("bad segment header")

func parseHeader(b []byte) (segHeader, error) {
	var h segHeader
	if len(b) < segHdrSize {
		return h, fmt.Errorf("%w: %d bytes, want %d", errBadHeader, len(b), segHdrSize)
	}
	if string(b[:8]) != segMagic {
		return h, fmt.Errorf("%w: not a bansho segment (magic %q)", errBadHeader, b[:8])
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != segVersion {
		return h, fmt.Errorf("%w: version %d, this bansho reads version %d", errBadHeader, v, segVersion)
	}
	if got, want := binary.LittleEndian.Uint32(b[12:]), headerCRC(b); got != want {
		return h, fmt.Errorf("%w: checksum mismatch", errBadHeader)
	}
	h.stream = b[10]
	h.first = binary.LittleEndian.Uint64(b[16:])
	h.created = int64(binary.LittleEndian.Uint64(b[24:]))
	copy(h.prevHash[:], b[32:64])
	return h, nil
}

// chainHash computes a record's chain hash.
func chainHash(prev *[hashSize]byte, seq uint64, t int64, kind Kind, doc []byte) [hashSize]byte {
	var hdr [hashSize + 17]byte
	copy(hdr[:], prev[:])
	binary.LittleEndian.PutUint64(hdr[hashSize:], seq)
	binary.LittleEndian.PutUint64(hdr[hashSize+8:], uint64(t))
	hdr[hashSize+16] = byte(kind)
	h := sha256.New()
	h.Write(hdr[:])
	h.Write(doc)
	var out [hashSize]byte
	h.Sum(out[:0])
	return out
}

// appendRecord appends one record to dst.
func appendRecord(dst []byte, seq uint64, t int64, kind Kind, hash *[hashSize]byte, doc []byte) []byte {
	n := len(dst)
	bodyLen := bodyHdrSize + len(doc)
	dst = append(dst, make([]byte, recOverhead)...)
	binary.LittleEndian.PutUint32(dst[n:], uint32(bodyLen))
	body := dst[n+recHdrSize:]
	binary.LittleEndian.PutUint64(body[0:], seq)
	binary.LittleEndian.PutUint64(body[8:], uint64(t))
	body[16] = byte(kind)
	copy(body[17:], hash[:])
	dst = append(dst, doc...)
	binary.LittleEndian.PutUint32(dst[n+4:], crc32.Checksum(dst[n+recHdrSize:], crcTable))
	return dst
}

// rawRecord is a record as read from a segment.
type rawRecord struct {
	seq  uint64
	time int64
	kind Kind
	hash [hashSize]byte
	doc  []byte // aliases the read buffer
}

var (
	errShort   = errors.New("incomplete record")
	errCRC     = errors.New("checksum mismatch")
	errLength  = errors.New("impossible record length")
	errSeq     = errors.New("sequence number out of order")
	errAltered = errors.New("chain hash mismatch: the record was altered")
)

// parseRecordHeader reads the length and CRC of the record at b; it
// returns the record's total size.
func parseRecordHeader(b []byte) (size int, crc uint32, err error) {
	if len(b) < recHdrSize {
		return 0, 0, errShort
	}
	n := binary.LittleEndian.Uint32(b)
	if n < bodyHdrSize || n > maxFrameBody {
		return 0, 0, fmt.Errorf("%w: %d", errLength, n)
	}
	return recHdrSize + int(n), binary.LittleEndian.Uint32(b[4:]), nil
}

// parseRecord decodes a whole record (b holds at least its size) and
// checks its CRC.
func parseRecord(b []byte, size int, crc uint32) (rawRecord, error) {
	var r rawRecord
	body := b[recHdrSize:size]
	if crc32.Checksum(body, crcTable) != crc {
		// Still decode what can be decoded, so the caller can name it.
		r.seq = binary.LittleEndian.Uint64(body[0:])
		return r, errCRC
	}
	r.seq = binary.LittleEndian.Uint64(body[0:])
	r.time = int64(binary.LittleEndian.Uint64(body[8:]))
	r.kind = Kind(body[16])
	copy(r.hash[:], body[17:17+hashSize])
	r.doc = body[bodyHdrSize:]
	return r, nil
}
