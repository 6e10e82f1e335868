package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/daemon"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/rules"
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
	opts, err := daemon.RuleOptions(cfg.Rules, cfg.Protect.Paths)
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
			set, err := daemon.LoadRuleSet(dir, opts)
			if err == nil {
				err = daemon.CheckLists(set, lists) // as start-up would
			}
			var es rules.Errors
			if errors.As(err, &es) {
				// One line per problem, each at its place, on stderr.
				for _, e := range es {
					fmt.Fprintln(cmd.ErrOrStderr(), e)
				}
				return fmt.Errorf("rules check: %s: %d problems", daemon.RuleSource(dir), len(es))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d rules (%d enabled), %d lists, %d macros: ok\n",
				daemon.RuleSource(dir), len(set.Rules), set.Enabled(), len(set.Lists), set.Macros)
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
