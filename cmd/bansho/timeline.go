package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/internal/store/timeline"
)

func timelineCmd() *cobra.Command {
	var dir, input, entity, pid, file, user, since, until, format string
	var utc, allowDamaged bool
	var maxDocs int
	cmd := &cobra.Command{
		Use:   "timeline [--store DIR | --input FILE] [--entity-id ID | --pid PID | --file PATH | --user NAME] [--since T] [--until T] [--format text|json]",
		Short: "Show what happened as a process tree in time order",
		Long: `Tell the story of an incident from the store (or from a file of ECS JSON
lines with --input): the processes that touched --file (a file, or a
directory: everything under it), ran as --user (name or id; the acting,
effective, real or login user), or are --pid / --entity-id, together with
their descendants and their parents, as a tree in time order. Under each
process: every file access, connection and content finding (how many
people's My Numbers, never a number) and alert, with times.

--since and --until take a duration back from now (30m, 1h, 7d) or a time
(RFC 3339: 2026-11-22T09:00:00+09:00, or 2026-11-22 09:00 local time).
Conditions combine: a document must meet all of them to start the story.
Times are shown in the local time zone (TZ), or UTC with --utc.

Records the store cannot return (damaged, or missing: a segment removed, a
torn tail) and lines of --input that are not documents are skipped, named
on stderr (file and record numbers, or file:line) and counted in the
output; the exit status is then 3, or 0 with --allow-damaged.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			var f timeline.Filter
			var err error
			if f.Since, err = timeline.ParseTime(since, now); err != nil {
				return usageError{errorf("timeline: --since: %v", err)}
			}
			if f.Until, err = timeline.ParseTime(until, now); err != nil {
				return usageError{errorf("timeline: --until: %v", err)}
			}
			if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
				return usageError{errorf("timeline: --until %s is before --since %s", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))}
			}
			if pid != "" {
				n, err := strconv.Atoi(pid)
				if err != nil || n <= 0 {
					return usageError{errorf("timeline: --pid %q: not a process id", pid)}
				}
				f.PID = n
			}
			f.EntityID, f.File, f.User = entity, file, user
			if format != "text" && format != "json" {
				return usageError{errorf("timeline: --format %q: use text or json", format)}
			}
			if input != "" && cmd.Flags().Changed("store") {
				return usageError{errorf("timeline: use --store or --input, not both")}
			}
			var t *timeline.Timeline
			if input != "" {
				in, err := openInput("timeline", input)
				if err != nil {
					return err
				}
				defer in.Close()
				t, err = timeline.FromJSONLines(in, f, maxDocs)
				if err != nil {
					return fmt.Errorf("timeline: %s: %w", input, err)
				}
			} else {
				s, err := store.OpenReadOnly(dir, nil)
				if err != nil {
					return pathUsage(err)
				}
				defer s.Close()
				t, err = timeline.FromStore(s, f, maxDocs)
				if err != nil {
					return err
				}
			}
			// What the story lacks is named on stderr, whatever the
			// format, and makes the exit status 3.
			errw := cmd.ErrOrStderr()
			var dmg damageLog
			for _, d := range t.Damage {
				dmg.add(d)
			}
			dmg.print(errw, "timeline")
			for _, l := range t.BadLines {
				fmt.Fprintf(errw, "timeline: %s:%d: %s; skipped\n", input, l.Line, l.Reason)
			}
			if n := t.ParseErrors - len(t.BadLines); n > 0 {
				fmt.Fprintf(errw, "timeline: %s: %d more lines that are not documents\n", input, n)
			}
			if format == "json" {
				err = t.WriteJSON(cmd.OutOrStdout())
			} else {
				loc := time.Local
				if utc {
					loc = time.UTC
				}
				err = t.WriteText(cmd.OutOrStdout(), loc)
			}
			if err != nil {
				return err
			}
			if err := dmg.result("timeline", allowDamaged); err != nil {
				return err
			}
			if t.ParseErrors > 0 && !allowDamaged {
				return incompleteError{fmt.Errorf("timeline: %s: %d lines are not documents and were skipped (--allow-damaged accepts this)", input, t.ParseErrors)}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&allowDamaged, "allow-damaged", false, "exit 0 even when damaged or missing records, or input lines that are not documents, were skipped (still named on stderr)")
	fl.StringVar(&dir, "store", defaultStoreDir, "store directory")
	fl.StringVar(&input, "input", "", "read ECS JSON lines from this file instead of the store")
	fl.StringVar(&entity, "entity-id", "", "process.entity_id to start from")
	fl.StringVar(&pid, "pid", "", "process id to start from")
	fl.StringVar(&file, "file", "", "file or directory path to start from")
	fl.StringVar(&user, "user", "", "user name or id to start from")
	fl.StringVar(&since, "since", "", "start: duration back from now (1h) or a time (RFC 3339)")
	fl.StringVar(&until, "until", "", "end: duration back from now or a time")
	fl.StringVar(&format, "format", "text", "output format: text or json")
	fl.BoolVar(&utc, "utc", false, "show times in UTC")
	fl.IntVar(&maxDocs, "max-docs", timeline.DefaultMaxDocs, "most documents shown")
	return cmd
}
