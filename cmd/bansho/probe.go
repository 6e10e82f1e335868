package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/sensor"
)

// probeCmd loads the kernel programs, says what this kernel supports and
// what is off and why, and unloads them (docs/deployment.md).
func probeCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Load the kernel programs once and print which features this kernel supports",
		Long: `probe loads and attaches bansho's kernel programs as 'bansho run' would,
over an empty temporary directory, prints the kernel object chosen and every
kernel-side feature (on, or off with the reason and what goes unreported),
and unloads them. It needs root. Exit 0 when the programs load, 1 when they
do not (the verifier's message is printed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := sensor.Probe(slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				return fmt.Errorf("kernel %s: %w", rep.Kernel, err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return writeProbe(cmd.OutOrStdout(), rep)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func writeProbe(w io.Writer, rep sensor.ProbeReport) error {
	fmt.Fprintf(w, "kernel  %s\nobject  %s (%d programs loaded and attached)\n\n", rep.Kernel, rep.Object, rep.Programs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FEATURE\tSTATE\tWHY\tNOT REPORTED WHILE OFF")
	for _, f := range rep.Features {
		state := "on"
		if !f.Enabled {
			state = "off"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, state, f.Reason, f.Lost)
	}
	return tw.Flush()
}
