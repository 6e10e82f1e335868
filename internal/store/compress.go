package store

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Batch compression. The records of one write (a pipeline batch, one
// stream) are stored as one frame: a record of kind kindBatch whose
// document is the zstd compression of the records themselves, each with
// its own length, checksum and chain hash. bansho's documents repeat
// most of their bytes (host, agent, process sections), so a batch
// compresses about ten times where one document alone would halve; the
// chain, checksums and sequence numbers of the records inside are
// unchanged and checked as before, the frame adds a checksum over the
// compressed bytes. A damaged frame loses the records of that one write.
//
//	frame body: last seq | max time | kindBatch | last chain hash |
//	            first seq u64 | count u32 | zstd(records)
//
// Index entries of the records in a frame all hold the frame's offset.

const (
	kindBatch Kind = 0x80
	// maxFrameRaw bounds the records of one frame, so a frame stays
	// within a record's length limit whatever the documents.
	maxFrameRaw   = 1 << 20
	frameHdrExtra = 8 + 4
	maxFrameBody  = bodyHdrSize + frameHdrExtra + 2*maxFrameRaw
)

// dictV1 primes the compressor with typical bansho documents (field
// names, section shapes), so even a write of one document compresses
// about ten times. Frames name the dictionary they were compressed with
// (zstd's dictionary id); dict/v1.json never changes (a test pins it).
//
//go:embed dict/v1.json
var dictV1 []byte

const dictV1ID = 1

var (
	decoderOnce sync.Once
	decoder     *zstd.Decoder
	decoderErr  error
)

func zstdDecoder() (*zstd.Decoder, error) {
	decoderOnce.Do(func() {
		decoder, decoderErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(4),
			zstd.WithDecoderMaxMemory(4*maxFrameRaw), zstd.WithDecoderMaxWindow(4*maxFrameRaw),
			zstd.WithDecoderDictRaw(dictV1ID, dictV1))
	})
	return decoder, decoderErr
}

func newEncoder() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(false), zstd.WithEncoderDictRaw(dictV1ID, dictV1))
}

// compressStaged replaces a stream's staged records with frames and
// points their index entries at the frames. Records that do not shrink
// stay as they are.
func (s *Store) compressStaged(st *stream) {
	if s.enc == nil || len(st.staged) == 0 {
		return
	}
	base := st.active().size
	out := s.zbuf[:0]
	offs := make([]int64, 0, len(st.staged))
	raw := st.buf
	for i := 0; i < len(st.staged); {
		// Records i..j-1 go into one frame.
		j, size := i, 0
		for j < len(st.staged) && (j == i || size+st.staged[j].size <= maxFrameRaw) {
			size += st.staged[j].size
			j++
		}
		chunk := raw[:size]
		raw = raw[size:]
		at := base + int64(len(out))
		if size > maxFrameRaw {
			// One document past the frame limit: stored as it is.
			out = append(out, chunk...)
			offs = append(offs, at)
			i = j
			continue
		}
		var maxT int64
		for _, r := range st.staged[i:j] {
			maxT = max(maxT, r.time)
		}
		last := st.staged[j-1]
		n := len(out)
		out = append(out, make([]byte, recOverhead+frameHdrExtra)...)
		out = s.enc.EncodeAll(chunk, out)
		if len(out)-n >= len(chunk) {
			// Incompressible: keep the records.
			out = append(out[:n], chunk...)
			for k := i; k < j; k++ {
				offs = append(offs, at)
				at += int64(st.staged[k].size)
			}
			i = j
			continue
		}
		body := out[n+recHdrSize:]
		binary.LittleEndian.PutUint32(out[n:], uint32(len(body)))
		binary.LittleEndian.PutUint64(body[0:], last.seq)
		binary.LittleEndian.PutUint64(body[8:], uint64(maxT))
		body[16] = byte(kindBatch)
		copy(body[17:], last.hash[:])
		binary.LittleEndian.PutUint64(body[bodyHdrSize:], st.staged[i].seq)
		binary.LittleEndian.PutUint32(body[bodyHdrSize+8:], uint32(j-i))
		binary.LittleEndian.PutUint32(out[n+4:], crc32.Checksum(body, crcTable))
		for k := i; k < j; k++ {
			offs = append(offs, at)
		}
		i = j
	}
	// Point the index entries at the frames.
	k := 0
	for p := 0; p+idxEntryFixed <= len(st.ibuf) && k < len(offs); k++ {
		binary.LittleEndian.PutUint32(st.ibuf[p:], uint32(offs[k]))
		p += idxEntryFixed + 8*int(st.ibuf[p+13])
	}
	s.zbuf, st.buf = st.buf[:0], out // swap buffers: both are reused
}

var errFrame = errors.New("damaged compressed batch")

// unpackFrame decompresses a frame's records into dst and checks that
// they are the count it names, from its first sequence number.
func unpackFrame(rec rawRecord, dst []byte) (first uint64, count int, records []byte, err error) {
	d := rec.doc
	if len(d) < frameHdrExtra {
		return 0, 0, dst, fmt.Errorf("%w: %d bytes", errFrame, len(d))
	}
	first = binary.LittleEndian.Uint64(d)
	count = int(binary.LittleEndian.Uint32(d[8:]))
	dec, err := zstdDecoder()
	if err != nil {
		return 0, 0, dst, err
	}
	out, err := dec.DecodeAll(d[frameHdrExtra:], dst[:0])
	if err != nil {
		return 0, 0, dst, fmt.Errorf("%w: %v", errFrame, err)
	}
	if count < 1 || first+uint64(count)-1 != rec.seq || len(out) > 2*maxFrameRaw {
		return 0, 0, out, fmt.Errorf("%w: records %d+%d, header says last %d", errFrame, first, count, rec.seq)
	}
	return first, count, out, nil
}

var (
	idxDecoderOnce sync.Once
	idxDecoder     *zstd.Decoder
	idxDecoderErr  error
)

// unpackIdx returns the entries of a compressed sealed index file b.
func unpackIdx(b []byte) ([]byte, error) {
	if len(b) < idxHdrSize+idxFooterSize {
		return nil, errors.New("compressed index too short")
	}
	idxDecoderOnce.Do(func() {
		// An index is a few percent of its segment's documents; the
		// limit keeps a damaged or hostile file from exhausting memory.
		idxDecoder, idxDecoderErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(2),
			zstd.WithDecoderMaxMemory(512<<20), zstd.WithDecoderDictRaw(dictV1ID, dictV1))
	})
	if idxDecoderErr != nil {
		return nil, idxDecoderErr
	}
	out, err := idxDecoder.DecodeAll(b[idxHdrSize:len(b)-idxFooterSize], nil)
	if err != nil {
		return nil, fmt.Errorf("compressed index: %w", err)
	}
	return out, nil
}

// compressIdx rewrites a sealed segment's index with its entries
// compressed (the index of the active segment is appended to as records
// come, so it is compressed when the segment is sealed). It returns the
// change in size. On any error the plain index stays.
func (s *Store) compressIdx(seg *segment) int64 {
	if s.enc == nil {
		return 0
	}
	b, err := os.ReadFile(seg.idxPath())
	if err != nil || len(b) < idxHdrSize+idxFooterSize || string(b[:8]) != idxMagic {
		return 0
	}
	footer := b[len(b)-idxFooterSize:]
	if binary.LittleEndian.Uint32(footer) != idxFooterMark {
		return 0
	}
	out := make([]byte, idxHdrSize, idxHdrSize+len(b)/4)
	copy(out, b[:idxHdrSize])
	copy(out, idxMagicZ)
	out = s.enc.EncodeAll(b[idxHdrSize:len(b)-idxFooterSize], out)
	out = append(out, footer...)
	tmp := seg.idxPath() + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		os.Remove(tmp)
		return 0
	}
	if err := os.Rename(tmp, seg.idxPath()); err != nil {
		os.Remove(tmp)
		return 0
	}
	return int64(len(out) - len(b))
}
