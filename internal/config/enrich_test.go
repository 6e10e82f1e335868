package config

import (
	"strings"
	"testing"
	"time"
)

func TestEnrichSection(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(writeFile(t, "protect:\n  paths: ["+dir+"]\nenrich:\n  hold: 50ms\n  kubernetes:\n    enabled: true\n    url: http://127.0.0.1:10255/pods\n    cluster_name: hr-prod\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Enrich
	if !e.Enabled || e.Hold != 50*time.Millisecond || e.MaxExitedProcesses != 4096 || !e.Kubernetes.Enabled ||
		e.Kubernetes.URL != "http://127.0.0.1:10255/pods" || e.Kubernetes.ClusterName != "hr-prod" || e.Kubernetes.PollInterval != 30*time.Second {
		t.Errorf("%+v", e)
	}
	for body, want := range map[string]string{
		"enrich:\n  hold: 10s\n":                                                        ":4: enrich.hold: 10s must be above 0 and at most 5s",
		"enrich:\n  max_exited_processes: 3\n":                                          ":4: enrich.max_exited_processes: 3 is below 64",
		"enrich:\n  kubernetes:\n    enabled: true\n    url: kubelet:10250\n":           ":6: enrich.kubernetes.url: \"kubelet:10250\" is not an http(s) URL",
		"enrich:\n  kubernetes:\n    enabled: true\n    ca_file: /nonexistent/ca.pem\n": "enrich.kubernetes.ca_file: /nonexistent/ca.pem: no such file",
		"enrich:\n  kubernetes:\n    tokenfile: x\n":                                    ":5: enrich.kubernetes.tokenfile: unknown key (did you mean enrich.kubernetes.token_file?)",
	} {
		p := writeFile(t, "protect:\n  paths: ["+dir+"]\n"+body)
		if _, err := Load(p, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	// Off: nothing else is checked.
	if _, err := Load(writeFile(t, "protect:\n  paths: ["+dir+"]\nenrich:\n  enabled: false\n  hold: 0s\n"), nil); err != nil {
		t.Errorf("disabled: %v", err)
	}
}
