package daemon

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/internal/config"
)

// Start-up (Check, then startRules) refuses a rules.lists name the rules do not define, through the
// same check as config check: a misspelt allowlist would otherwise
// silently allow nothing.
func TestRunRefusesUnknownList(t *testing.T) {
	c := config.Rules{Enabled: true, MaxStateKeys: 4096, Lists: []config.RuleList{{Name: "backup_program", Items: []string{"/usr/bin/restic"}}},
		BusinessHours: config.BusinessHours{Timezone: "Asia/Tokyo", Weekdays: []string{"mon"}, Start: "08:00", End: "19:00"}}
	_, _, err := LoadRules(c, []string{"/tmp"})
	if err == nil {
		t.Fatal("an unknown list is accepted")
	}
	if want := `rules.lists[0].name: "backup_program" is not a list of the rules (did you mean backup_programs?)`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want %q", err, want)
	}
	c.Lists[0].Name = "backup_programs"
	if _, _, err = LoadRules(c, []string{"/tmp"}); err != nil {
		t.Fatal(err)
	}
}

// NewDetector (run) and checkContent (config check) judge the key file
// alike: created when missing, refused when others can read it or when
// the key in it is too short.
func TestKeyFileChecks(t *testing.T) {
	d := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := config.Content{HashKeyFile: filepath.Join(d, "k", "content-hash.key"), SampleBytes: 4096}
	if err := checkContent(c); err != nil {
		t.Fatalf("a missing key file: %v", err)
	}
	if _, err := NewDetector(c, log); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(c.HashKeyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("created key file: %v %v", st, err)
	}
	if err := checkContent(c); err != nil {
		t.Fatalf("the created key file: %v", err)
	}
	os.Chmod(c.HashKeyFile, 0o644)
	for name, err := range map[string]error{"check": checkContent(c), "run": func() error { _, err := NewDetector(c, log); return err }()} {
		if err == nil || !strings.Contains(err.Error(), "readable by others (mode 644)") {
			t.Errorf("%s: a 0644 key file: %v", name, err)
		}
	}
	os.WriteFile(c.HashKeyFile, []byte("Zk9\n"), 0o600)
	os.Chmod(c.HashKeyFile, 0o600)
	for name, err := range map[string]error{"check": checkContent(c), "run": func() error { _, err := NewDetector(c, log); return err }()} {
		if err == nil || strings.Contains(err.Error(), "Zk9") || !strings.Contains(err.Error(), "content.hash_key_file "+c.HashKeyFile+": hash key too short (3 bytes)") {
			t.Errorf("%s: a short key: %v", name, err != nil)
		}
	}
}
