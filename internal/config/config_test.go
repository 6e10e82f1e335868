package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/bansho-sec/bansho/internal/testutil"
)

// writeFile writes a configuration file for the test.
var writeFile = testutil.WriteConfig

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, `
protect:
  paths: [`+dir+`]
sensor:
  poll_interval: 20ms
outputs:
  stdout: {enabled: false}
  file: {path: /tmp/x.json}
`)
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Protect.Paths) != 1 || c.Protect.Paths[0] != dir {
		t.Errorf("protect.paths %v", c.Protect.Paths)
	}
	if c.Sensor.PollInterval != 20*time.Millisecond || c.Outputs.Stdout.Enabled || c.Outputs.File.Path != "/tmp/x.json" {
		t.Errorf("values not applied: %+v", c)
	}
	// Defaults fill what the file leaves out.
	if c.Sensor.RingBufferBytes != 8<<20 || c.Health.Interval != 30*time.Second || c.Outputs.File.MaxBackups != 5 {
		t.Errorf("defaults missing: %+v", c.Sensor)
	}
}

func TestErrorsNameKeyAndLine(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, body, want string
	}{
		{"unknown key", "protect:\n  paths: [" + dir + "]\nsensor:\n  pol_interval: 1s\n",
			":4: sensor.pol_interval: unknown key (did you mean sensor.poll_interval?)"},
		{"unknown section", "protect:\n  paths: [" + dir + "]\noutput:\n  file: {}\n", ":3: output: unknown key"},
		{"wrong type", "protect:\n  paths: [" + dir + "]\nsensor:\n  queue_size: lots\n", ":4: sensor.queue_size: "},
		{"bad duration", "protect:\n  paths: [" + dir + "]\nhealth:\n  interval: soon\n", ":4: health.interval: "},
		{"missing dir", "protect:\n  paths: [/nonexistent/bansho]\n", ":2: protect.paths[0]: /nonexistent/bansho: no such file or directory"},
		{"not a dir", "protect:\n  paths: [/etc/hostname]\n", ":2: protect.paths[0]: /etc/hostname: not a directory"},
		{"ring size", "protect:\n  paths: [" + dir + "]\nsensor:\n  ring_buffer_bytes: 5000\n", ":4: sensor.ring_buffer_bytes: 5000 is not a power of two"},
		{"bad level", "protect:\n  paths: [" + dir + "]\nlog:\n  level: loud\n", ":4: log.level: \"loud\" is not one of"},
		{"store size", "protect:\n  paths: [" + dir + "]\nstore:\n  max_bytes: 1000\n", ":4: store.max_bytes: 1000 is below 1 MiB"},
		{"store segment", "protect:\n  paths: [" + dir + "]\nstore:\n  segment_bytes: 10\n", ":4: store.segment_bytes: 10 is not between"},
		{"rest settle", "protect:\n  paths: [" + dir + "]\ncontent:\n  rest_scan:\n    settle: 10ms\n", ":5: content.rest_scan.settle: 10ms must be between 100ms and 1h"},
		{"rest queue", "protect:\n  paths: [" + dir + "]\ncontent:\n  rest_scan:\n    queue: 0\n", ":5: content.rest_scan.queue: 0 must be between"},
		{"bad yaml", "protect:\n  paths: [" + dir + "\n", "not valid YAML"},
		{"not a mapping", "- a\n- b\n", "must be a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, c.body)
			_, err := Load(p, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), p) {
				t.Errorf("error %q\nwant it to start with the file and contain %q", err, c.want)
			}
		})
	}
	if _, err := Load("/nonexistent/bansho.yaml", nil); err == nil || !strings.Contains(err.Error(), "/nonexistent/bansho.yaml: cannot read configuration") {
		t.Errorf("missing file: %v", err)
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	t.Setenv("BANSHO_PROTECT_PATHS", a+","+b)
	t.Setenv("BANSHO_SENSOR_QUEUE_SIZE", "77")
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Protect.Paths, ",") != a+","+b || c.Sensor.QueueSize != 77 {
		t.Errorf("environment not applied: paths %v queue %d", c.Protect.Paths, c.Sensor.QueueSize)
	}
	// Flags win over the environment.
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.StringSlice("protect", nil, "")
	fs.String("log-level", "info", "")
	if err := fs.Parse([]string{"--protect", b, "--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	c, err = Load("", fs)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Protect.Paths, ",") != b || c.Log.Level != "debug" {
		t.Errorf("flags not applied: %v %s", c.Protect.Paths, c.Log.Level)
	}
}

func TestKeysCoverDefaults(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range Keys() {
		keys[k] = true
	}
	for k := range Defaults() {
		if !keys[k] {
			t.Errorf("default for %s, which is not a configuration key", k)
		}
	}
	for _, k := range Keys() {
		if _, ok := Defaults()[k]; !ok && !hasKnownChild(knownKeys(), k) {
			t.Errorf("key %s has no default", k)
		}
	}
}

// docs/configuration.md is generated from the keys; regenerate it with
// BANSHO_UPDATE_DOCS=1 go test ./internal/config -run TestConfigurationDoc
func TestConfigurationDoc(t *testing.T) {
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("Generated from `internal/config` by `BANSHO_UPDATE_DOCS=1 go test ./internal/config -run TestConfigurationDoc`; a test fails when it is out of date.\n\n")
	b.WriteString("Precedence: flags, then `BANSHO_*` environment variables, then the YAML file (`--config`), then these defaults. ")
	b.WriteString("Lists in environment variables are comma separated. Unknown keys and invalid values stop start-up with the file, line and key.\n\n")
	b.WriteString("The file must be a regular file of at most 1 MiB (`config.MaxFileBytes`; a real one is a few KiB): a larger one, a directory, a FIFO or a device is refused before it is parsed, naming the file and its size or kind.\n\n")
	b.WriteString("Errors and `bansho config check` never show a secret: the values of " + strings.Join(mdKeys(secretKeys()), ", ") + " are not shown whatever their type (a mapping or a list where a string belongs is named, not echoed), URLs are shown with their password (or a lone user name, often a token) as `xxxxx`, and a path named after a My Number is shown masked (`****-****-****`).\n\n")
	b.WriteString("| key | type | default | environment | meaning |\n|---|---|---|---|---|\n")
	types := keyTypes()
	for _, k := range Keys() {
		if hasKnownChild(knownKeys(), k) {
			continue
		}
		desc, ok := Descriptions[k]
		if !ok {
			t.Errorf("key %s has no description in config.Descriptions", k)
		}
		def := fmt.Sprint(Defaults()[k])
		if def == "" {
			def = `""`
		}
		env := "BANSHO_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | `%s` | %s |\n", k, types[k], def, env, desc)
	}
	path := filepath.Join("..", "..", "docs", "configuration.md")
	if os.Getenv("BANSHO_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with BANSHO_UPDATE_DOCS=1)", err)
	}
	if string(got) != b.String() {
		t.Errorf("docs/configuration.md is out of date: regenerate with BANSHO_UPDATE_DOCS=1 go test ./internal/config -run TestConfigurationDoc")
	}
}

func mdKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = "`" + k + "`"
	}
	return out
}
