package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Field is the value at a dotted path ("process.parent.name") in a decoded
// JSON document, or nil where the path does not lead to a value.
func Field(doc map[string]any, path string) any {
	var cur any = doc
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// WriteConfig writes body as bansho.yaml (mode 600, as the sensor wants
// its configuration) in a new temporary directory and returns its path.
func WriteConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bansho.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
