// Command bansho is the sensor and its tools.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func fullVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}

func main() {
	root := &cobra.Command{
		Use:           "bansho",
		Short:         "eBPF sensor for servers that hold My Number data",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCmd(), probeCmd(), versionCmd(), scanCmd(), storeCmd(), timelineCmd(), rulesCmd(), replayCmd(), configCmd(), incidentCmd())
	usageErrors(root)
	if err := root.Execute(); err != nil {
		// Whatever an error quotes (a file name, an argument, a value
		// of a document) has any My Number in it masked.
		msg, _ := ecs.Redact(err.Error())
		fmt.Fprintln(os.Stderr, "bansho:", msg)
		os.Exit(exitCode(err))
	}
}

// Exit codes, the same for every command (docs/faults.md, "Exit codes").
const (
	exitOK         = 0 // done, nothing wrong
	exitFailed     = 1 // the command failed, or found what it checks for wrong
	exitUsage      = 2 // the command line is wrong; nothing was done
	exitIncomplete = 3 // done, but records or lines were skipped (named on stderr)
)

// usageError marks command-line misuse (exit 2).
type usageError struct{ error }

// incompleteError marks output that lacks what could not be read: damaged
// or missing records, lines that are not documents (exit 3).
type incompleteError struct{ error }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	var inc incompleteError
	if errors.As(err, &inc) {
		return exitIncomplete
	}
	return exitFailed
}

// usageErrors makes every command-line mistake cobra finds a usage error
// (exit 2): unknown flags and bad flag values, wrong arguments, and
// unknown subcommands of the command groups.
func usageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			// A group: with no subcommand it shows its help; any
			// argument is an unknown subcommand.
			c.Args = func(c *cobra.Command, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())
				}
				return nil
			}
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		}
		if a := c.Args; a != nil {
			c.Args = func(c *cobra.Command, args []string) error {
				if err := a(c, args); err != nil {
					return usageError{err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// pathUsage makes the error of a store directory named on the command line
// that does not exist or holds no store a usage error.
func pathUsage(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotStore) {
		return usageError{err}
	}
	return err
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "bansho", fullVersion())
		},
	}
}
