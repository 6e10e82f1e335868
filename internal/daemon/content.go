package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/readfile"
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
	if err != nil && c.HashKey == "" {
		return nil, fmt.Errorf("content.hash_key_file %s: %s", c.HashKeyFile, strings.TrimPrefix(err.Error(), "content: "))
	}
	if err != nil {
		return nil, fmt.Errorf("content.hash_key: %w", err)
	}
	return content.NewDetector(content.Config{HashKey: key})
}

// checkContent makes the checks of newDetector that change nothing, for
// config check: the key file, when there is one, must be 0600 and hold a
// key ParseHashKey accepts (content.hash_key itself is checked with the
// configuration). A missing file is created at start; one this user
// cannot read (config check runs without root) is checked at start.
func checkContent(c config.Content) error {
	if c.SampleBytes == 0 || c.HashKey != "" {
		return nil
	}
	text, exists, err := readKeyFile(c.HashKeyFile)
	if errors.Is(err, fs.ErrPermission) || !exists {
		return nil
	}
	if err == nil {
		_, err = content.ParseHashKey(text)
		if err != nil {
			err = errors.New(strings.TrimPrefix(err.Error(), "content: "))
		}
	}
	if err != nil {
		return fmt.Errorf("content.hash_key_file %s: %w", c.HashKeyFile, err)
	}
	return nil
}

// maxKeyFile bounds the key file (a key is 65 bytes).
const maxKeyFile = 4 << 10

// readKeyFile reads the hash key file: exists is false when there is
// none yet. A key file others can read is refused, before it is read;
// so is one that is not a small regular file.
func readKeyFile(path string) (text string, exists bool, err error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", true, err
	}
	if st.Mode().IsRegular() && st.Mode().Perm()&0o077 != 0 {
		return "", true, fmt.Errorf("readable by others (mode %o): make it 0600", st.Mode().Perm())
	}
	b, err := readfile.Regular(path, maxKeyFile, "a hash key file")
	if err != nil {
		return "", true, errors.New(strings.TrimPrefix(err.Error(), path+": "))
	}
	return strings.TrimSpace(string(b)), true, nil
}

func loadOrCreateKey(path string, log *slog.Logger) (string, error) {
	text, exists, err := readKeyFile(path)
	if exists || err != nil {
		return text, err
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
