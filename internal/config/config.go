// Package config loads bansho's configuration: embedded defaults, then a
// YAML file, then BANSHO_* environment variables, then flags (viper's
// precedence). Every error names the key, and the file line where there is
// one.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Keys are the mapstructure tags joined
// with dots; the environment variable is BANSHO_ plus the key in upper case
// with dots as underscores (protect.paths -> BANSHO_PROTECT_PATHS).
type Config struct {
	Protect Protect `mapstructure:"protect"`
	Sensor  Sensor  `mapstructure:"sensor"`
	Outputs Outputs `mapstructure:"outputs"`
	Log     Log     `mapstructure:"log"`
	Health  Health  `mapstructure:"health"`
	Content Content `mapstructure:"content"`
}

// Protect names the data bansho guards.
type Protect struct {
	// Paths are directories whose files are protected data (My Number files).
	Paths []string `mapstructure:"paths"`
}

// Sensor tunes the kernel side.
type Sensor struct {
	RingBufferBytes int           `mapstructure:"ring_buffer_bytes"`
	WakeupBytes     int           `mapstructure:"wakeup_bytes"`
	PollInterval    time.Duration `mapstructure:"poll_interval"`
	QueueSize       int           `mapstructure:"queue_size"`
	TraceAccept     bool          `mapstructure:"trace_accept"`
	TraceUDPSend    bool          `mapstructure:"trace_udp_send"`
	UDPSendDedupe   time.Duration `mapstructure:"udp_send_dedupe"`
	FoldWindow      time.Duration `mapstructure:"fold_window"`
}

// Outputs are where documents go.
type Outputs struct {
	Stdout StdoutOutput `mapstructure:"stdout"`
	File   FileOutput   `mapstructure:"file"`
}

// StdoutOutput writes JSON lines to standard output.
type StdoutOutput struct {
	Enabled bool `mapstructure:"enabled"`
}

// FileOutput writes size-rotated JSON lines.
type FileOutput struct {
	Path       string `mapstructure:"path"` // empty: no file output
	MaxBytes   int64  `mapstructure:"max_bytes"`
	MaxBackups int    `mapstructure:"max_backups"`
	Fsync      bool   `mapstructure:"fsync"`
}

// Log configures bansho's own log (stderr).
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info, warn, error
	Format string `mapstructure:"format"` // text, json
}

// Health configures the periodic health document.
type Health struct {
	Interval time.Duration `mapstructure:"interval"`
}

// Content configures the content detector.
type Content struct {
	// HashKey keys the HMAC of detected numbers (hex or plain text). Set it
	// per deployment, from a secret; BANSHO_CONTENT_HASH_KEY works too.
	HashKey string `mapstructure:"hash_key"`
	// HashKeyFile is used when HashKey is empty; created with a random key
	// (0600) when missing, so hashes are stable across restarts.
	HashKeyFile string `mapstructure:"hash_key_file"`
	// SampleBytes of each write or send by a tainted process are scanned.
	SampleBytes int `mapstructure:"sample_bytes"`
	// TLSLibraries are glob patterns of libssl files whose SSL_write is
	// probed for plaintext; others are found from processes' maps.
	TLSLibraries []string `mapstructure:"tls_libraries"`
}

// Defaults are the embedded defaults: run with no file at all.
func Defaults() map[string]any {
	return map[string]any{
		"protect.paths":            []string{"/srv/mynumber"},
		"sensor.ring_buffer_bytes": 8 << 20,
		"sensor.wakeup_bytes":      256 << 10,
		"sensor.poll_interval":     "50ms",
		"sensor.queue_size":        65536,
		"sensor.trace_accept":      true,
		"sensor.trace_udp_send":    true,
		"sensor.udp_send_dedupe":   "10s",
		"sensor.fold_window":       "1s",
		"outputs.stdout.enabled":   true,
		"outputs.file.path":        "/var/lib/bansho/events.json",
		"outputs.file.max_bytes":   int64(100 << 20),
		"outputs.file.max_backups": 5,
		"outputs.file.fsync":       false,
		"log.level":                "info",
		"log.format":               "text",
		"health.interval":          "30s",
		"content.hash_key":         "",
		"content.hash_key_file":    "/var/lib/bansho/content-hash.key",
		"content.sample_bytes":     4096,
		"content.tls_libraries": []string{"/usr/lib/x86_64-linux-gnu/libssl.so.*", "/lib/x86_64-linux-gnu/libssl.so.*",
			"/usr/lib64/libssl.so.*", "/usr/lib/libssl.so.*", "/usr/local/lib*/libssl.so.*"},
	}
}

// Descriptions document every key (docs/configuration.md is generated
// from them and checked by a test).
var Descriptions = map[string]string{
	"protect.paths":            "Directories whose files are protected data. Required; each must exist.",
	"sensor.ring_buffer_bytes": "Kernel ring buffer size in bytes: a power of two, at least 4096.",
	"sensor.wakeup_bytes":      "The kernel wakes the reader once this many bytes are pending; below the ring size.",
	"sensor.poll_interval":     "The reader also polls this often, so no record waits longer (0 < d <= 10s).",
	"sensor.queue_size":        "Decoded events waiting for the pipeline; past it, events are dropped and counted.",
	"sensor.trace_accept":      "Report inbound accepted connections.",
	"sensor.trace_udp_send":    "Report datagrams sent to an explicit destination.",
	"sensor.udp_send_dedupe":   "Report a process's datagrams to one destination at most once per this period.",
	"sensor.fold_window":       "Count repeats of the same call (process, operation, object, result) within this long of a reported one in the kernel, and report them as one summary with bansho.repeat.*; 0 disables, at most 1m. Calls that carry content samples or change taint are never folded.",
	"outputs.stdout.enabled":   "Write JSON lines to standard output.",
	"outputs.file.path":        "JSON-lines output file; empty disables it. The directory is created 0700, the file 0600.",
	"outputs.file.max_bytes":   "Rotate the file at this size (at least 4096).",
	"outputs.file.max_backups": "Rotated files kept (path.1 is the newest).",
	"outputs.file.fsync":       "fsync the file at every flush.",
	"log.level":                "bansho's own log on stderr: debug, info, warn, error.",
	"log.format":               "text or json.",
	"health.interval":          "How often a sensor-health document is written (at least 1s).",
	"content.hash_key":         "Key of the HMAC-SHA256 of detected numbers (32+ hex digits are decoded as hex); set it per deployment from a secret so one person counts once across hosts.",
	"content.hash_key_file":    "Where the key is kept when content.hash_key is empty; created 0600 with a random key if missing (hashes then match only on this host).",
	"content.sample_bytes":     "Bytes of each write or send by a process that read protected data that are scanned for My Numbers (0 to 4096; 0 disables).",
	"content.tls_libraries":    "Glob patterns of libssl files whose SSL_write/SSL_write_ex are probed at start, so HTTPS uploads are scanned before encryption; copies in containers or bundled with programs are found from /proc/PID/maps when a process connects.",
}

// Error is a configuration error: the key, the file and line when known.
type Error struct {
	Key  string
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads the configuration. file may be empty (embedded defaults only);
// flags may be nil. Flags are bound by their names as keys.
func Load(file string, flags *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	for k, val := range Defaults() {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix("BANSHO")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()

	var lines map[string]int
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, &Error{File: file, Msg: fmt.Sprintf("cannot read configuration: %v", errors.Unwrap(err))}
		}
		lines, err = keyLines(data)
		if err != nil {
			return nil, &Error{File: file, Line: yamlLine(err), Msg: "not valid YAML: " + yamlMsg(err)}
		}
		known := knownKeys()
		for _, k := range sortedKeys(lines) {
			if !known[k] && !hasKnownChild(known, k) {
				return nil, &Error{File: file, Line: lines[k], Key: k, Msg: "unknown key" + suggest(k, known)}
			}
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, &Error{File: file, Msg: err.Error()}
		}
	}
	if flags != nil {
		var bindErr error
		flags.VisitAll(func(f *pflag.Flag) {
			if key, ok := flagKeys[f.Name]; ok {
				if err := v.BindPFlag(key, f); err != nil {
					bindErr = err
				}
			}
		})
		if bindErr != nil {
			return nil, bindErr
		}
	}
	// Environment variables are only looked up for keys viper knows; lists
	// from the environment are comma or space separated.
	for _, k := range v.AllKeys() {
		v.Get(k)
	}
	var c Config
	err := v.UnmarshalExact(&c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		stringToSliceHook,
	)))
	if err != nil {
		return nil, decodeError(file, lines, err)
	}
	if err := c.Validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) && ce.File == "" {
			ce.File = file
			ce.Line = lineOf(lines, ce.Key)
		}
		return nil, err
	}
	return &c, nil
}

// flagKeys maps command-line flags to configuration keys.
var flagKeys = map[string]string{
	"protect":     "protect.paths",
	"output-file": "outputs.file.path",
	"stdout":      "outputs.stdout.enabled",
	"log-level":   "log.level",
}

func stringToSliceHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []string{}, nil
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }), nil
}

// Validate checks values that decoding cannot.
func (c *Config) Validate() error {
	if len(c.Protect.Paths) == 0 {
		return &Error{Key: "protect.paths", Msg: "at least one directory is required"}
	}
	for i, p := range c.Protect.Paths {
		key := fmt.Sprintf("protect.paths[%d]", i)
		if p == "" {
			return &Error{Key: key, Msg: "empty path"}
		}
		st, err := os.Stat(p)
		if err != nil {
			return &Error{Key: key, Msg: fmt.Sprintf("%s: %v", p, errors.Unwrap(err))}
		}
		if !st.IsDir() {
			return &Error{Key: key, Msg: p + ": not a directory"}
		}
	}
	rb := c.Sensor.RingBufferBytes
	if rb < 4096 || rb&(rb-1) != 0 {
		return &Error{Key: "sensor.ring_buffer_bytes", Msg: fmt.Sprintf("%d is not a power of two of at least 4096", rb)}
	}
	if c.Sensor.WakeupBytes < 0 || c.Sensor.WakeupBytes >= rb {
		return &Error{Key: "sensor.wakeup_bytes", Msg: fmt.Sprintf("%d must be at least 0 and below sensor.ring_buffer_bytes", c.Sensor.WakeupBytes)}
	}
	if c.Sensor.PollInterval <= 0 || c.Sensor.PollInterval > 10*time.Second {
		return &Error{Key: "sensor.poll_interval", Msg: fmt.Sprintf("%s must be above 0 and at most 10s", c.Sensor.PollInterval)}
	}
	if c.Sensor.QueueSize < 1 {
		return &Error{Key: "sensor.queue_size", Msg: fmt.Sprintf("%d must be at least 1", c.Sensor.QueueSize)}
	}
	if c.Sensor.UDPSendDedupe < 0 {
		return &Error{Key: "sensor.udp_send_dedupe", Msg: "must not be negative"}
	}
	if c.Sensor.FoldWindow < 0 || c.Sensor.FoldWindow > time.Minute {
		return &Error{Key: "sensor.fold_window", Msg: fmt.Sprintf("%s must be between 0 (off) and 1m", c.Sensor.FoldWindow)}
	}
	if !c.Outputs.Stdout.Enabled && c.Outputs.File.Path == "" {
		return &Error{Key: "outputs", Msg: "no output enabled: set outputs.file.path or outputs.stdout.enabled"}
	}
	if c.Outputs.File.Path != "" {
		if c.Outputs.File.MaxBytes < 4096 {
			return &Error{Key: "outputs.file.max_bytes", Msg: fmt.Sprintf("%d is below 4096", c.Outputs.File.MaxBytes)}
		}
		if c.Outputs.File.MaxBackups < 0 {
			return &Error{Key: "outputs.file.max_backups", Msg: "must not be negative"}
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return &Error{Key: "log.level", Msg: fmt.Sprintf("%q is not one of debug, info, warn, error", c.Log.Level)}
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return &Error{Key: "log.format", Msg: fmt.Sprintf("%q is not one of text, json", c.Log.Format)}
	}
	if c.Content.SampleBytes < 0 || c.Content.SampleBytes > 4096 {
		return &Error{Key: "content.sample_bytes", Msg: fmt.Sprintf("%d must be between 0 and 4096", c.Content.SampleBytes)}
	}
	if c.Content.HashKey == "" && c.Content.HashKeyFile == "" && c.Content.SampleBytes > 0 {
		return &Error{Key: "content.hash_key", Msg: "set content.hash_key or content.hash_key_file (or content.sample_bytes: 0)"}
	}
	if c.Health.Interval < time.Second {
		return &Error{Key: "health.interval", Msg: fmt.Sprintf("%s is below 1s", c.Health.Interval)}
	}
	return nil
}

// knownKeys are every leaf key of Config.
func knownKeys() map[string]bool {
	keys := map[string]bool{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Tag.Get("mapstructure")
			if name == "" {
				continue
			}
			k := prefix + name
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				keys[k] = true
				walk(f.Type, k+".")
				continue
			}
			keys[k] = true
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return keys
}

// keyTypes gives the Go type of each leaf key, for the reference.
func keyTypes() map[string]string {
	out := map[string]string{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			k := prefix + f.Tag.Get("mapstructure")
			switch {
			case f.Type == reflect.TypeOf(time.Duration(0)):
				out[k] = "duration"
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, k+".")
			case f.Type.Kind() == reflect.Slice:
				out[k] = "list of " + f.Type.Elem().Kind().String()
			default:
				out[k] = f.Type.Kind().String()
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}

// Keys lists every configuration key, sorted (for docs and tests).
func Keys() []string {
	return sortedKeys(knownKeys())
}

func hasKnownChild(known map[string]bool, k string) bool {
	for kk := range known {
		if strings.HasPrefix(kk, k+".") {
			return true
		}
	}
	return false
}

// suggest names the known key closest to a misspelt one, if any is close.
func suggest(k string, known map[string]bool) string {
	best, bestD := "", 3
	for _, kk := range sortedKeys(known) {
		if d := editDistance(k, kk); d < bestD {
			best, bestD = kk, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// keyLines maps each dotted key of a YAML mapping document to its line.
func keyLines(data []byte) (map[string]int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	lines := map[string]int{}
	if len(doc.Content) == 0 {
		return lines, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the document must be a mapping of keys", root.Line)
	}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := prefix + strings.ToLower(k.Value)
			lines[key] = k.Line
			if val.Kind == yaml.MappingNode {
				walk(val, key+".")
			}
		}
	}
	walk(root, "")
	return lines, nil
}

func lineOf(lines map[string]int, key string) int {
	for k := key; k != ""; {
		if l, ok := lines[k]; ok {
			return l
		}
		if i := strings.IndexAny(k, "[."); i >= 0 {
			k = k[:strings.LastIndexAny(k, "[.")]
		} else {
			break
		}
	}
	return 0
}

func yamlLine(err error) int {
	var n int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &n)
	}
	return n
}

func yamlMsg(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "line ") {
		msg = msg[i+2:]
	}
	return msg
}

// decodeError turns a mapstructure error into one naming the key and line.
func decodeError(file string, lines map[string]int, err error) error {
	msg := err.Error()
	// mapstructure: "decoding failed ...:\n\ncannot parse 'sensor.queue_size' as int: ..."
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		i := strings.Index(l, "'")
		if i < 0 {
			continue
		}
		if j := strings.Index(l[i+1:], "'"); j > 0 {
			key := strings.ToLower(l[i+1 : i+1+j])
			m := strings.Replace(l, "'"+l[i+1:i+1+j]+"'", "value", 1)
			return &Error{File: file, Line: lineOf(lines, key), Key: key, Msg: m}
		}
	}
	return &Error{File: file, Msg: msg}
}
