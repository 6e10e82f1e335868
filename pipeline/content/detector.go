package content

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
)

// Config configures a Detector.
type Config struct {
	// HashKey keys the HMAC-SHA256 that stands in for each number found.
	// Required. Set it per deployment from a secret: bansho reads it from
	// the configuration key content.hash_key or the environment variable
	// BANSHO_CONTENT_HASH_KEY (see ParseHashKey). Everything that must
	// count the same person once (hosts, files, days) needs the same key.
	HashKey []byte
	// MaxHashes bounds the distinct numbers remembered, and so the hashes
	// reported, per kind and per stream. 0 means 1024.
	MaxHashes int
	// KeywordWindow is how near, in characters, a keyword must be to a
	// number to count. 0 means 300; at most 1000.
	KeywordWindow int
}

const (
	defaultMaxHashes = 1024
	defaultWindow    = 300
	maxWindow        = 1000
	maxMaxHashes     = 1 << 20
)

// Detector finds individual and corporate numbers in raw bytes. It is
// immutable and safe for concurrent use; the per-stream state lives in a
// Stream.
type Detector struct {
	key       []byte
	maxHashes int
	window    int   // characters
	wmax      int64 // bytes: the window in the widest encoding (3 bytes/char)
	histCap   int
	fpKey     [numKinds]uint64 // keys the fingerprints that stand for numbers in memory
	kw        *kwDFA
	pool      sync.Pool // *Stream for Scan
	states    sync.Pool // *state for Stream.Result
}

// NewDetector checks cfg and returns a Detector.
func NewDetector(cfg Config) (*Detector, error) {
	if len(cfg.HashKey) == 0 {
		return nil, errors.New("content: hash key is empty: set content.hash_key or BANSHO_CONTENT_HASH_KEY")
	}
	if cfg.MaxHashes < 0 || cfg.MaxHashes > maxMaxHashes {
		return nil, fmt.Errorf("content: max hashes %d out of range 0..%d", cfg.MaxHashes, maxMaxHashes)
	}
	if cfg.KeywordWindow < 0 || cfg.KeywordWindow > maxWindow {
		return nil, fmt.Errorf("content: keyword window %d out of range 0..%d", cfg.KeywordWindow, maxWindow)
	}
	d := &Detector{
		key:       append([]byte(nil), cfg.HashKey...),
		maxHashes: cfg.MaxHashes,
		window:    cfg.KeywordWindow,
		kw:        keywordDFA(),
	}
	fk := hmac.New(sha256.New, d.key)
	fk.Write([]byte("bansho content fingerprint"))
	sum := fk.Sum(nil)
	for i := range d.fpKey {
		d.fpKey[i] = binary.LittleEndian.Uint64(sum[8*i:])
	}
	if d.maxHashes == 0 {
		d.maxHashes = defaultMaxHashes
	}
	if d.window == 0 {
		d.window = defaultWindow
	}
	d.wmax = int64(3 * d.window)
	// The history must reach back over a keyword window and a line, from
	// the earliest start still undecided.
	d.histCap = max(int(d.wmax)+64, lineLookback) + preCtx + margin
	d.pool.New = func() any { return d.NewStream() }
	d.states.New = func() any { return new(state) }
	return d, nil
}

// Scan scans p as a whole: its start and end are the start and end of the
// data.
func (d *Detector) Scan(p []byte) Result {
	s := d.pool.Get().(*Stream)
	s.Reset()
	s.scanAll(p)
	r := s.Result()
	s.Reset()
	d.pool.Put(s)
	return r
}

// MinHashKeyBytes is the shortest key ParseHashKey accepts. An
// individual number has only 10^11 possible values (11 digits and a
// check digit), so a hash is only as secret as its key: whoever guesses a
// short key can hash every possible number and read each hash back.
// 16 bytes (128 bits) is out of reach of guessing.
const MinHashKeyBytes = 16

// ParseHashKey turns the configured key text into key bytes, the same way
// everywhere it is read: text of at least 32 hex digits (an even number)
// is decoded as hex, so `openssl rand -hex 32` gives a 32-byte key; any
// other text is used as its bytes. Empty text, or a key of fewer than
// MinHashKeyBytes bytes, is an error; the error never holds the key.
func ParseHashKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("content: hash key is empty: set content.hash_key or BANSHO_CONTENT_HASH_KEY")
	}
	if len(s) >= 32 && len(s)%2 == 0 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	if len(s) < MinHashKeyBytes {
		return nil, fmt.Errorf("content: hash key too short (%d bytes): use at least 16 bytes of text or 32 hex digits "+
			"(openssl rand -hex 32); a My Number has only 10^11 possible values, so whoever guesses a short key "+
			"can reverse every hash by trying them all", len(s))
	}
	return []byte(s), nil
}

// fingerprint maps the digits of a number of kind k to a 64-bit stand-in
// for the distinct set and the HyperLogLog sketch. The digits are packed
// four bits each (digits 0-7 in the low nibbles of eight bytes, 5-12 in
// the high ones), then mixed with a key word by the SplitMix64 finalizer:
// a bijection, so distinct numbers never share a fingerprint, the
// fingerprints look uniformly random, and unfingerprint recovers the digits
// for hashing when a Result is made. Fingerprints live only in memory.
func (d *Detector) fingerprint(k Kind, dig *[13]byte) uint64 {
	const low = 0x0F0F0F0F0F0F0F0F
	x := binary.LittleEndian.Uint64(dig[0:8])&low | (binary.LittleEndian.Uint64(dig[5:13])&low)<<4
	return mix64(x ^ d.fpKey[k])
}

// unfingerprint inverts fingerprint: the ASCII digits, 12 or 13 of them by
// kind, with dig[12] zero for an individual number.
func (d *Detector) unfingerprint(k Kind, f uint64) (dig [13]byte) {
	x := unmix64(f) ^ d.fpKey[k]
	for i := range 8 {
		dig[i] = '0' + byte(x>>(8*i))&0x0F
	}
	for i := 8; i < 13; i++ {
		dig[i] = '0' + byte(x>>(8*(i-5)+4))&0x0F
	}
	if k == MyNumber {
		dig[12] = 0
	}
	return dig
}

const (
	mixMul1 = 0xbf58476d1ce4e5b9
	mixMul2 = 0x94d049bb133111eb
)

// Inverses of the multipliers modulo 2^64, by Newton's iteration.
var mixInv1, mixInv2 = inverse64(mixMul1), inverse64(mixMul2)

func inverse64(a uint64) uint64 {
	x := a // correct to 3 bits for odd a; each step doubles that
	for range 5 {
		x *= 2 - a*x
	}
	return x
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= mixMul1
	x ^= x >> 27
	x *= mixMul2
	x ^= x >> 31
	return x
}

func unmix64(x uint64) uint64 {
	x = unxorshift(x, 31)
	x *= mixInv2
	x = unxorshift(x, 27)
	x *= mixInv1
	return unxorshift(x, 30)
}

// unxorshift inverts y = x ^ x>>s.
func unxorshift(y uint64, s uint) uint64 {
	x := y
	for i := s; i < 64; i += s {
		x ^= y >> i
	}
	return x
}
