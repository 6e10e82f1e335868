package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/internal/store/timeline"
)

const defaultStoreDir = "/var/lib/bansho/store"

func storeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Inspect and check the local event store",
	}
	cmd.AddCommand(storeVerifyCmd(), storeStatCmd(), storeDumpCmd())
	return cmd
}

func storeVerifyCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "verify [--store DIR]",
		Short: "Check every record's checksum and the hash chain",
		Long: `Read every segment of the store and check each record's checksum,
sequence number and chain hash, that each segment continues the one before
it, and that the indexes match. Every problem is printed with the segment
file, the record's sequence number and its byte offset. Exit status 0 when
the store is sound, 1 when anything is damaged or altered, 2 on usage
errors (also when --store names no store). Safe to run while the sensor writes the store; nothing is changed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := store.Verify(dir)
			if err != nil {
				return pathUsage(err)
			}
			out := cmd.OutOrStdout()
			for _, p := range rep.Problems {
				fmt.Fprintln(out, "DAMAGED", p)
			}
			if rep.Truncated {
				fmt.Fprintln(out, "... more problems not listed")
			}
			fmt.Fprintf(out, "%d segments, %d records, %d bytes\n", len(rep.Segments), rep.Records, rep.Bytes)
			for _, name := range store.Streams {
				if h, ok := rep.Heads[name]; ok {
					fmt.Fprintf(out, "%s: last record %d, chain hash %s\n", name, h.Seq, hex.EncodeToString(h.Hash[:]))
				}
			}
			if !rep.OK() {
				return fmt.Errorf("store %s: %d problems found", dir, len(rep.Problems))
			}
			fmt.Fprintf(out, "OK: store %s is intact\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "store", defaultStoreDir, "store directory")
	return cmd
}

func storeStatCmd() *cobra.Command {
	var dir, format string
	cmd := &cobra.Command{
		Use:   "stat [--store DIR] [--format text|json]",
		Short: "Show streams, segments, sizes, time range and consumer lag",
		Long: `Show each stream's segments, records, bytes, sequence and time range,
and each consumer's committed position and lag. Damage seen without
reading every record (a segment that cannot be read or was removed, an
index left without its segment, a torn tail) is named on stderr; the
record counts come from sequence numbers and include it. store verify
reads every record.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageError{errorf("store stat: --format %q: use text or json", format)}
			}
			s, err := store.OpenReadOnly(dir, nil)
			if err != nil {
				return pathUsage(err)
			}
			defer s.Close()
			if err := writeStat(cmd.OutOrStdout(), s, format); err != nil {
				return err
			}
			// What opening the store showed lost; damage inside sealed
			// segments only a full read finds (store verify).
			var dmg damageLog
			for _, name := range store.Streams {
				for _, d := range s.Damage(name) {
					dmg.add(d)
				}
			}
			if dmg.any() {
				dmg.print(cmd.ErrOrStderr(), "store stat")
				fmt.Fprintf(cmd.ErrOrStderr(), "store stat: %s (the record counts include them; run bansho store verify)\n", dmg.summary())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "store", defaultStoreDir, "store directory")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

type statStream struct {
	Stream   string `json:"stream"`
	Segments int    `json:"segments"`
	Records  uint64 `json:"records"`
	Bytes    int64  `json:"bytes"`
	First    uint64 `json:"first_seq"`
	Last     uint64 `json:"last_seq"`
	Oldest   string `json:"oldest,omitempty"`
	Newest   string `json:"newest,omitempty"`
}

type statConsumer struct {
	Consumer string            `json:"consumer"`
	Next     map[string]uint64 `json:"next"`
	Lag      map[string]uint64 `json:"lag"`
}

func writeStat(w io.Writer, s *store.Store, format string) error {
	st := s.Stats()
	var streams []statStream
	for _, name := range store.Streams {
		ss := st.Streams[name]
		streams = append(streams, statStream{Stream: name, Segments: ss.Segments, Records: ss.Records, Bytes: ss.Bytes,
			First: ss.First, Last: ss.Head, Oldest: nsTime(ss.MinTime), Newest: nsTime(ss.MaxTime)})
	}
	var consumers []statConsumer
	for _, name := range s.Consumers() {
		c := s.Committed(name)
		lag := map[string]uint64{}
		for stream, next := range c {
			lag[stream] = s.Lag(stream, next)
		}
		consumers = append(consumers, statConsumer{Consumer: name, Next: c, Lag: lag})
	}
	if format == "json" {
		var damage []string
		for _, name := range store.Streams {
			for _, d := range store.MergeDamage(s.Damage(name)) {
				damage = append(damage, name+": "+d.String())
			}
		}
		return json.NewEncoder(w).Encode(map[string]any{"dir": s.Dir(), "streams": streams, "consumers": consumers, "damage": damage,
			"cursors_damaged": cursorLines(s)})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tSEGMENTS\tRECORDS\tBYTES\tSEQ\tOLDEST\tNEWEST")
	for _, x := range streams {
		seq := "-"
		if x.Records > 0 {
			seq = strconv.FormatUint(x.First, 10) + "-" + strconv.FormatUint(x.Last, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\n", x.Stream, x.Segments, x.Records, x.Bytes, seq, dash(x.Oldest), dash(x.Newest))
	}
	if len(consumers) > 0 {
		fmt.Fprintln(tw, "\nCONSUMER\tSTREAM\tNEXT\tLAG")
		for _, c := range consumers {
			keys := make([]string, 0, len(c.Next))
			for k := range c.Next {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", c.Consumer, k, c.Next[k], c.Lag[k])
			}
		}
	}
	if cl := cursorLines(s); len(cl) > 0 {
		fmt.Fprintln(tw, "\nDAMAGED CURSORS")
		for _, l := range cl {
			fmt.Fprintln(tw, l)
		}
	}
	return tw.Flush()
}

// cursorLines are the exporter cursors found damaged: in place (the next
// start sets them aside) and set aside by earlier starts.
func cursorLines(s *store.Store) []string {
	out := []string{}
	for _, d := range s.DamagedCursors() {
		out = append(out, fmt.Sprintf("%s: %s unreadable (%s); the exporter resumes from the %s at the next start",
			d.Consumer, d.File, d.Reason, d.ResumeFrom))
	}
	for _, p := range s.SetAsideCursors() {
		out = append(out, "set aside: "+p)
	}
	return out
}

func nsTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func storeDumpCmd() *cobra.Command {
	var dir, stream, since, until string
	var allowDamaged bool
	cmd := &cobra.Command{
		Use:   "dump [--store DIR] [--stream events|alerts|deadletter] [--since T] [--until T] [--allow-damaged]",
		Short: "Write a stream's documents as JSON lines",
		Long: `Write the documents of one stream to standard output as JSON lines, in
the order they were stored, optionally only those with an @timestamp in
[--since, --until] (a duration back from now, 1h, or an RFC 3339 time). The
output is what bansho timeline --input and bansho replay --input read, and
what to hand over as evidence (with the chain hash from store verify).

Records that are damaged or missing (a segment removed, a torn tail) are
skipped; each is named on stderr with its file and record numbers, a
summary counts them, and the exit status is 3, or 0 with --allow-damaged.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			from, err := timeline.ParseTime(since, now)
			if err != nil {
				return usageError{errorf("store dump: --since: %v", err)}
			}
			to, err := timeline.ParseTime(until, now)
			if err != nil {
				return usageError{errorf("store dump: --until: %v", err)}
			}
			if !slices.Contains(store.Streams, stream) {
				return usageError{errorf("store dump: --stream %q: use one of %s", stream, strings.Join(store.Streams, ", "))}
			}
			s, err := store.OpenReadOnly(dir, nil)
			if err != nil {
				return pathUsage(err)
			}
			defer s.Close()
			q := store.Query{Stream: stream}
			if !from.IsZero() {
				q.Since = from.UnixNano()
			}
			if !to.IsZero() {
				q.Until = to.UnixNano()
			}
			var dmg damageLog
			q.OnDamage = dmg.add
			w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
			n := 0
			err = s.Scan(q, func(r store.Record) error {
				n++
				w.Write(r.Doc)
				return w.WriteByte('\n')
			})
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
			if len(dmg.list) > 0 {
				dmg.print(cmd.ErrOrStderr(), "store dump")
				fmt.Fprintf(cmd.ErrOrStderr(), "store dump: %d documents written; %s\n", n, dmg.summary())
			}
			return dmg.result("store dump", allowDamaged)
		},
	}
	cmd.Flags().BoolVar(&allowDamaged, "allow-damaged", false, "exit 0 even when damaged or missing records were skipped (they are still named on stderr)")
	cmd.Flags().StringVar(&dir, "store", defaultStoreDir, "store directory")
	cmd.Flags().StringVar(&stream, "stream", store.StreamEvents, "stream: events, alerts or deadletter")
	cmd.Flags().StringVar(&since, "since", "", "only documents from this time (duration back from now, or RFC 3339)")
	cmd.Flags().StringVar(&until, "until", "", "only documents up to this time")
	return cmd
}
