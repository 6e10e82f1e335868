package ecs

import "strings"

// BanshoFields are the fields under "bansho." that documents may carry, with
// their Elasticsearch types, in the notation of Fields ("[]": an array).
// A key ending in ".*" stands for any field directly below it (objects
// whose keys are data: drop causes, kernel counters); "flattened" keeps a
// whole object of free-form strings as one field. The Elasticsearch index
// template maps exactly these, and its test checks that every field of
// every golden document is mapped: a new bansho.* field needs a row here.
var BanshoFields = map[string]string{
	"bansho.login_user.id":     "keyword",
	"bansho.login_user.name":   "keyword",
	"bansho.audit_session_id":  "long",
	"bansho.cgroup_id":         "long",
	"bansho.mnt_ns":            "long",
	"bansho.pid_ns":            "long",
	"bansho.truncated":         "boolean",
	"bansho.read_failed":       "boolean",
	"bansho.compat":            "boolean",
	"bansho.redacted":          "boolean",
	"bansho.tainted":           "boolean",
	"bansho.self_target":       "boolean",
	"bansho.exec.filename":     "keyword",
	"bansho.exec.old_pid":      "long",
	"bansho.exit.status":       "long",
	"bansho.exit.signal":       "long",
	"bansho.file.protected":    "boolean",
	"bansho.file.tainted":      "boolean",
	"bansho.file.integrity":    "boolean",
	"bansho.file.syscall":      "keyword",
	"bansho.file.ret":          "long",
	"bansho.file.fd":           "long",
	"bansho.file.flags":        "keyword[]",
	"bansho.file.create_mode":  "keyword",
	"bansho.file.bytes":        "long",
	"bansho.file.requested":    "long",
	"bansho.file.offset":       "long",
	"bansho.file.length":       "long",
	"bansho.file.copy":         "boolean",
	"bansho.file.new_mode":     "keyword",
	"bansho.file.new_uid":      "keyword",
	"bansho.file.new_gid":      "keyword",
	"bansho.file.name":         "keyword",
	"bansho.file.anchor":       "keyword",
	"bansho.file.mount.fstype": "keyword",
	// Removable and network mounts: where copied data may leave the host.
	"bansho.file.mount.removable": "boolean",
	"bansho.file.mount.network":   "boolean",
	"bansho.network.syscall":      "keyword",
	"bansho.network.ret":          "long",
	"bansho.network.fd":           "long",
	"bansho.network.bytes":        "long",
	"bansho.network.tainted":      "boolean",
	"bansho.network.tls":          "boolean",

	"bansho.content.my_number.distinct":           "long",
	"bansho.content.my_number.occurrences":        "long",
	"bansho.content.my_number.confidence":         "keyword",
	"bansho.content.my_number.reasons":            "keyword[]",
	"bansho.content.my_number.hashes":             "keyword[]",
	"bansho.content.my_number.encodings":          "keyword[]",
	"bansho.content.corporate_number.distinct":    "long",
	"bansho.content.corporate_number.occurrences": "long",
	"bansho.content.corporate_number.confidence":  "keyword",
	"bansho.content.corporate_number.reasons":     "keyword[]",
	"bansho.content.corporate_number.hashes":      "keyword[]",
	"bansho.content.corporate_number.encodings":   "keyword[]",
	"bansho.content.sampled_bytes":                "long",
	"bansho.content.truncated":                    "boolean",
	"bansho.content.pii_types":                    "keyword[]",
	"bansho.content.at_rest":                      "boolean",
	"bansho.content.scanned_bytes":                "long",

	"bansho.health.events.received":     "long",
	"bansho.health.events.emitted":      "long",
	"bansho.health.drops.*":             "long",
	"bansho.health.counters.*":          "long",
	"bansho.health.output_errors":       "long",
	"bansho.health.uptime_seconds":      "double",
	"bansho.health.kernel.object":       "keyword",
	"bansho.health.kernel.features_off": "keyword",
	"bansho.health.degraded":            "keyword",

	"bansho.state.version": "keyword",
	"bansho.state.details": "flattened",

	// Alerts (pipeline/ecs/alert.go): the rule's priority and tags, and the
	// event.id of every event that made it fire.
	"bansho.rule.priority": "keyword",
	"bansho.rule.tags":     "keyword[]",
	"bansho.alert.events":  "keyword[]",

	// Enrichment (pipeline/enrich).
	"bansho.network.destination_class": "keyword",
	"bansho.orchestrator.node":         "keyword",
	"bansho.process.unknown":           "boolean",
	"bansho.file.mount.source":         "keyword",
	"bansho.file.mount.point":          "keyword",

	// Self-protection (pipeline/ecs/self.go): signals and tracing aimed at
	// the sensor, and its detached programs.
	"bansho.signal.number":       "long",
	"bansho.signal.name":         "keyword",
	"bansho.signal.code":         "long",
	"bansho.signal.result":       "long",
	"bansho.ptrace.syscall":      "keyword",
	"bansho.ptrace.request":      "long",
	"bansho.ptrace.request_name": "keyword",
	"bansho.ptrace.target_fd":    "long",
	"bansho.ptrace.open_flags":   "long",
	"bansho.ptrace.file":         "keyword",
	"bansho.ptrace.ret":          "long",
	"bansho.self.detached":       "keyword[]",
	"bansho.target.pid":          "long",
	"bansho.target.tid":          "long",

	// Dead letters (the store's dead-letter stream): why a sink refused a
	// document.
	"bansho.dead_letter.exporter": "keyword",
	"bansho.dead_letter.reason":   "match_only_text",
	"bansho.dead_letter.stream":   "keyword",
	"bansho.dead_letter.seq":      "long",
}

// BanshoType returns the type of a bansho.* leaf field: its own row, the
// ".*" row of its parent, or a "flattened" ancestor.
func BanshoType(path string) (string, bool) {
	if t, ok := BanshoFields[path]; ok {
		return t, true
	}
	if i := strings.LastIndexByte(path, '.'); i > 0 {
		if t, ok := BanshoFields[path[:i]+".*"]; ok {
			return t, true
		}
	}
	for p := path; ; {
		i := strings.LastIndexByte(p, '.')
		if i <= 0 {
			return "", false
		}
		p = p[:i]
		if BanshoFields[p] == "flattened" {
			return "flattened", true
		}
	}
}
