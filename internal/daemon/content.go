package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/pipeline/content"
)

// NewDetector builds the content detector with the deployment's hash key:
// content.hash_key (or BANSHO_CONTENT_HASH_KEY), else the key file, which
// is created with a random key when it does not exist yet.
func NewDetector(c config.Content, log *slog.Logger) (*content.Detector, error) {
	text := c.HashKey
	if text == "" {
		var err error
		text, err = loadOrCreateKey(c.HashKeyFile, log)
		if err != nil {
			return nil, fmt.Errorf("content.hash_key_file %s: %w", c.HashKeyFile, err)
		}
	}
	key, err := content.ParseHashKey(text)
	if err != nil {
		return nil, fmt.Errorf("content.hash_key: %w", err)
	}
	return content.NewDetector(content.Config{HashKey: key})
}

// readKeyFile reads the hash key file; it must be readable by its owner
// only. A missing file is os.ErrNotExist (start-up then creates it).
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("readable by others (mode %o): make it 0600", st.Mode().Perm())
	}
	return strings.TrimSpace(string(b)), nil
}

func loadOrCreateKey(path string, log *slog.Logger) (string, error) {
	text, err := readKeyFile(path)
	if err == nil {
		return text, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	text = hex.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(text + "\n"); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	log.Warn("created a content hash key for this host; set content.hash_key per deployment so one person counts once across hosts", "file", path)
	return text, nil
}
