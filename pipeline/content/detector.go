package content

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
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
	seed      maphash.Seed
	kw        *kwDFA
	pool      sync.Pool // *Stream for Scan
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
		seed:      maphash.MakeSeed(),
		kw:        keywordDFA(),
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

// ParseHashKey turns the configured key text into key bytes, the same way
// everywhere it is read: text of at least 32 hex digits (an even number)
// is decoded as hex, so `openssl rand -hex 32` gives a 32-byte key; any
// other text is used as its bytes. Empty text is an error.
func ParseHashKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("content: hash key is empty: set content.hash_key or BANSHO_CONTENT_HASH_KEY")
	}
	if len(s) >= 32 && len(s)%2 == 0 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return []byte(s), nil
}
