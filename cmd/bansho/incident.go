package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/incident"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/internal/store/timeline"
	"github.com/bansho-sec/bansho/pipeline/content"
)

func incidentCmd() *cobra.Command {
	var stores, inputs, files, atRest []string
	var user, host, alert, since, until, discovered, format, out, hashKey string
	var malicious, utc, scanSources bool
	var maxScan int64
	cmd := &cobra.Command{
		Use:   "incident [--store DIR... | --input FILE...] [--file PATH] [--user NAME] [--host NAME] [--alert ID] [--since T] [--until T] [--format html|md|json] [--out FILE]",
		Short: "The scope of a My Number leak and the report to the PPC, from the recorded events",
		Long: `Establish the scope of a leak from the recorded events: follow the data
from the protected files (--file, a file or a directory; default every
protected file) through the processes that read them, the copies,
renames, archives and pipes they made, to every flow out (a file written
or moved, removable and network media, network sends and HTTPS uploads),
and report who did it (the login user and the SSH source of the session),
how, where to, how many people's My Numbers went (by keyed hash, never a
number: a certain lower bound from the bytes scanned and, where the source
file's whole content is known, an upper bound), what other personal
information went with them, the deadlines of the report to the Personal
Information Protection Commission, and what the record cannot tell.

Input: the local store (--store, repeatable to merge stores of several
hosts), or JSON lines (--input FILE..., as 'bansho store dump' writes them,
or exported from Kafka or Elasticsearch), one host or many.

--since/--until: a duration back from now (30m, 1h, 7d) or a time (RFC 3339).
--discovered: when the leak was discovered (default now), for the deadlines;
--malicious: the leak was malicious (final report within 60 days, not 30).
--at-rest FILE: 'bansho scan --format json' of the protected files, or
--scan-sources: scan the protected files found, now, on this host (needs the
sensor's hash key: --hash-key or BANSHO_CONTENT_HASH_KEY), for the upper bound.

Then 'bansho incident affected --incident REPORT --roster ROSTER.csv' lists
the rows of the roster to notify.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			opt := incident.Options{Files: files, User: user, Host: host, AlertID: alert, Malicious: malicious, Now: now}
			var err error
			if opt.Since, err = timeline.ParseTime(since, now); err != nil {
				return usageError{errorf("incident: --since: %v", err)}
			}
			if opt.Until, err = timeline.ParseTime(until, now); err != nil {
				return usageError{errorf("incident: --until: %v", err)}
			}
			if discovered != "" {
				if opt.Discovered, err = timeline.ParseTime(discovered, now); err != nil {
					return usageError{errorf("incident: --discovered: %v", err)}
				}
			}
			switch format {
			case "html", "md", "json":
			default:
				return usageError{errorf("incident: --format %q: use html, md or json", format)}
			}
			if len(args) > 0 && len(inputs) == 0 {
				return usageError{errorf("incident: unexpected arguments %q (input files go after --input)", args)}
			}
			inputs = append(inputs, args...)
			if len(inputs) > 0 && cmd.Flags().Changed("store") {
				return usageError{errorf("incident: use --store or --input, not both")}
			}
			var det *content.Detector
			if scanSources {
				key, err := commandHashKey("incident", hashKey, "--scan-sources needs the sensor's hash key")
				if err != nil {
					return err
				}
				if det, err = content.NewDetector(content.Config{HashKey: key, MaxHashes: 1 << 20}); err != nil {
					return err
				}
			}
			rest := map[string]*incident.AtRest{}
			for _, p := range atRest {
				f, err := os.Open(p)
				if err != nil {
					return fmt.Errorf("incident: %w", err)
				}
				err = incident.LoadAtRest(f, "bansho scan "+p, rest)
				f.Close()
				if err != nil {
					return fmt.Errorf("incident: --at-rest %s: %w", p, err)
				}
			}
			if len(inputs) == 0 {
				opt.Inputs = stores
			} else {
				opt.Inputs = inputs
			}
			opt.AtRest = rest
			a := incident.New(opt)
			if len(inputs) > 0 {
				for _, p := range inputs {
					f, err := openInput("incident", p)
					if err != nil {
						return err
					}
					err = a.ReadJSONLines(bufio.NewReaderSize(f, 1<<20))
					f.Close()
					if err != nil {
						return fmt.Errorf("incident: %s: %w", p, err)
					}
				}
			} else {
				for _, dir := range stores {
					var damaged atomic.Int64
					s, err := store.OpenReadOnly(dir, slog.New(&countWarnings{n: &damaged, next: slog.NewTextHandler(cmd.ErrOrStderr(), nil)}))
					if err != nil {
						return pathUsage(err)
					}
					err = a.ReadStore(s, dir)
					s.Close()
					if err != nil {
						return err
					}
					a.Note(incident.Unknown{Kind: "store-damaged", Count: damaged.Load(),
						Detail: "unreadable records skipped in " + dir + " (`bansho store verify` names them)"})
				}
			}
			rep, err := a.Report()
			if err != nil {
				return err
			}
			if det != nil {
				for _, n := range incident.ScanSources(rep, det, maxScan, rest, now) {
					fmt.Fprintln(cmd.ErrOrStderr(), "bansho: incident: --scan-sources:", n)
				}
				a.SetAtRest(rest)
				if rep, err = a.Report(); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			var file *os.File
			if out != "" && out != "-" {
				if file, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
					return fmt.Errorf("incident: %w", err)
				}
				w = file
			}
			bw := bufio.NewWriter(w)
			loc := time.Local
			if utc {
				loc = time.UTC
			}
			switch format {
			case "json":
				err = rep.WriteJSON(bw)
			case "md":
				err = rep.WriteMarkdown(bw, loc)
			default:
				err = rep.WriteHTML(bw, loc)
			}
			if err == nil {
				err = bw.Flush()
			}
			if file != nil {
				if cerr := file.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return fmt.Errorf("incident: %w", err)
			}
			if file != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "bansho: incident: %d flows, people %s, written to %s\n", len(rep.Flows), peopleText(rep.Persons), out)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&stores, "store", []string{defaultStoreDir}, "store directory (repeat to merge the stores of several hosts)")
	fl.StringArrayVar(&inputs, "input", nil, "read ECS JSON lines from these files instead of the store (repeat, or list after the flag)")
	fl.StringArrayVar(&files, "file", nil, "protected file or directory the data came from (repeatable; default every protected file)")
	fl.StringVar(&user, "user", "", "the person who read the data: login user (name or id)")
	fl.StringVar(&host, "host", "", "only this host (host.name)")
	fl.StringVar(&alert, "alert", "", "start from this alert (its event.id)")
	fl.StringVar(&since, "since", "", "start: duration back from now (1h) or a time (RFC 3339)")
	fl.StringVar(&until, "until", "", "end: duration back from now or a time")
	fl.StringVar(&discovered, "discovered", "", "when the leak was discovered (default now), for the deadlines")
	fl.BoolVar(&malicious, "malicious", false, "the leak was malicious: final report within 60 days")
	fl.StringVar(&format, "format", "html", "output format: html, md or json")
	fl.StringVar(&out, "out", "", "write the report to this file (0600) instead of stdout")
	fl.BoolVar(&utc, "utc", false, "show times in UTC (html, md)")
	fl.StringArrayVar(&atRest, "at-rest", nil, "'bansho scan --format json' output giving the protected files' whole content")
	fl.BoolVar(&scanSources, "scan-sources", false, "scan the protected files found, now, on this host, for the upper bound")
	fl.StringVar(&hashKey, "hash-key", "", "key of the number hashes, for --scan-sources (default $BANSHO_CONTENT_HASH_KEY)")
	fl.Int64Var(&maxScan, "max-scan-bytes", 1<<30, "largest source file --scan-sources reads")
	cmd.AddCommand(affectedCmd())
	return cmd
}

func peopleText(c incident.Count) string {
	switch {
	case c.Exact:
		return fmt.Sprintf("%d (exact)", c.Lower)
	case c.Upper != nil:
		return fmt.Sprintf("%d to %d", c.Lower, *c.Upper)
	}
	return fmt.Sprintf("at least %d", c.Lower)
}

// countWarnings counts the store's warnings about records it could not
// read, and passes every record on.
type countWarnings struct {
	n    *atomic.Int64
	next slog.Handler
}

func (h *countWarnings) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}
func (h *countWarnings) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && strings.Contains(r.Message, "unreadable record") {
		h.n.Add(1)
	}
	return h.next.Handle(ctx, r)
}
func (h *countWarnings) WithAttrs(a []slog.Attr) slog.Handler {
	return &countWarnings{n: h.n, next: h.next.WithAttrs(a)}
}
func (h *countWarnings) WithGroup(g string) slog.Handler {
	return &countWarnings{n: h.n, next: h.next.WithGroup(g)}
}

func affectedCmd() *cobra.Command {
	var reportPath, roster, hashKey, format, out string
	cmd := &cobra.Command{
		Use:   "affected --incident REPORT --roster FILE [--hash-key KEY] [--format text|csv|json] [--out FILE]",
		Short: "The rows of a roster whose numbers are in an incident: who to notify",
		Long: `For the data owner, on their own machine: read the roster of employees or
customers with their numbers (CSV, Excel's CSV in Shift_JIS/CP932 or UTF-8
with a BOM, or Excel's tab-separated "Unicode text" in UTF-16) and list the
rows whose number's keyed hash is in the incident report (the JSON, or the
HTML page, which embeds it): the row number and the other columns, to
notify each person and support reissuing their numbers. Cells that hold a
number are masked; no number is printed.

status "seen": the number left in a flow whose bytes were scanned;
"possible": it was in a source file whose data left, but was not seen in
the bytes scanned (within the upper bound).

The hash key must be the sensor's: --hash-key or BANSHO_CONTENT_HASH_KEY.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reportPath == "" || roster == "" {
				return usageError{errorf("incident affected: --incident REPORT and --roster FILE are required")}
			}
			switch format {
			case "text", "csv", "json":
			default:
				return usageError{errorf("incident affected: --format %q: use text, csv or json", format)}
			}
			key, err := commandHashKey("incident affected", hashKey, "a hash key is required")
			if err != nil {
				return err
			}
			det, err := content.NewDetector(content.Config{HashKey: key})
			if err != nil {
				return err
			}
			rb, err := os.ReadFile(reportPath)
			if err != nil {
				return fmt.Errorf("incident affected: %w", err)
			}
			rep, err := incident.LoadReport(rb)
			if err != nil {
				return fmt.Errorf("incident affected: %s: %w", reportPath, err)
			}
			data, err := os.ReadFile(roster)
			if err != nil {
				return fmt.Errorf("incident affected: %w", err)
			}
			res, err := incident.FindAffected(rep, data, det)
			if err != nil {
				return fmt.Errorf("incident affected: %s: %w", roster, err)
			}
			w := cmd.OutOrStdout()
			var file *os.File
			if out != "" && out != "-" {
				if file, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
					return fmt.Errorf("incident affected: %w", err)
				}
				w = file
			}
			bw := bufio.NewWriter(w)
			err = writeAffected(bw, res, format)
			if err == nil {
				err = bw.Flush()
			}
			if file != nil {
				if cerr := file.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return fmt.Errorf("incident affected: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "bansho: incident affected: %d of %d rows (%s, %d with numbers) are in the incident; %d of its hashes are in no row of this roster\n",
				len(res.Rows), res.RosterRows, res.Encoding, res.WithNumbers, res.NotInRoster)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&reportPath, "incident", "", "the report of bansho incident (JSON or HTML)")
	fl.StringVar(&roster, "roster", "", "the roster: CSV or tab-separated text with the numbers")
	fl.StringVar(&hashKey, "hash-key", "", "key of the number hashes, the sensor's (default $BANSHO_CONTENT_HASH_KEY)")
	fl.StringVar(&format, "format", "text", "output format: text, csv or json")
	fl.StringVar(&out, "out", "", "write to this file (0600) instead of stdout")
	return cmd
}

func writeAffected(w io.Writer, res *incident.Affected, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case "csv":
		cw := csv.NewWriter(w)
		head := append([]string{"row", "status", "kind"}, res.Header...)
		if err := cw.Write(head); err != nil {
			return err
		}
		for _, r := range res.Rows {
			if err := cw.Write(append([]string{strconv.Itoa(r.Row), r.Status, r.Kind}, r.Columns...)); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ROW\tSTATUS\t%s\n", strings.Join(escapeCells(res.Header), "\t"))
	for _, r := range res.Rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\n", r.Row, r.Status, strings.Join(escapeCells(r.Columns), "\t"))
	}
	return tw.Flush()
}

// escapeCells keeps control characters in roster cells off the terminal.
func escapeCells(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		if strings.ContainsFunc(c, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			out[i] = strconv.Quote(c)
		} else {
			out[i] = c
		}
	}
	return out
}
