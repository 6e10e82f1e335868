package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Enrich configures the enrichment stage (process tree, names,
// containers, destinations, mounts).
type Enrich struct {
	Enabled            bool          `mapstructure:"enabled"`
	QueueSize          int           `mapstructure:"queue_size"`
	MaxExitedProcesses int           `mapstructure:"max_exited_processes"`
	Hold               time.Duration `mapstructure:"hold"`
	HoldMax            int           `mapstructure:"hold_max"`
	NamesRefresh       time.Duration `mapstructure:"names_refresh"`
	Kubernetes         Kubernetes    `mapstructure:"kubernetes"`
}

// Kubernetes configures the kubelet pod list (off by default).
type Kubernetes struct {
	Enabled            bool          `mapstructure:"enabled"`
	URL                string        `mapstructure:"url"`
	TokenFile          string        `mapstructure:"token_file"`
	CAFile             string        `mapstructure:"ca_file"`
	InsecureSkipVerify bool          `mapstructure:"insecure_skip_verify"`
	PollInterval       time.Duration `mapstructure:"poll_interval"`
	Timeout            time.Duration `mapstructure:"timeout"`
	ClusterName        string        `mapstructure:"cluster_name"`
}

var enrichDefaults = map[string]any{
	"enrich.enabled":                         true,
	"enrich.queue_size":                      4096,
	"enrich.max_exited_processes":            4096,
	"enrich.hold":                            "100ms",
	"enrich.hold_max":                        4096,
	"enrich.names_refresh":                   "5s",
	"enrich.kubernetes.enabled":              false,
	"enrich.kubernetes.url":                  "https://127.0.0.1:10250/pods",
	"enrich.kubernetes.token_file":           "/var/run/secrets/kubernetes.io/serviceaccount/token",
	"enrich.kubernetes.ca_file":              "",
	"enrich.kubernetes.insecure_skip_verify": false,
	"enrich.kubernetes.poll_interval":        "30s",
	"enrich.kubernetes.timeout":              "5s",
	"enrich.kubernetes.cluster_name":         "",
}

func init() {
	for k, v := range map[string]string{
		"enrich.enabled":                         "Enrich events with the process tree (parent, group, session and entry leaders), user and group names, container and pod, the destination class of connections and the mount of files.",
		"enrich.queue_size":                      "Enriched events waiting for the encoder; when it is full the stage waits and the reader's queue (sensor.queue_size, the main buffer) absorbs, with drops counted there. Small: it only smooths the encoder's batches.",
		"enrich.max_exited_processes":            "Ended processes kept in the process table for late events and as ancestors (at least 64); one still named as a parent stays until its last child goes.",
		"enrich.hold":                            "How long an event whose process is not yet known is held for its process to appear (above 0, at most 5s); then it goes out with what is known, counted.",
		"enrich.hold_max":                        "Events held at most; past it an event goes out at once with what is known (counted).",
		"enrich.names_refresh":                   "How often /etc/passwd and /etc/group (the host's and each container's) are checked for changes (at least 100ms).",
		"enrich.kubernetes.enabled":              "Poll the kubelet's pod list for pod names, namespaces, labels and container images.",
		"enrich.kubernetes.url":                  "The kubelet's pod list: https://NODE:10250/pods (authenticated) or http://NODE:10255/pods (read-only port); ${VAR} is taken from the environment (NODE_NAME from the downward API).",
		"enrich.kubernetes.token_file":           "Bearer token sent to the kubelet, re-read at every poll; empty sends none.",
		"enrich.kubernetes.ca_file":              "PEM CA that signed the kubelet's serving certificate; empty uses the system pool.",
		"enrich.kubernetes.insecure_skip_verify": "Do not verify the kubelet's certificate (kubelets often serve self-signed ones).",
		"enrich.kubernetes.poll_interval":        "How often the pod list is fetched (at least 1s).",
		"enrich.kubernetes.timeout":              "Timeout of one fetch of the pod list.",
		"enrich.kubernetes.cluster_name":         "orchestrator.cluster.name of the documents.",
	} {
		Descriptions[k] = v
	}
}

func (e *Enrich) validate() error {
	if !e.Enabled {
		return nil
	}
	if e.QueueSize < 1 {
		return &Error{Key: "enrich.queue_size", Msg: fmt.Sprintf("%d must be at least 1", e.QueueSize)}
	}
	if e.MaxExitedProcesses < 64 {
		return &Error{Key: "enrich.max_exited_processes", Msg: fmt.Sprintf("%d is below 64", e.MaxExitedProcesses)}
	}
	if e.Hold <= 0 || e.Hold > 5*time.Second {
		return &Error{Key: "enrich.hold", Msg: fmt.Sprintf("%s must be above 0 and at most 5s", e.Hold)}
	}
	if e.HoldMax < 1 {
		return &Error{Key: "enrich.hold_max", Msg: fmt.Sprintf("%d must be at least 1", e.HoldMax)}
	}
	if e.NamesRefresh < 100*time.Millisecond {
		return &Error{Key: "enrich.names_refresh", Msg: fmt.Sprintf("%s is below 100ms", e.NamesRefresh)}
	}
	k := &e.Kubernetes
	if !k.Enabled {
		return nil
	}
	if !strings.HasPrefix(k.URL, "https://") && !strings.HasPrefix(k.URL, "http://") {
		return &Error{Key: "enrich.kubernetes.url", Msg: fmt.Sprintf("%q is not an http(s) URL", RedactURL(k.URL))}
	}
	if k.PollInterval < time.Second {
		return &Error{Key: "enrich.kubernetes.poll_interval", Msg: fmt.Sprintf("%s is below 1s", k.PollInterval)}
	}
	if k.Timeout <= 0 {
		return &Error{Key: "enrich.kubernetes.timeout", Msg: "must be above 0"}
	}
	if k.CAFile != "" {
		if _, err := os.Stat(k.CAFile); err != nil {
			return &Error{Key: "enrich.kubernetes.ca_file", Msg: fmt.Sprintf("%s: %v", k.CAFile, errors.Unwrap(err))}
		}
	}
	return nil
}
