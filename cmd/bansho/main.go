// Command bansho is the sensor and its tools.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
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
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "bansho:", err)
		os.Exit(exitCode(err))
	}
}

// usageError marks command-line misuse (exit 2).
type usageError struct{ error }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func exitCode(err error) int {
	if _, ok := err.(usageError); ok {
		return 2
	}
	return 1
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
