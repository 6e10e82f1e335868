package main

import (
	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/daemon"
)

func runCmd() *cobra.Command {
	var cfgFile string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the sensor",
		Long: `Run the sensor until SIGTERM or SIGINT.

Without --config the embedded defaults apply: protect /srv/mynumber, write
ECS JSON lines to stdout and to /var/lib/bansho/events.json, and keep every
document in the store /var/lib/bansho/store.

Start-up stops (exit 1) only for a wrong configuration, missing privileges
or a kernel that cannot run the sensor. An output, the store, an exporter,
the TLS probes or the metrics endpoint that fails to start is left out:
the sensor keeps watching and names what it runs without (docs/operations.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgFile, cmd.Flags())
			if err != nil {
				return err
			}
			return daemon.Run(cmd.Context(), daemon.Options{Config: cfg, ConfigFile: cfgFile, Version: fullVersion()})
		},
	}
	cmd.Flags().StringVarP(&cfgFile, "config", "c", "", "YAML configuration file")
	cmd.Flags().StringSlice("protect", nil, "protected directories (protect.paths)")
	cmd.Flags().String("output-file", "", "JSON-lines output file (outputs.file.path)")
	cmd.Flags().Bool("stdout", true, "write documents to stdout (outputs.stdout.enabled)")
	cmd.Flags().String("log-level", "info", "log level: debug, info, warn, error (log.level)")
	cmd.Flags().String("metrics", "127.0.0.1:9090", "address of /metrics, /healthz, /readyz; empty disables (metrics.listen)")
	return cmd
}
