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

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/elasticsearch"
	"github.com/bansho-sec/bansho/exporters/file"
	"github.com/bansho-sec/bansho/exporters/kafka"
	"github.com/bansho-sec/bansho/internal/readfile"
	"github.com/bansho-sec/bansho/internal/spell"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/pipeline/content"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/sensor"
)

// Config is the whole configuration. Keys are the mapstructure tags joined
// with dots; the environment variable is BANSHO_ plus the key in upper case
// with dots as underscores (protect.paths -> BANSHO_PROTECT_PATHS).
type Config struct {
	Protect  Protect  `mapstructure:"protect"`
	Sensor   Sensor   `mapstructure:"sensor"`
	Outputs  Outputs  `mapstructure:"outputs"`
	Log      Log      `mapstructure:"log"`
	Health   Health   `mapstructure:"health"`
	Content  Content  `mapstructure:"content"`
	Store    Store    `mapstructure:"store"`
	Rules    Rules    `mapstructure:"rules"`
	Enrich   Enrich   `mapstructure:"enrich"`
	Metrics  Metrics  `mapstructure:"metrics"`
	Shutdown Shutdown `mapstructure:"shutdown"`
}

// Protect names the data bansho guards.
type Protect struct {
	// Paths are directories whose files are protected data (My Number files).
	Paths []string `mapstructure:"paths"`
	// IntegrityPaths are directories (or files) whose modification is
	// reported (never their reads): system binaries, audit configuration,
	// the sensor's own files. The running binary, the configuration file,
	// the output directory and the hash key file are always added.
	IntegrityPaths []string `mapstructure:"integrity_paths"`
}

// Metrics configures the Prometheus and health endpoint.
type Metrics struct {
	// Listen is host:port of /metrics, /healthz and /readyz; empty disables.
	Listen string `mapstructure:"listen"`
}

// Shutdown bounds the drain at SIGTERM.
type Shutdown struct {
	Timeout time.Duration `mapstructure:"timeout"`
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
	Stdout        StdoutOutput        `mapstructure:"stdout"`
	File          FileOutput          `mapstructure:"file"`
	Kafka         KafkaOutput         `mapstructure:"kafka"`
	Elasticsearch ElasticsearchOutput `mapstructure:"elasticsearch"`
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
	// StallAfter: /healthz fails when a loop has not turned for this long.
	StallAfter time.Duration `mapstructure:"stall_after"`
}

// Content configures the content detector.
type Content struct {
	// HashKey keys the HMAC of detected numbers (hex or plain text). Set it
	// per deployment, from a secret; BANSHO_CONTENT_HASH_KEY works too.
	HashKey string `mapstructure:"hash_key" secret:"true"`
	// HashKeyFile is used when HashKey is empty; created with a random key
	// (0600) when missing, so hashes are stable across restarts.
	HashKeyFile string `mapstructure:"hash_key_file"`
	// SampleBytes of each write or send by a tainted process are scanned.
	SampleBytes int `mapstructure:"sample_bytes"`
	// TLSLibraries are glob patterns of libssl files whose SSL_write is
	// probed for plaintext; others are found from processes' maps.
	TLSLibraries []string `mapstructure:"tls_libraries"`
	// RestScan: files a tainted process wrote more of than the samples
	// show (cp, long writes) are scanned whole once written.
	RestScan RestScan `mapstructure:"rest_scan"`
}

// RestScan configures the at-rest scan of files written past the sample
// (pipeline.RestScanner).
type RestScan struct {
	Enabled        bool          `mapstructure:"enabled"`
	MaxBytes       int64         `mapstructure:"max_bytes"`
	BytesPerSecond int64         `mapstructure:"bytes_per_second"`
	Settle         time.Duration `mapstructure:"settle"`
	Queue          int           `mapstructure:"queue"`
}

// Store configures the local event store (internal/store): every
// document is kept there, and the exporters read from it.
type Store struct {
	Enabled      bool          `mapstructure:"enabled"`
	Dir          string        `mapstructure:"dir"`
	MaxBytes     int64         `mapstructure:"max_bytes"`
	MinFreeBytes int64         `mapstructure:"min_free_bytes"`
	MaxAge       time.Duration `mapstructure:"max_age"`
	AlertMaxAge  time.Duration `mapstructure:"alert_max_age"`
	SegmentBytes int64         `mapstructure:"segment_bytes"`
	SegmentAge   time.Duration `mapstructure:"segment_age"`
	Fsync        bool          `mapstructure:"fsync"`
	Compress     bool          `mapstructure:"compress"`
}

// Rules configures the rule engine (docs/rules.md).
type Rules struct {
	Enabled bool `mapstructure:"enabled"`
	// Dir holds the rule files; empty runs the default pack built into
	// the binary.
	Dir          string `mapstructure:"dir"`
	Watch        bool   `mapstructure:"watch"`
	MaxStateKeys int    `mapstructure:"max_state_keys"`
	// Dedupe: the same rule for the same process, file and destination
	// alerts at most once per this window; 0 alerts every time.
	Dedupe time.Duration `mapstructure:"dedupe"`
	// Clock, RFC 3339, is the time the sensor pretends it started at, for
	// windows and business hours (tests, drills); empty is the real clock.
	Clock         string        `mapstructure:"clock"`
	BusinessHours BusinessHours `mapstructure:"business_hours"`
	// Lists replace the items of rule lists (allowlists) by name.
	Lists []RuleList `mapstructure:"lists"`
}

// BusinessHours are the site's working hours, for business_hours rules.
type BusinessHours struct {
	Timezone string   `mapstructure:"timezone"`
	Weekdays []string `mapstructure:"weekdays"`
	Start    string   `mapstructure:"start"`
	End      string   `mapstructure:"end"`
	Holidays []string `mapstructure:"holidays"`
}

// RuleList is the items of one rule list.
type RuleList struct {
	Name  string   `mapstructure:"name"`
	Items []string `mapstructure:"items"`
}

// dur writes a default duration as a person would: 1h, not 1h0m0s.
func dur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Defaults are the embedded defaults: run with no file at all.
//
// The defaults of the sensor, the store and the exporters are read from
// their packages (sensor.DefaultConfig, store.Default*, kafka and
// elasticsearch DefaultOptions, delivery and file Default*), so each is
// written once.
func Defaults() map[string]any {
	sd := sensor.DefaultConfig()
	kd := kafka.DefaultOptions()
	ed := elasticsearch.DefaultOptions()
	d := map[string]any{
		"protect.paths":                      []string{"/srv/mynumber"},
		"protect.integrity_paths":            []string{"/usr/bin", "/usr/sbin", "/usr/lib/systemd", "/etc/audit", "/etc/bansho"},
		"metrics.listen":                     "127.0.0.1:9090",
		"shutdown.timeout":                   "10s",
		"health.stall_after":                 "30s",
		"sensor.ring_buffer_bytes":           sd.RingBufferBytes,
		"sensor.wakeup_bytes":                sd.WakeupBytes,
		"sensor.poll_interval":               dur(sd.PollInterval),
		"sensor.queue_size":                  sd.QueueSize,
		"sensor.trace_accept":                sd.TraceAccept,
		"sensor.trace_udp_send":              sd.TraceUDPSend,
		"sensor.udp_send_dedupe":             dur(sd.SendDedupe),
		"sensor.fold_window":                 dur(sd.FoldWindow),
		"outputs.stdout.enabled":             true,
		"outputs.file.path":                  "/var/lib/bansho/events.json",
		"outputs.file.max_bytes":             int64(file.DefaultMaxBytes),
		"outputs.file.max_backups":           file.DefaultMaxBackups,
		"outputs.file.fsync":                 false,
		"log.level":                          "info",
		"log.format":                         "text",
		"health.interval":                    "30s",
		"content.hash_key":                   "",
		"content.hash_key_file":              "/var/lib/bansho/content-hash.key",
		"content.sample_bytes":               sd.SampleBytes,
		"content.rest_scan.enabled":          true,
		"content.rest_scan.max_bytes":        int64(64 << 20),
		"content.rest_scan.bytes_per_second": int64(32 << 20),
		"content.rest_scan.settle":           "2s",
		"content.rest_scan.queue":            1024,
		"content.tls_libraries": []string{"/usr/lib/x86_64-linux-gnu/libssl.so.*", "/lib/x86_64-linux-gnu/libssl.so.*",
			"/usr/lib64/libssl.so.*", "/usr/lib/libssl.so.*", "/usr/local/lib*/libssl.so.*"},
		"store.enabled":        true,
		"store.dir":            "/var/lib/bansho/store",
		"store.max_bytes":      int64(store.DefaultMaxBytes),
		"store.min_free_bytes": int64(store.DefaultMinFreeBytes),
		"store.max_age":        "2160h",
		"store.alert_max_age":  "8760h",
		"store.segment_bytes":  int64(store.DefaultSegmentBytes),
		"store.segment_age":    dur(store.DefaultSegmentAge),
		"store.fsync":          true,
		"store.compress":       true,

		"outputs.kafka.enabled":                   false,
		"outputs.kafka.brokers":                   []string{},
		"outputs.kafka.topics.events":             kd.Topics.Events,
		"outputs.kafka.topics.alerts":             kd.Topics.Alerts,
		"outputs.kafka.topics.health":             kd.Topics.Health,
		"outputs.kafka.compression":               kd.Compression,
		"outputs.kafka.batch_size":                kd.BatchSize,
		"outputs.kafka.batch_bytes":               kd.BatchBytes,
		"outputs.kafka.batch_timeout":             dur(kd.BatchTimeout),
		"outputs.kafka.write_timeout":             dur(kd.WriteTimeout),
		"outputs.kafka.allow_auto_topic_creation": false,
		"outputs.kafka.client_id":                 kd.ClientID,
		"outputs.kafka.tls.enabled":               false,
		"outputs.kafka.tls.ca_file":               "",
		"outputs.kafka.tls.cert_file":             "",
		"outputs.kafka.tls.key_file":              "",
		"outputs.kafka.tls.server_name":           "",
		"outputs.kafka.tls.insecure_skip_verify":  false,
		"outputs.kafka.sasl.mechanism":            "",
		"outputs.kafka.sasl.username":             "",
		"outputs.kafka.sasl.password":             "",
		"outputs.kafka.batch_records":             delivery.DefaultBatchRecords,
		"outputs.kafka.backoff_max":               dur(delivery.DefaultBackoffMax),

		"outputs.elasticsearch.enabled":            false,
		"outputs.elasticsearch.addresses":          []string{},
		"outputs.elasticsearch.mode":               ed.Mode,
		"outputs.elasticsearch.indices.events":     ed.Indices.Events,
		"outputs.elasticsearch.indices.alerts":     ed.Indices.Alerts,
		"outputs.elasticsearch.indices.health":     ed.Indices.Health,
		"outputs.elasticsearch.document_id":        ed.DocumentID,
		"outputs.elasticsearch.username":           "",
		"outputs.elasticsearch.password":           "",
		"outputs.elasticsearch.api_key":            "",
		"outputs.elasticsearch.ca_file":            "",
		"outputs.elasticsearch.headers":            []string{},
		"outputs.elasticsearch.workers":            ed.Workers,
		"outputs.elasticsearch.flush_bytes":        ed.FlushBytes,
		"outputs.elasticsearch.max_document_bytes": ed.MaxDocumentBytes,
		"outputs.elasticsearch.compress":           false,
		"outputs.elasticsearch.request_timeout":    dur(ed.RequestTimeout),
		"outputs.elasticsearch.template.install":   ed.Template.Install,
		"outputs.elasticsearch.template.name":      ed.Template.Name,
		"outputs.elasticsearch.batch_records":      delivery.DefaultBatchRecords,
		"outputs.elasticsearch.backoff_max":        dur(delivery.DefaultBackoffMax),

		// The rule engine (docs/rules.md).
		"rules.enabled":                 true,
		"rules.dir":                     "",
		"rules.watch":                   true,
		"rules.max_state_keys":          4096,
		"rules.dedupe":                  "1m",
		"rules.clock":                   "",
		"rules.business_hours.timezone": "Asia/Tokyo",
		"rules.business_hours.weekdays": []string{"mon", "tue", "wed", "thu", "fri"},
		"rules.business_hours.start":    "08:00",
		"rules.business_hours.end":      "19:00",
		"rules.business_hours.holidays": []string{},
		"rules.lists":                   []any{},
	}
	for k, v := range enrichDefaults {
		d[k] = v
	}
	return d
}

// Descriptions document every key (docs/configuration.md is generated
// from them and checked by a test).
var Descriptions = map[string]string{
	"protect.paths":                           "Directories whose files are protected data. Required; each must exist.",
	"sensor.ring_buffer_bytes":                "Kernel ring buffer size in bytes: a power of two, at least 4096.",
	"sensor.wakeup_bytes":                     "The kernel wakes the reader once this many bytes are pending; below the ring size.",
	"sensor.poll_interval":                    "The reader also polls this often, so no record waits longer (0 < d <= 10s).",
	"sensor.queue_size":                       "Decoded events waiting for the pipeline; past it, events are dropped and counted.",
	"sensor.trace_accept":                     "Report inbound accepted connections.",
	"sensor.trace_udp_send":                   "Report datagrams sent to an explicit destination.",
	"sensor.udp_send_dedupe":                  "Report a process's datagrams to one destination at most once per this period.",
	"sensor.fold_window":                      "Count repeats of the same call (process, operation, object, result) within this long of a reported one in the kernel, and report them as one summary with bansho.repeat.*; 0 disables, at most 1m. Calls that carry content samples or change taint are never folded.",
	"outputs.stdout.enabled":                  "Write JSON lines to standard output.",
	"outputs.file.path":                       "JSON-lines output file; empty disables it. The directory is created 0700, the file 0600; an existing file is tightened, and so is an existing directory that holds only the output and its rotated files; one that holds other files (/var/log) is left as it is, with a warning; a directory others can write to (a shared one like /tmp) or owned by another user is refused: give the output a directory of its own.",
	"outputs.file.max_bytes":                  "Rotate the file at this size (at least 4096).",
	"outputs.file.max_backups":                "Rotated files kept (path.1 is the newest); what rotation removes is counted in bansho.health.counters.file_removed_{files,bytes}.",
	"outputs.file.fsync":                      "fsync the file at every flush.",
	"log.level":                               "bansho's own log on stderr: debug, info, warn, error.",
	"log.format":                              "text or json.",
	"health.interval":                         "How often a sensor-health document is written (at least 1s).",
	"content.hash_key":                        "Key of the HMAC-SHA256 of detected numbers (32+ hex digits are decoded as hex); set it per deployment from a secret so one person counts once across hosts. At least 16 bytes of text or 32 hex digits (openssl rand -hex 32): a My Number has only 10^11 possible values, so whoever guesses a short key can reverse every hash.",
	"content.hash_key_file":                   "Where the key is kept when content.hash_key is empty; created 0600 with a random key if missing (hashes then match only on this host).",
	"content.sample_bytes":                    "Bytes of each write or send by a process that read protected data that are scanned for My Numbers (0 to 4096; 0 disables).",
	"content.rest_scan.enabled":               "Scan whole, once written, each unprotected regular file a process that read protected data wrote more of than the samples show (a copy by cp, writes longer than content.sample_bytes), so its event counts the people of the whole file (event.action content-scan). Needs content.sample_bytes above 0.",
	"content.rest_scan.max_bytes":             "Files larger than this are not scanned at rest (counted as content_rest_skipped_too_large).",
	"content.rest_scan.bytes_per_second":      "Rate at which files are read for the at-rest scan; the scan waits, it does not drop.",
	"content.rest_scan.settle":                "A file is scanned once no write to it has been seen for this long, or when its writer exits.",
	"content.rest_scan.queue":                 "Files waiting for the at-rest scan at most; more are counted as content_rest_skipped_queue_full.",
	"store.enabled":                           "Keep every document in the local store (exporters to Kafka and Elasticsearch read from it; `bansho timeline`, `replay` and `store verify` use it).",
	"store.dir":                               "Store directory, created 0700 (files 0600). One sensor writes it at a time.",
	"store.max_bytes":                         "Most bytes the store holds (at least 1 MiB); past it the oldest routine segments are removed, alerts last.",
	"store.min_free_bytes":                    "Free space the store leaves on its file system; below it old routine segments are removed, then routine documents refused (alerts are still written).",
	"store.max_age":                           "Routine documents (events, health, state) older than this are removed; 0 keeps them until space runs out.",
	"store.alert_max_age":                     "Alerts older than this are removed; 0 keeps them until space runs out.",
	"store.segment_bytes":                     "Start a new segment file past this size on disk, compressed (64 KiB to 1 GiB; at most store.max_bytes/8): about ten times as much in documents. Retention removes whole segments.",
	"store.segment_age":                       "... or when the segment is this old, so age retention is not held up by a slow segment.",
	"store.fsync":                             "fsync the store at every flush (about 5 a second), so a power cut loses at most the last flush interval.",
	"store.compress":                          "Store the documents of each write as one zstd-compressed frame (about 7-10 times smaller; a damaged frame loses that one write's documents).",
	"outputs.kafka.enabled":                   "Deliver the store to Kafka (needs store.enabled). At least once: a document is committed when the brokers acknowledged it (acks=all).",
	"outputs.kafka.brokers":                   "Seed brokers, host:port.",
	"outputs.kafka.topics.events":             "Topic of routine events (event.kind event).",
	"outputs.kafka.topics.alerts":             "Topic of alerts (event.kind alert).",
	"outputs.kafka.topics.health":             "Topic of sensor health and state documents (event.kind metric and state).",
	"outputs.kafka.compression":               "none, gzip, snappy, lz4 or zstd.",
	"outputs.kafka.batch_size":                "Messages per produce request and partition.",
	"outputs.kafka.batch_bytes":               "Bytes per produce request and partition (keep at or below the brokers' message.max.bytes); a larger document goes to the dead letters.",
	"outputs.kafka.batch_timeout":             "How long a partial batch waits for more messages.",
	"outputs.kafka.write_timeout":             "Timeout of one produce request.",
	"outputs.kafka.allow_auto_topic_creation": "Let the brokers create missing topics. Off: a missing topic is reported, counted and retried; nothing is lost.",
	"outputs.kafka.client_id":                 "Client id the brokers see (quotas, logs).",
	"outputs.kafka.tls.enabled":               "Encrypt with TLS (1.2 or later).",
	"outputs.kafka.tls.ca_file":               "PEM CA bundle for the brokers' certificates; empty: the system roots.",
	"outputs.kafka.tls.cert_file":             "Client certificate (PEM), with tls.key_file, for mutual TLS.",
	"outputs.kafka.tls.key_file":              "Client key (PEM).",
	"outputs.kafka.tls.server_name":           "Name expected in the brokers' certificates, when it is not the broker host name.",
	"outputs.kafka.tls.insecure_skip_verify":  "Do not verify the brokers' certificates (tests only).",
	"outputs.kafka.sasl.mechanism":            "SASL mechanism: empty (none), plain, scram-sha-256 or scram-sha-512.",
	"outputs.kafka.sasl.username":             "SASL user.",
	"outputs.kafka.sasl.password":             "SASL password; prefer BANSHO_OUTPUTS_KAFKA_SASL_PASSWORD.",
	"outputs.kafka.batch_records":             "Records read from the store per delivery attempt.",
	"outputs.kafka.backoff_max":               "Longest wait between attempts while the brokers fail (from 200ms, doubling).",

	"outputs.elasticsearch.enabled":            "Deliver the store to Elasticsearch (needs store.enabled). At least once: a document is committed when its bulk item came back created.",
	"outputs.elasticsearch.addresses":          "Base URLs of the nodes, http:// or https://.",
	"outputs.elasticsearch.mode":               "data_stream (op_type create into the indices.* data streams) or index (dated indices: indices.* plus -YYYY.MM.DD of @timestamp).",
	"outputs.elasticsearch.indices.events":     "Data stream (or index prefix) of routine events.",
	"outputs.elasticsearch.indices.alerts":     "Data stream (or index prefix) of alerts.",
	"outputs.elasticsearch.indices.health":     "Data stream (or index prefix) of sensor health and state documents.",
	"outputs.elasticsearch.document_id":        "event_id: _id is the document's event.id, so a document resent after a failure is stored once; none: Elasticsearch picks ids.",
	"outputs.elasticsearch.username":           "Basic authentication user.",
	"outputs.elasticsearch.password":           "Basic authentication password; prefer BANSHO_OUTPUTS_ELASTICSEARCH_PASSWORD.",
	"outputs.elasticsearch.api_key":            "API key (the base64 encoded id:key); instead of username and password. Prefer BANSHO_OUTPUTS_ELASTICSEARCH_API_KEY.",
	"outputs.elasticsearch.ca_file":            "PEM CA bundle for https; empty: the system roots.",
	"outputs.elasticsearch.headers":            "Extra request headers, \"Name: value\" (VictoriaLogs: VL-Time-Field: @timestamp, VL-Stream-Fields: host.name).",
	"outputs.elasticsearch.workers":            "Bulk requests in flight.",
	"outputs.elasticsearch.flush_bytes":        "Bytes per bulk request (below the cluster's http.max_content_length).",
	"outputs.elasticsearch.max_document_bytes": "Larger documents go to the dead letters instead of being sent.",
	"outputs.elasticsearch.compress":           "gzip request bodies.",
	"outputs.elasticsearch.request_timeout":    "Timeout of one bulk request.",
	"outputs.elasticsearch.template.install":   "Install the ECS index template at start (a 403 is logged, not fatal).",
	"outputs.elasticsearch.template.name":      "Name of the index template.",
	"outputs.elasticsearch.batch_records":      "Records read from the store per delivery attempt.",
	"outputs.elasticsearch.backoff_max":        "Longest wait between attempts while the cluster fails or answers 429 (from 200ms, doubling).",
	"content.tls_libraries":                    "Glob patterns of libssl files whose SSL_write/SSL_write_ex are probed at start, so HTTPS uploads are scanned before encryption; copies in containers or bundled with programs are found from /proc/PID/maps when a process connects.",

	// The rule engine (docs/rules.md).
	"rules.enabled":                 "Run the rule engine over every event; alerts are documents with event.kind alert in the same outputs.",
	"rules.dir":                     "Directory of rule files (*.yaml, read in name order); empty runs the default pack built into the binary.",
	"rules.watch":                   "Reload rules.dir when a file in it changes (SIGHUP always reloads); a set that does not compile keeps the running one and writes a rules-reload-failed state document.",
	"rules.max_state_keys":          "Keys each sequence or threshold rule keeps (least recently used ones are forgotten past it; at least 16).",
	"rules.dedupe":                  "The same rule for the same process, file and destination alerts at most once per this window (cp's many writes of one copy); 0s alerts on every event.",
	"rules.clock":                   "RFC 3339 time the sensor pretends it started at, for windows and business hours (tests and drills); empty uses the real clock.",
	"rules.business_hours.timezone": "IANA time zone of the business hours.",
	"rules.business_hours.weekdays": "Working days: mon, tue, wed, thu, fri, sat, sun.",
	"rules.business_hours.start":    "Start of business hours, HH:MM local time.",
	"rules.business_hours.end":      "End of business hours, HH:MM (before start: the hours run past midnight).",
	"rules.business_hours.holidays": "Days that are not business days, YYYY-MM-DD.",
	"rules.lists":                   "Rule lists to replace, as a list of {name, items} (for example allowed_destination_networks, protected_data_readers, backup_programs). A name the rules do not define is refused at start and by config check (a misspelt allowlist would allow nothing).",
	"protect.integrity_paths":       "Directories or files whose modification (open for write, truncate, rename, unlink, chmod, chown) is reported with bansho.file.integrity: true, never their reads. Absolute; missing ones are skipped with a warning. The running binary, the configuration file, the output directory and the hash key file are always added (bansho.self_target: true).",
	"metrics.listen":                "host:port serving /metrics (Prometheus), /healthz and /readyz; empty disables. Keep it on loopback or a node-local address.",
	"shutdown.timeout":              "At SIGTERM/SIGINT: how long detaching, draining the ring buffer and the pipeline and flushing the outputs may take before bansho exits 1 naming what did not drain (1s to 5m). A second signal exits at once.",
	"health.stall_after":            "/healthz answers 503 when the ring-buffer reader or the pipeline has not turned for this long, or the health loop for this long past health.interval (at least 1s).",
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
	// A path named after a person's My Number (a protected directory, a
	// file) is shown masked, as the sensor's documents show it.
	s, _ := ecs.Redact(b.String())
	return s
}

// MaxFileBytes bounds a configuration file: a larger one is refused
// before it is parsed (a real configuration is a few KiB; parsing a 12 MB
// one took seconds and most of a GiB of memory).
const MaxFileBytes = 1 << 20

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
		data, err := readfile.Regular(file, MaxFileBytes, "a configuration file")
		if err != nil {
			// The error starts with the file name, which Error writes.
			return nil, &Error{File: file, Msg: "cannot read configuration: " + strings.TrimPrefix(err.Error(), file+": ")}
		}
		if l, col := readfile.BadUTF8(data); l > 0 {
			return nil, &Error{File: file, Line: l, Msg: fmt.Sprintf("not valid YAML: not UTF-8 (column %d)", col)}
		}
		lines, err = keyLines(data)
		if err != nil {
			return nil, &Error{File: file, Line: yamlLine(err), Msg: "not valid YAML: " + yamlMsg(err)}
		}
		known := knownKeys()
		for _, k := range sortedKeys(lines) {
			if s := secretParent(k); s != "" {
				// password: {hunter2} is a mapping whose key is the
				// secret: name the secret key, never what is under it.
				return nil, &Error{File: file, Line: lines[s], Key: s, Msg: "must be " + typeName(s) + ", not a mapping (the value is not shown: it is a secret)"}
			}
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
	"metrics":     "metrics.listen",
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
	if !c.Outputs.Stdout.Enabled && c.Outputs.File.Path == "" && !c.Store.Enabled {
		return &Error{Key: "outputs", Msg: "no output enabled: set outputs.file.path, outputs.stdout.enabled or store.enabled"}
	}
	if err := c.Store.validate(); err != nil {
		return err
	}
	if err := c.Outputs.validateExporters(c.Store.Enabled); err != nil {
		return err
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
	if r := c.Content.RestScan; r.Enabled {
		if r.MaxBytes < 4096 || r.MaxBytes > 1<<40 {
			return &Error{Key: "content.rest_scan.max_bytes", Msg: fmt.Sprintf("%d must be between 4096 and 1 TiB", r.MaxBytes)}
		}
		if r.BytesPerSecond < 64<<10 {
			return &Error{Key: "content.rest_scan.bytes_per_second", Msg: fmt.Sprintf("%d is below 65536", r.BytesPerSecond)}
		}
		if r.Settle < 100*time.Millisecond || r.Settle > time.Hour {
			return &Error{Key: "content.rest_scan.settle", Msg: fmt.Sprintf("%s must be between 100ms and 1h", r.Settle)}
		}
		if r.Queue < 1 || r.Queue > 1<<20 {
			return &Error{Key: "content.rest_scan.queue", Msg: fmt.Sprintf("%d must be between 1 and 1048576", r.Queue)}
		}
	}
	if c.Content.HashKey != "" {
		if _, err := content.ParseHashKey(c.Content.HashKey); err != nil {
			return &Error{Key: "content.hash_key", Msg: strings.TrimPrefix(err.Error(), "content: ")}
		}
	}
	if c.Content.HashKey == "" && c.Content.HashKeyFile == "" && c.Content.SampleBytes > 0 {
		return &Error{Key: "content.hash_key", Msg: "set content.hash_key or content.hash_key_file (or content.sample_bytes: 0)"}
	}
	if c.Health.Interval < time.Second {
		return &Error{Key: "health.interval", Msg: fmt.Sprintf("%s is below 1s", c.Health.Interval)}
	}
	if err := c.Rules.validate(); err != nil {
		return err
	}
	if err := c.Enrich.validate(); err != nil {
		return err
	}
	return c.validateOps()
}

func (r *Rules) validate() error {
	if r.Dir != "" {
		st, err := os.Stat(r.Dir)
		if err != nil {
			return &Error{Key: "rules.dir", Msg: fmt.Sprintf("%s: %v", r.Dir, errors.Unwrap(err))}
		}
		if !st.IsDir() {
			return &Error{Key: "rules.dir", Msg: r.Dir + ": not a directory"}
		}
	}
	if r.Dedupe < 0 {
		return &Error{Key: "rules.dedupe", Msg: "must not be negative"}
	}
	if r.MaxStateKeys < 16 {
		return &Error{Key: "rules.max_state_keys", Msg: fmt.Sprintf("%d is below 16", r.MaxStateKeys)}
	}
	if r.Clock != "" {
		if _, err := time.Parse(time.RFC3339, r.Clock); err != nil {
			return &Error{Key: "rules.clock", Msg: fmt.Sprintf("%q is not an RFC 3339 time (2026-12-01T23:00:00+09:00)", r.Clock)}
		}
	}
	b := &r.BusinessHours
	if _, err := time.LoadLocation(b.Timezone); err != nil || b.Timezone == "" {
		return &Error{Key: "rules.business_hours.timezone", Msg: fmt.Sprintf("%q is not a time zone (Asia/Tokyo)", b.Timezone)}
	}
	for i, d := range b.Weekdays {
		switch strings.ToLower(d) {
		case "mon", "tue", "wed", "thu", "fri", "sat", "sun":
		default:
			return &Error{Key: fmt.Sprintf("rules.business_hours.weekdays[%d]", i), Msg: fmt.Sprintf("%q is not one of mon, tue, wed, thu, fri, sat, sun", d)}
		}
	}
	for _, k := range []struct{ key, v string }{{"rules.business_hours.start", b.Start}, {"rules.business_hours.end", b.End}} {
		if _, err := time.Parse("15:04", k.v); err != nil {
			return &Error{Key: k.key, Msg: fmt.Sprintf("%q is not HH:MM", k.v)}
		}
	}
	for i, h := range b.Holidays {
		if _, err := time.Parse("2006-01-02", h); err != nil {
			return &Error{Key: fmt.Sprintf("rules.business_hours.holidays[%d]", i), Msg: fmt.Sprintf("%q is not YYYY-MM-DD", h)}
		}
	}
	for i, l := range r.Lists {
		if l.Name == "" {
			return &Error{Key: fmt.Sprintf("rules.lists[%d].name", i), Msg: "empty list name"}
		}
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
		if d := spell.Distance(k, kk); d < bestD {
			best, bestD = kk, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
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
	// mapstructure quotes the value; a secret's is never shown.
	for _, l := range strings.Split(msg, "\n") {
		for _, k := range secretKeys() {
			if strings.Contains(strings.ToLower(l), "'"+k+"'") || strings.Contains(strings.ToLower(l), "'"+k+"[") {
				return &Error{File: file, Line: lineOf(lines, k), Key: k,
					Msg: "must be " + typeName(k) + wrongType(l) + " (the value is not shown: it is a secret)"}
			}
		}
	}
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

func (s *Store) validate() error {
	if !s.Enabled {
		return nil
	}
	if s.Dir == "" {
		return &Error{Key: "store.dir", Msg: "empty (set store.enabled: false to run without a store)"}
	}
	if s.MaxBytes < 1<<20 {
		return &Error{Key: "store.max_bytes", Msg: fmt.Sprintf("%d is below 1 MiB (1048576)", s.MaxBytes)}
	}
	if s.MinFreeBytes < 0 {
		return &Error{Key: "store.min_free_bytes", Msg: "must not be negative"}
	}
	if s.MaxAge < 0 {
		return &Error{Key: "store.max_age", Msg: "must not be negative"}
	}
	if s.AlertMaxAge < 0 {
		return &Error{Key: "store.alert_max_age", Msg: "must not be negative"}
	}
	if s.SegmentBytes < 64<<10 || s.SegmentBytes > 1<<30 {
		return &Error{Key: "store.segment_bytes", Msg: fmt.Sprintf("%d is not between 64 KiB (65536) and 1 GiB (1073741824)", s.SegmentBytes)}
	}
	if s.SegmentAge < time.Second {
		return &Error{Key: "store.segment_age", Msg: fmt.Sprintf("%s is below 1s", s.SegmentAge)}
	}
	return nil
}

// KafkaOutput configures the Kafka exporter (exporters/kafka), which
// delivers the store.
type KafkaOutput struct {
	Enabled                bool          `mapstructure:"enabled"`
	Brokers                []string      `mapstructure:"brokers"`
	Topics                 KafkaTopics   `mapstructure:"topics"`
	Compression            string        `mapstructure:"compression"`
	BatchSize              int           `mapstructure:"batch_size"`
	BatchBytes             int64         `mapstructure:"batch_bytes"`
	BatchTimeout           time.Duration `mapstructure:"batch_timeout"`
	WriteTimeout           time.Duration `mapstructure:"write_timeout"`
	AllowAutoTopicCreation bool          `mapstructure:"allow_auto_topic_creation"`
	ClientID               string        `mapstructure:"client_id"`
	TLS                    KafkaTLS      `mapstructure:"tls"`
	SASL                   KafkaSASL     `mapstructure:"sasl"`
	BatchRecords           int           `mapstructure:"batch_records"`
	BackoffMax             time.Duration `mapstructure:"backoff_max"`
}

// KafkaTopics name a topic per kind of document.
type KafkaTopics struct {
	Events string `mapstructure:"events"`
	Alerts string `mapstructure:"alerts"`
	Health string `mapstructure:"health"`
}

// KafkaTLS configures TLS to the brokers.
type KafkaTLS struct {
	Enabled            bool   `mapstructure:"enabled"`
	CAFile             string `mapstructure:"ca_file"`
	CertFile           string `mapstructure:"cert_file"`
	KeyFile            string `mapstructure:"key_file"`
	ServerName         string `mapstructure:"server_name"`
	InsecureSkipVerify bool   `mapstructure:"insecure_skip_verify"`
}

// KafkaSASL configures SASL authentication.
type KafkaSASL struct {
	Mechanism string `mapstructure:"mechanism"`
	Username  string `mapstructure:"username"`
	Password  string `mapstructure:"password" secret:"true"`
}

// ElasticsearchOutput configures the Elasticsearch exporter
// (exporters/elasticsearch), which delivers the store.
type ElasticsearchOutput struct {
	Enabled          bool                  `mapstructure:"enabled"`
	Addresses        []string              `mapstructure:"addresses"`
	Mode             string                `mapstructure:"mode"`
	Indices          ElasticsearchIndices  `mapstructure:"indices"`
	DocumentID       string                `mapstructure:"document_id"`
	Username         string                `mapstructure:"username"`
	Password         string                `mapstructure:"password" secret:"true"`
	APIKey           string                `mapstructure:"api_key" secret:"true"`
	CAFile           string                `mapstructure:"ca_file"`
	Headers          []string              `mapstructure:"headers" secret:"true"` // Authorization, tokens
	Workers          int                   `mapstructure:"workers"`
	FlushBytes       int                   `mapstructure:"flush_bytes"`
	MaxDocumentBytes int                   `mapstructure:"max_document_bytes"`
	Compress         bool                  `mapstructure:"compress"`
	RequestTimeout   time.Duration         `mapstructure:"request_timeout"`
	Template         ElasticsearchTemplate `mapstructure:"template"`
	BatchRecords     int                   `mapstructure:"batch_records"`
	BackoffMax       time.Duration         `mapstructure:"backoff_max"`
}

// ElasticsearchIndices name a data stream (or index prefix) per kind.
type ElasticsearchIndices struct {
	Events string `mapstructure:"events"`
	Alerts string `mapstructure:"alerts"`
	Health string `mapstructure:"health"`
}

// ElasticsearchTemplate controls the index template.
type ElasticsearchTemplate struct {
	Install bool   `mapstructure:"install"`
	Name    string `mapstructure:"name"`
}

// validateExporters checks what the exporters cannot check later with a
// file line: the rest (certificate files, topic and index names) is checked
// when they are built, with the key in the message.
func (o *Outputs) validateExporters(storeEnabled bool) error {
	k := &o.Kafka
	if k.Enabled {
		if !storeEnabled {
			return &Error{Key: "outputs.kafka.enabled", Msg: "the Kafka exporter delivers from the store: set store.enabled: true"}
		}
		if len(k.Brokers) == 0 {
			return &Error{Key: "outputs.kafka.brokers", Msg: "at least one broker (host:port) is required"}
		}
		switch k.Compression {
		case "none", "gzip", "snappy", "lz4", "zstd":
		default:
			return &Error{Key: "outputs.kafka.compression", Msg: fmt.Sprintf("%q is not one of none, gzip, snappy, lz4, zstd", k.Compression)}
		}
		switch strings.ToLower(k.SASL.Mechanism) {
		case "", "plain", "scram-sha-256", "scram-sha-512":
		default:
			return &Error{Key: "outputs.kafka.sasl.mechanism", Msg: fmt.Sprintf("%q is not one of plain, scram-sha-256, scram-sha-512", k.SASL.Mechanism)}
		}
		if k.BatchSize < 1 || k.BatchBytes < 1024 || k.BatchRecords < 1 {
			return &Error{Key: "outputs.kafka.batch_size", Msg: "batch_size and batch_records must be at least 1, batch_bytes at least 1024"}
		}
		if k.BatchTimeout <= 0 || k.WriteTimeout <= 0 || k.BackoffMax <= 0 {
			return &Error{Key: "outputs.kafka.write_timeout", Msg: "batch_timeout, write_timeout and backoff_max must be above 0"}
		}
	}
	e := &o.Elasticsearch
	if e.Enabled {
		if !storeEnabled {
			return &Error{Key: "outputs.elasticsearch.enabled", Msg: "the Elasticsearch exporter delivers from the store: set store.enabled: true"}
		}
		if len(e.Addresses) == 0 {
			return &Error{Key: "outputs.elasticsearch.addresses", Msg: "at least one URL is required"}
		}
		for i, a := range e.Addresses {
			if err := checkURL(fmt.Sprintf("outputs.elasticsearch.addresses[%d]", i), a); err != nil {
				return err
			}
		}
		switch e.Mode {
		case "data_stream", "index":
		default:
			return &Error{Key: "outputs.elasticsearch.mode", Msg: fmt.Sprintf("%q is not one of data_stream, index", e.Mode)}
		}
		switch e.DocumentID {
		case "event_id", "none":
		default:
			return &Error{Key: "outputs.elasticsearch.document_id", Msg: fmt.Sprintf("%q is not one of event_id, none", e.DocumentID)}
		}
		if e.Workers < 1 || e.FlushBytes < 1024 || e.MaxDocumentBytes < 1024 || e.BatchRecords < 1 {
			return &Error{Key: "outputs.elasticsearch.workers", Msg: "workers and batch_records must be at least 1, flush_bytes and max_document_bytes at least 1024"}
		}
		if e.RequestTimeout <= 0 || e.BackoffMax <= 0 {
			return &Error{Key: "outputs.elasticsearch.request_timeout", Msg: "request_timeout and backoff_max must be above 0"}
		}
	}
	return nil
}
