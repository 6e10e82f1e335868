package config

import (
	"strings"
	"testing"
)

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"BANSHO_PROTECT_PATHS=/srv/a", "BANSHO_PROTECT_PATH=/srv/b", "BANSHO_METRICS_LISTN=:1",
		"BANSHO_REQUIRE_BPF=1", "HOME=/root", "BANSHO_WHATEVER_THIS_IS=1", "BANSHO_BPF_OBJECT=portable", "BANSHO_NS_HOOKS=off"})
	want := []string{
		"BANSHO_METRICS_LISTN is not a configuration variable (did you mean BANSHO_METRICS_LISTEN?)",
		"BANSHO_PROTECT_PATH is not a configuration variable (did you mean BANSHO_PROTECT_PATHS?)",
		"BANSHO_WHATEVER_THIS_IS is not a configuration variable",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOpsKeysValidated(t *testing.T) {
	cases := map[string]string{
		"metrics:\n  listen: 127.0.0.1:99999\n":     ":4: metrics.listen: port \"99999\"",
		"metrics:\n  listen: node-1:9090\n":         ":4: metrics.listen: host \"node-1\" is not an IP address or localhost",
		"shutdown:\n  timeout: 10m\n":               ":4: shutdown.timeout: 10m0s must be between 1s and 5m",
		"health:\n  stall_after: 500ms\n":           ":4: health.stall_after: 500ms is below 1s",
		"metrics:\n  listen: \"[::1]:9090\"\n":      "",
		"metrics:\n  listen: \"\"\n":                "",
		"protect:\n  integrity_paths: [/usr/bin]\n": "",
	}
	for body, want := range cases {
		f := writeFile(t, "protect:\n  paths: [/tmp]\n"+strings.Replace(body, "protect:\n", "", 1))
		_, err := Load(f, nil)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", body, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: error %v, want %q", body, err, want)
		}
	}
}
