package config

import (
	"github.com/bansho-sec/bansho/internal/spell"

	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validateOps checks the metrics, shutdown, stall and integrity keys.
func (c *Config) validateOps() error {
	if c.Metrics.Listen != "" {
		host, port, err := net.SplitHostPort(c.Metrics.Listen)
		if err != nil {
			return &Error{Key: "metrics.listen", Msg: fmt.Sprintf("%q is not host:port: %v", c.Metrics.Listen, err)}
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return &Error{Key: "metrics.listen", Msg: fmt.Sprintf("port %q is not a number from 0 to 65535", port)}
		}
		if host != "" && host != "localhost" && net.ParseIP(host) == nil {
			return &Error{Key: "metrics.listen", Msg: fmt.Sprintf("host %q is not an IP address or localhost", host)}
		}
	}
	if c.Shutdown.Timeout < time.Second || c.Shutdown.Timeout > 5*time.Minute {
		return &Error{Key: "shutdown.timeout", Msg: fmt.Sprintf("%s must be between 1s and 5m", c.Shutdown.Timeout)}
	}
	if c.Health.StallAfter < time.Second {
		return &Error{Key: "health.stall_after", Msg: fmt.Sprintf("%s is below 1s", c.Health.StallAfter)}
	}
	for i, p := range c.Protect.IntegrityPaths {
		if !filepath.IsAbs(p) {
			return &Error{Key: fmt.Sprintf("protect.integrity_paths[%d]", i), Msg: fmt.Sprintf("%q is not an absolute path", p)}
		}
	}
	return nil
}

// notConfig are BANSHO_* variables that are not configuration keys: the
// kernel side's overrides (sensor.ObjectEnv, sensor.NSHooksEnv) and the
// tests' knobs.
var notConfig = map[string]bool{"BANSHO_CPUPROFILE": true, "BANSHO_MEMPROFILE": true, "BANSHO_REQUIRE_BPF": true,
	"BANSHO_UPDATE_DOCS": true, "BANSHO_BPF_OBJECT": true, "BANSHO_NS_HOOKS": true, "BANSHO_TEST_START_WAIT": true}

// UnknownEnv lists BANSHO_* variables of environ that name no
// configuration key, each with the closest variable that does: a typo in
// a variable is otherwise silently ignored.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{}
	for _, k := range Keys() {
		known[EnvName(k)] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "BANSHO_") || known[name] || notConfig[name] {
			continue
		}
		msg := name + " is not a configuration variable"
		best, bestD := "", 3
		for k := range known {
			if d := spell.Distance(name, k); d < bestD {
				best, bestD = k, d
			}
		}
		if best != "" {
			msg += " (did you mean " + best + "?)"
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}

// EnvName is the environment variable of a key (protect.paths ->
// BANSHO_PROTECT_PATHS).
func EnvName(key string) string {
	return "BANSHO_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
