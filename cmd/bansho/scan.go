package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/scan"
	"github.com/bansho-sec/bansho/pipeline/content"
)

func scanCmd() *cobra.Command {
	var format, hashKey string
	cmd := &cobra.Command{
		Use:   "scan [--format json|text] [--hash-key KEY] PATH...",
		Short: "Find My Numbers and corporate numbers in files at rest",
		Long: `Scan files and directories (recursively, following no symlinks) for
individual numbers (マイナンバー) and corporate numbers (法人番号) in ASCII,
UTF-8, full-width, Shift_JIS/CP932 and UTF-16 text. Numbers are never
printed: only counts, confidence and keyed hashes (HMAC-SHA256 under
--hash-key or BANSHO_CONTENT_HASH_KEY; use the sensor's key so both count a
person the same way). A file or directory named after a My Number is shown
with the number masked (****-****-****), as the sensor's documents show it.

--format json prints one JSON object per regular file scanned. Exit status
is 0 when the scan completed (unreadable files, a named path that cannot be
read among them, are reported on stderr and counted), 1 when interrupted,
2 on usage errors (a named path that does not exist is one).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errorf("scan: name at least one file or directory")}
			}
			key, err := commandHashKey("scan", hashKey, "a hash key is required")
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			code := scan.Run(ctx, scan.Options{Format: format, HashKey: key, Paths: args}, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: json or text")
	cmd.Flags().StringVar(&hashKey, "hash-key", "", "key of the number hashes (default $BANSHO_CONTENT_HASH_KEY)")
	return cmd
}

// commandHashKey is the hash key of a command run by hand (scan, incident):
// --hash-key, else BANSHO_CONTENT_HASH_KEY. Without one, or with one
// content.ParseHashKey refuses, it is a usage error of cmd; missing says
// why the key is needed.
func commandHashKey(cmd, flag, missing string) ([]byte, error) {
	text := flag
	if text == "" {
		text = os.Getenv("BANSHO_CONTENT_HASH_KEY")
	}
	if text == "" {
		return nil, usageError{errorf("%s: %s: --hash-key KEY or BANSHO_CONTENT_HASH_KEY", cmd, missing)}
	}
	key, err := content.ParseHashKey(text)
	if err != nil {
		return nil, usageError{errorf("%s: --hash-key: %v", cmd, err)}
	}
	return key, nil
}
