package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/daemon"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

func configCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Work with the configuration",
	}
	c.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file without running the sensor",
		Long: `Load FILE as 'bansho run --config FILE' would (with the BANSHO_*
environment applied), validate every key, and print the effective protected
and integrity paths, outputs and endpoints. Needs no root and does not touch
the kernel. Exit status 1 and one line naming file:line: key when it is wrong.
Beyond the keys, every check of start-up that needs no root and changes
nothing: the exporters are built (not started), the hash key file is
checked (0600, a long enough key) and the rules are loaded (every
rules.lists name must be a list of them). Paths are checked on this host:
run it where the sensor will run (or in its image). BANSHO_* variables
that name no key are warned about. No secret or raw My Number is shown.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			defer func() {
				if err != nil {
					err = maskedError{err}
				}
			}()
			cfg, err := config.Load(args[0], nil)
			if err != nil {
				return err
			}
			for _, w := range config.UnknownEnv(os.Environ()) {
				fmt.Fprintln(cmd.ErrOrStderr(), "bansho: warning:", w)
			}
			// The same checks `bansho run` makes before it loads anything.
			chk, err := daemon.Check(cfg)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			nrules := 0
			if chk.Rules != nil {
				nrules = chk.Rules.Enabled()
			}
			printConfigSummary(cmd.OutOrStdout(), args[0], cfg)
			if cfg.Rules.Enabled {
				fmt.Fprintf(cmd.OutOrStdout(), "rules: %d enabled, from %s\n", nrules, daemon.RuleSource(cfg.Rules.Dir))
			}
			return nil
		},
	})
	return c
}

// printConfigSummary writes what the configuration amounts to. Nothing
// in it may leak: a path named after a My Number is masked as the
// sensor's documents mask it, URLs are shown without credentials, and no
// secret is shown (the hash key is named by where it comes from).
func printConfigSummary(out io.Writer, file string, c *config.Config) {
	var w strings.Builder
	defer func() {
		s, _ := ecs.Redact(w.String())
		io.WriteString(out, s)
	}()
	fmt.Fprintf(&w, "%s: ok\n", file)
	fmt.Fprintf(&w, "protected paths: %s\n", strings.Join(c.Protect.Paths, ", "))
	var present, missing []string
	for _, p := range c.Protect.IntegrityPaths {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		} else {
			present = append(present, p)
		}
	}
	line := "integrity paths: " + strings.Join(present, ", ")
	if len(missing) > 0 {
		line += " (missing here, skipped at start: " + strings.Join(missing, ", ") + ")"
	}
	fmt.Fprintln(&w, line+"; plus the binary, this file and the output directory")
	var outs []string
	if f := c.Outputs.File; f.Path != "" {
		o := fmt.Sprintf("file %s (rotate at %d bytes, keep %d", f.Path, f.MaxBytes, f.MaxBackups)
		if f.Fsync {
			o += ", fsync"
		}
		outs = append(outs, o+")")
		if _, err := os.Stat(filepath.Dir(f.Path)); err != nil {
			outs[len(outs)-1] += " [directory will be created]"
		}
	}
	if c.Outputs.Stdout.Enabled {
		outs = append(outs, "stdout")
	}
	if c.Store.Enabled {
		outs = append(outs, "store "+c.Store.Dir)
	}
	if k := c.Outputs.Kafka; k.Enabled {
		outs = append(outs, "kafka "+strings.Join(k.Brokers, ","))
	}
	if e := c.Outputs.Elasticsearch; e.Enabled {
		var addrs []string
		for _, a := range e.Addresses {
			addrs = append(addrs, config.RedactURL(a))
		}
		outs = append(outs, "elasticsearch "+strings.Join(addrs, ","))
	}
	fmt.Fprintf(&w, "outputs: %s\n", strings.Join(outs, ", "))
	m := c.Metrics.Listen
	if m == "" {
		m = "disabled"
	} else {
		m = "http://" + m + "/metrics, /healthz, /readyz"
	}
	fmt.Fprintf(&w, "metrics: %s\n", m)
	content := "disabled"
	if c.Content.SampleBytes > 0 {
		key := "content.hash_key"
		if c.Content.HashKey == "" {
			key = c.Content.HashKeyFile
		}
		content = fmt.Sprintf("first %d bytes of each write or send scanned; hash key from %s", c.Content.SampleBytes, key)
	}
	fmt.Fprintf(&w, "content scanning: %s\n", content)
	fmt.Fprintf(&w, "health every %s, shutdown within %s\n", c.Health.Interval, c.Shutdown.Timeout)
}

// maskedError shows an error with any My Number in it masked (a rule file
// or directory named after one), as the sensor's documents mask it.
type maskedError struct{ error }

func (e maskedError) Error() string {
	s, _ := ecs.Redact(e.error.Error())
	return s
}

func (e maskedError) Unwrap() error { return e.error }
