package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadWithin runs Load and fails the test when it does not return within
// d (a FIFO must not be waited on).
func loadWithin(t *testing.T, d time.Duration, file string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(file, nil)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Load(%s) still running after %s", file, d)
		return nil
	}
}

// A configuration file above MaxFileBytes is refused before it is parsed,
// naming the file and its size: viper took seconds and most of a GiB of
// memory over a 12 MB one.
func TestFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.yaml")
	body := "protect:\n  paths: [" + dir + "]\n# " + strings.Repeat("x", MaxFileBytes) + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := loadWithin(t, 10*time.Second, p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "1 MiB") ||
		!strings.Contains(err.Error(), fmt.Sprintf("%d bytes", len(body))) {
		t.Fatalf("a %d-byte file: %v", len(body), err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing took %s: the file was parsed", d)
	}
	// Just under the limit is read.
	body = "protect:\n  paths: [" + dir + "]\n# " + strings.Repeat("x", MaxFileBytes-len(dir)-40) + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := loadWithin(t, 20*time.Second, p); err != nil {
		t.Fatalf("a %d-byte file: %v", len(body), err)
	}
}

// A configuration path that is not a regular file gets an error naming it
// at once: a directory, a FIFO (never waited on), a device, a symlink loop.
func TestFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop.yaml")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{dir, "is a directory"},
		{fifo, "not a regular file (a FIFO)"},
		{"/dev/zero", "not a regular file (a device)"},
		{loop, "too many levels of symbolic links"},
	} {
		err := loadWithin(t, 5*time.Second, c.path)
		if err == nil || !strings.Contains(err.Error(), c.path+": cannot read configuration") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.path, err)
		}
	}
}

// No error echoes the value of a secret key, whatever its type, and a URL
// is shown without its user info. The markers are unique strings; a
// failure says which key leaked, not the value.
func TestErrorsHideSecrets(t *testing.T) {
	dir := t.TempDir()
	head := "protect:\n  paths: [" + dir + "]\n"
	for _, c := range []struct{ name, body, key, marker string }{
		{"es password list", "outputs:\n  elasticsearch:\n    password: [InlinePwLeak]\n", "outputs.elasticsearch.password", "InlinePwLeak"},
		{"es password map", "outputs:\n  elasticsearch:\n    password: {x: MapPwLeak}\n", "outputs.elasticsearch.password", "MapPwLeak"},
		{"es api key", "outputs:\n  elasticsearch:\n    api_key: [ApiKeyLeak]\n", "outputs.elasticsearch.api_key", "ApiKeyLeak"},
		{"es headers", "outputs:\n  elasticsearch:\n    headers: {Authorization: HeaderLeak}\n", "outputs.elasticsearch.headers", "HeaderLeak"},
		{"kafka password", "outputs:\n  kafka:\n    sasl:\n      password: [KafkaPwLeak]\n", "outputs.kafka.sasl.password", "KafkaPwLeak"},
		{"hash key list", "content:\n  hash_key: [HkLeak]\n", "content.hash_key", "HkLeak"},
		{"es url scheme", "store:\n  enabled: true\noutputs:\n  elasticsearch:\n    enabled: true\n    addresses: [\"ftp://bansho:UrlLeak1@host:9200\"]\n",
			"outputs.elasticsearch.addresses[0]", "UrlLeak1"},
		{"es url unparsable", "store:\n  enabled: true\noutputs:\n  elasticsearch:\n    enabled: true\n    addresses: [\"http://bansho:UrlLeak2@ho st:9200/%zz\"]\n",
			"outputs.elasticsearch.addresses[0]", "UrlLeak2"},
	} {
		p := writeFile(t, head+c.body)
		_, err := Load(p, nil)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if strings.Contains(err.Error(), c.marker) {
			t.Errorf("%s: the error shows the secret", c.name)
		}
		if !strings.Contains(err.Error(), p+":") || !strings.Contains(err.Error(), c.key+": ") {
			t.Errorf("%s: the error does not name the file, line and key %s: %v", c.name, c.key, strings.ReplaceAll(err.Error(), c.marker, "<secret>"))
		}
	}
}

// A protected path named after a My Number is shown masked in errors, as
// the sensor's documents mask it.
func TestErrorsMaskMyNumbers(t *testing.T) {
	const n = "123456789018" // made up, valid check digit
	dir := t.TempDir()
	_, err := Load(writeFile(t, "protect:\n  paths: ["+dir+"/"+n+"]\n"), nil)
	if err == nil || strings.Contains(err.Error(), n) || !strings.Contains(err.Error(), dir+"/****-****-****: no such file") {
		t.Errorf("missing path named after a number: masked %v", err != nil && !strings.Contains(err.Error(), n))
	}
}

// A hash key too short to keep the hashes secret is refused with the file
// and line, without showing it.
func TestHashKeyTooShort(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, "protect:\n  paths: ["+dir+"]\ncontent:\n  hash_key: Xq3\n")
	_, err := Load(p, nil)
	if err == nil || strings.Contains(err.Error(), "Xq3") || !strings.Contains(err.Error(), p+":4: content.hash_key: ") ||
		!strings.Contains(err.Error(), "at least 16 bytes") {
		t.Errorf("a 3-character key: %v", err != nil)
	}
	if _, err := Load(writeFile(t, "protect:\n  paths: ["+dir+"]\ncontent:\n  hash_key: 00112233445566778899aabbccddeeff\n"), nil); err != nil {
		t.Errorf("32 hex digits: %v", err)
	}
}

// A file that is not UTF-8 is named with the line of the first bad byte.
func TestNotUTF8(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, "protect:\n  paths: ["+dir+"]\nlog:\n  level: \xff\xfe\n")
	_, err := Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), p+":4: not valid YAML: not UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}
