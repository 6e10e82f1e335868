package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/spell"
	"github.com/bansho-sec/bansho/pipeline"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/rules"
	pack "github.com/bansho-sec/bansho/rules"
)

func rulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check and test rule files",
	}
	cmd.AddCommand(rulesCheckCmd(), rulesTestCmd(), rulesFieldsCmd())
	// A rule file or directory named after a My Number is shown masked in
	// every line and error, as the sensor's documents mask it.
	cmd.SetOut(maskWriter{os.Stdout})
	cmd.SetErr(maskWriter{os.Stderr})
	for _, c := range cmd.Commands() {
		if run := c.RunE; run != nil {
			c.RunE = func(c *cobra.Command, args []string) error {
				if err := run(c, args); err != nil {
					return maskedError{err}
				}
				return nil
			}
		}
	}
	return cmd
}

// maskWriter masks any My Number in what is written through it. Each
// write is a whole line or more, so a number is never split.
type maskWriter struct{ w io.Writer }

func (m maskWriter) Write(p []byte) (int, error) {
	s, changed := ecs.Redact(string(p))
	if !changed {
		return m.w.Write(p)
	}
	if _, err := io.WriteString(m.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// siteOptions are the rule options of a configuration file, or the
// defaults without one.
func siteOptions(cfgFile string) (rules.Options, []config.RuleList, error) {
	if cfgFile == "" {
		return rules.Options{Calendar: rules.DefaultCalendar()}, nil, nil
	}
	cfg, err := config.Load(cfgFile, nil)
	if err != nil {
		return rules.Options{}, nil, err
	}
	opts, err := ruleOptions(cfg.Rules, cfg.Protect.Paths)
	return opts, cfg.Rules.Lists, err
}

func rulesCheckCmd() *cobra.Command {
	var cfgFile string
	cmd := &cobra.Command{
		Use:   "check [DIR]",
		Short: "Compile the rule files of DIR (default: the built-in pack); every error with its file, line and column",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			opts, lists, err := siteOptions(cfgFile)
			if err != nil {
				return err
			}
			set, err := loadRuleSet(dir, opts)
			if err == nil {
				err = checkLists(set, lists) // as start-up would
			}
			var es rules.Errors
			if errors.As(err, &es) {
				// One line per problem, each at its place, on stderr.
				for _, e := range es {
					fmt.Fprintln(cmd.ErrOrStderr(), e)
				}
				return fmt.Errorf("rules check: %s: %d problems", ruleSource(dir), len(es))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d rules (%d enabled), %d lists, %d macros: ok\n",
				ruleSource(dir), len(set.Rules), set.Enabled(), len(set.Lists), set.Macros)
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgFile, "config", "c", "", "sensor configuration whose rules.lists and business hours apply")
	return cmd
}

func rulesTestCmd() *cobra.Command {
	var testsDir string
	var coverage bool
	cmd := &cobra.Command{
		Use:   "test DIR",
		Short: "Run the rule fixtures of DIR/tests (events as JSON lines and the alerts they must make)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if testsDir == "" {
				testsDir = filepath.Join(dir, "tests")
			}
			cases, err := rules.LoadTests(testsDir)
			if err != nil {
				return err
			}
			results, set, err := rules.RunTests(dir, cases, rules.Options{Calendar: rules.DefaultCalendar()})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			failed := 0
			for _, r := range results {
				if r.Failure != "" {
					failed++
					fmt.Fprintf(w, "FAIL %s: %s\n     %s\n", r.Case.Pos, r.Case.Name, r.Failure)
					continue
				}
				fmt.Fprintf(w, "ok   %s (%d events, %d alerts)\n", r.Case.Name, len(r.Case.Events), len(r.Alerts))
			}
			uncovered := 0
			if coverage {
				noFire, noMiss := rules.Coverage(set, cases)
				for _, n := range noFire {
					uncovered++
					fmt.Fprintf(w, "FAIL coverage: no test fires %q\n", n)
				}
				for _, n := range noMiss {
					uncovered++
					fmt.Fprintf(w, "FAIL coverage: no near-miss test for %q\n", n)
				}
			}
			if failed > 0 || uncovered > 0 {
				return fmt.Errorf("rules test: %d of %d tests failed, %d coverage problems", failed, len(results), uncovered)
			}
			fmt.Fprintf(w, "%d tests passed, %d rules covered\n", len(results), set.Enabled())
			return nil
		},
	}
	cmd.Flags().StringVar(&testsDir, "tests", "", "directory of test files (default DIR/tests)")
	cmd.Flags().BoolVar(&coverage, "coverage", true, "fail unless every enabled rule has a firing and a near-miss test")
	return cmd
}

func rulesFieldsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "fields",
		Short: "List the fields conditions and outputs can use",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			for _, f := range rules.Fields() {
				fmt.Fprintf(cmd.OutOrStdout(), "%-44s %s\n", f, rules.FieldType(f))
			}
		},
	}
}

func ruleSource(dir string) string {
	if dir == "" {
		return "built-in rules"
	}
	return dir
}

// loadRuleSet loads dir, or the built-in pack when dir is empty.
func loadRuleSet(dir string, opts rules.Options) (*rules.Set, error) {
	if dir == "" {
		return rules.LoadFS(pack.FS, "builtin:", opts)
	}
	return rules.Load(dir, opts)
}

// loadRules loads the configured rule set as start-up does, and refuses
// a rules.lists name the rules do not define: a misspelt allowlist would
// otherwise silently allow nothing. startRules and config check both use
// it.
func loadRules(c config.Rules, protect []string) (*rules.Set, rules.Options, error) {
	opts, err := ruleOptions(c, protect)
	if err != nil {
		return nil, opts, err
	}
	set, err := loadRuleSet(c.Dir, opts)
	if err != nil {
		return nil, opts, err
	}
	if err := checkLists(set, c.Lists); err != nil {
		return nil, opts, err
	}
	return set, opts, nil
}

// checkLists refuses a configured list that no rule file defines.
func checkLists(set *rules.Set, lists []config.RuleList) error {
	for i, l := range lists {
		if set.Defines(l.Name) {
			continue
		}
		best, bestD := "", 4
		for _, n := range set.DefinedLists() {
			if d := spell.Distance(l.Name, n); d < bestD {
				best, bestD = n, d
			}
		}
		hint := " (the rules define " + strings.Join(set.DefinedLists(), ", ") + ")"
		if best != "" {
			hint = " (did you mean " + best + "?)"
		}
		return fmt.Errorf("rules.lists[%d].name: %q is not a list of the rules%s", i, l.Name, hint)
	}
	return nil
}

// ruleOptions are the rule set options of the configuration. The
// protected_directories list follows protect.paths unless rules.lists
// sets it.
func ruleOptions(c config.Rules, protect []string) (rules.Options, error) {
	b := c.BusinessHours
	cal, err := rules.NewCalendar(b.Timezone, b.Weekdays, b.Start, b.End, b.Holidays)
	if err != nil {
		return rules.Options{}, fmt.Errorf("rules.business_hours: %w", err)
	}
	lists := map[string][]string{"protected_directories": protect}
	for _, l := range c.Lists {
		lists[l.Name] = l.Items
	}
	dedupe := c.Dedupe
	if dedupe == 0 {
		dedupe = -1 // the engine's zero is its default
	}
	return rules.Options{Lists: lists, Calendar: cal, MaxKeys: c.MaxStateKeys, Dedupe: dedupe}, nil
}

// clockShift is what rules.clock moves event times by.
func clockShift(c config.Rules) time.Duration {
	if c.Clock == "" {
		return 0
	}
	t, err := time.Parse(time.RFC3339, c.Clock)
	if err != nil {
		return 0 // validated with the configuration
	}
	return time.Until(t)
}

// rulesCollector is the running engine's metrics, for the /metrics
// registry (nil until the rules start).
var rulesCollector prometheus.Collector

// startRules loads the rules into the pipeline and reloads them on
// SIGHUP and on file changes. emit writes a state document: a reload
// that fails writes rules-reload-failed naming every problem, and the
// running rules stay.
func startRules(c config.Rules, protect []string, p *pipeline.Pipeline, host ecs.Host,
	emit func(action, msg string, details map[string]string), log *slog.Logger) (stop func(), err error) {
	if !c.Enabled {
		return func() {}, nil
	}
	set, opts, err := loadRules(c, protect)
	if err != nil {
		return nil, err
	}
	// Processes come with each event from the enrichment stage's table
	// (seeded from /proc, so those already running are known by their
	// program and parents); the engine keeps its own only for events
	// without one (enrich.enabled false).
	eng := rules.NewEngine(set, rules.EngineOptions{Host: host, Shift: clockShift(c)})
	p.Rules = eng
	log.Info("rules loaded", "source", ruleSource(c.Dir), "rules", len(set.Rules), "enabled", set.Enabled())

	r := &rules.Reloader{Dir: c.Dir, Opts: opts, Engine: eng, Log: log,
		Result: func(set *rules.Set, err error) {
			if err != nil {
				details := map[string]string{"dir": c.Dir}
				lines := strings.Split(err.Error(), "\n")
				for i, l := range lines {
					details[fmt.Sprintf("error_%d", i)] = l
				}
				emit("rules-reload-failed", fmt.Sprintf("rules not reloaded, the running rules stay: %s", lines[0]), details)
				return
			}
			emit("rules-reloaded", fmt.Sprintf("%d rules (%d enabled) from %s", len(set.Rules), set.Enabled(), c.Dir), nil)
		}}
	rulesCollector = rules.Collector(eng, r)

	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		switch {
		case c.Dir != "" && c.Watch:
			if err := r.Watch(ctx, hup); err != nil {
				log.Error("rules: cannot watch; SIGHUP still reloads", "error", err)
				hupLoop(ctx, hup, func() { _ = r.Reload() })
			}
		case c.Dir != "":
			hupLoop(ctx, hup, func() { _ = r.Reload() })
		default:
			hupLoop(ctx, hup, func() { log.Info("rules: the built-in pack has nothing to reload (set rules.dir)") })
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}, nil
}

func hupLoop(ctx context.Context, hup <-chan os.Signal, f func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			f()
		}
	}
}

// printAlertSummary writes how many alerts each rule made.
func printAlertSummary(w io.Writer, byRule map[string]int) {
	names := make([]string, 0, len(byRule))
	for n := range byRule {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %5d  %s\n", byRule[n], n)
	}
}
