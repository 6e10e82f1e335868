package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/daemon"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/rules"
)

func replayCmd() *cobra.Command {
	var rulesDir, input, store, since, until, cfgFile string
	var allowDamaged bool
	cmd := &cobra.Command{
		Use:   "replay (--store DIR | --input FILE) [--rules DIR] [--since T] [--until T]",
		Short: "Run rules over recorded ECS documents and print the alerts they make",
		Long: `Run the rules (DIR, or the built-in pack) over recorded ECS documents,
in order, and print the alert documents they make as JSON lines; a
summary goes to stderr. --store reads the events stream of a local store
(read-only, also while a sensor writes it); --input a JSON-lines file
("-" for stdin), for example the sensor's outputs.file.path. --since and
--until (RFC 3339) select documents by @timestamp. Business hours and
lists come from --config when given.

Exit status 3 when lines that are not documents, or damaged or missing
store records, were skipped (each named on stderr; 0 with
--allow-damaged); 1 when a rule failed to evaluate (named, with how many
documents: its alerts may be missing).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (store == "") == (input == "") {
				return usageError{errors.New("replay: give one of --store DIR and --input FILE")}
			}
			var from, to time.Time
			var err error
			if since != "" {
				if from, err = time.Parse(time.RFC3339, since); err != nil {
					return usageError{fmt.Errorf("replay: --since %q: not an RFC 3339 time", since)}
				}
			}
			if until != "" {
				if to, err = time.Parse(time.RFC3339, until); err != nil {
					return usageError{fmt.Errorf("replay: --until %q: not an RFC 3339 time", until)}
				}
			}
			opts := rules.Options{Calendar: rules.DefaultCalendar()}
			if cfgFile != "" {
				cfg, err := config.Load(cfgFile, nil)
				if err != nil {
					return err
				}
				if opts, err = daemon.RuleOptions(cfg.Rules, cfg.Protect.Paths); err != nil {
					return err
				}
			}
			set, err := daemon.LoadRuleSet(rulesDir, opts)
			if err != nil {
				return err
			}
			if store != "" {
				return replayStore(cmd.OutOrStdout(), cmd.ErrOrStderr(), store, set, from, to, allowDamaged)
			}
			in := io.Reader(os.Stdin)
			name := "stdin"
			if input != "-" {
				f, err := openInput("replay", input)
				if err != nil {
					return err
				}
				defer f.Close()
				in, name = f, input
			}
			return replay(cmd.OutOrStdout(), cmd.ErrOrStderr(), in, name, set, from, to, allowDamaged)
		},
	}
	cmd.Flags().StringVar(&rulesDir, "rules", "", "rule directory (default: the built-in pack)")
	cmd.Flags().StringVar(&input, "input", "", "JSON-lines file of ECS documents, - for stdin")
	cmd.Flags().StringVar(&store, "store", "", "a local store directory (its events stream)")
	cmd.Flags().StringVar(&since, "since", "", "only documents at or after this time (RFC 3339)")
	cmd.Flags().StringVar(&until, "until", "", "only documents before this time (RFC 3339)")
	cmd.Flags().StringVarP(&cfgFile, "config", "c", "", "configuration file for business hours and lists")
	cmd.Flags().BoolVar(&allowDamaged, "allow-damaged", false, "exit 0 even when bad lines or damaged or missing records were skipped (still named on stderr)")
	return cmd
}

// maxLine bounds one document; longer lines are reported, not read.
const maxLine = 4 << 20

// replayer evaluates documents in order and writes the alerts.
type replayer struct {
	eng    *rules.Engine
	enc    *ecs.Encoder
	w      *bufio.Writer
	errw   io.Writer
	from   time.Time
	to     time.Time
	docs   int
	skip   int
	bad    int
	byRule map[string]int
	// allow: skipped documents and records do not make the exit status 3.
	allow bool
	dmg   damageLog
	// Rules whose conditions failed to run: documents per rule, and the
	// first failure's place and error.
	where     string
	ruleFails map[string]int
	firstFail map[string]string
}

func newReplayer(out, errw io.Writer, set *rules.Set, from, to time.Time, allow bool) *replayer {
	r := &replayer{enc: &ecs.Encoder{Version: version},
		// Its messages quote file names and values of the documents:
		// any My Number in them is masked, as the documents are.
		w: bufio.NewWriter(out), errw: maskWriter{errw}, from: from, to: to, byRule: map[string]int{}, allow: allow,
		ruleFails: map[string]int{}, firstFail: map[string]string{}}
	last := map[string]string{} // rule -> the document it last failed on, to count documents
	r.eng = rules.NewEngine(set, rules.EngineOptions{OnError: func(rule string, err error) {
		if last[rule] == r.where {
			return
		}
		last[rule] = r.where
		if r.ruleFails[rule] == 0 {
			r.firstFail[rule] = fmt.Sprintf("%s: %v", r.where, err)
		}
		r.ruleFails[rule]++
	}})
	return r
}

// doc evaluates one document; where names it in messages (file:line).
func (r *replayer) doc(b []byte, where string) {
	var ts struct {
		T string `json:"@timestamp"`
	}
	if err := json.Unmarshal(b, &ts); err != nil {
		r.bad++
		fmt.Fprintf(r.errw, "%s: not a JSON document: %v\n", where, err)
		return
	}
	if !r.from.IsZero() || !r.to.IsZero() {
		t, err := time.Parse(time.RFC3339Nano, ts.T)
		if err != nil {
			r.bad++
			fmt.Fprintf(r.errw, "%s: @timestamp %q is not an RFC 3339 time\n", where, ts.T)
			return
		}
		if (!r.from.IsZero() && t.Before(r.from)) || (!r.to.IsZero() && !t.Before(r.to)) {
			r.skip++
			return
		}
	}
	r.docs++
	r.where = where
	alerts, err := r.eng.EvalDoc(b)
	if err != nil {
		r.bad++
		fmt.Fprintf(r.errw, "%s: %v\n", where, err)
	}
	for _, a := range alerts {
		r.byRule[a.Alert.RuleName]++
		r.w.Write(r.enc.Append(nil, a))
		r.w.WriteByte('\n')
	}
}

// finish flushes the alerts and writes the summary. Rules that failed to
// run make the exit status 1 (their alerts may be missing); bad documents
// and damaged or missing records 3, unless allowed.
func (r *replayer) finish(name string) error {
	if err := r.w.Flush(); err != nil {
		return fmt.Errorf("replay: write: %w", err)
	}
	total := 0
	for _, n := range r.byRule {
		total += n
	}
	r.dmg.print(r.errw, "replay")
	failed := make([]string, 0, len(r.ruleFails))
	for rule := range r.ruleFails {
		failed = append(failed, rule)
	}
	sort.Strings(failed)
	for _, rule := range failed {
		fmt.Fprintf(r.errw, "replay: rule %q failed to evaluate on %d documents (first at %s)\n", rule, r.ruleFails[rule], r.firstFail[rule])
	}
	damaged := ""
	if r.dmg.any() {
		damaged = ", " + r.dmg.summary()
	}
	fmt.Fprintf(r.errw, "replay: %d documents evaluated, %d outside the time range, %d bad%s, %d alerts, %d rules failed to evaluate\n",
		r.docs, r.skip, r.bad, damaged, total, len(failed))
	printAlertSummary(r.errw, r.byRule)
	if len(failed) > 0 {
		return fmt.Errorf("replay: %d rules failed to evaluate (%s): their alerts may be missing", len(failed), strings.Join(failed, ", "))
	}
	if r.allow {
		return nil
	}
	if r.bad > 0 {
		return incompleteError{fmt.Errorf("replay: %d bad documents in %s, skipped (--allow-damaged accepts this)", r.bad, name)}
	}
	return r.dmg.result("replay", false)
}

// replay reads JSON lines from in.
func replay(out, errw io.Writer, in io.Reader, name string, set *rules.Set, from, to time.Time, allow bool) error {
	rp := newReplayer(out, errw, set, from, to, allow)
	r := bufio.NewReaderSize(in, 64<<10)
	var buf []byte
	line := 0
	for {
		b, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line: gather it, within maxLine.
			buf = append(buf[:0], b...)
			for err == bufio.ErrBufferFull && len(buf) <= maxLine {
				b, err = r.ReadSlice('\n')
				buf = append(buf, b...)
			}
			b = buf
		}
		if len(b) > 0 {
			line++
			where := fmt.Sprintf("%s:%d", name, line)
			if len(b) > maxLine {
				rp.bad++
				fmt.Fprintf(errw, "%s: a line of more than %d bytes, skipped\n", where, maxLine)
				for err == bufio.ErrBufferFull {
					_, err = r.ReadSlice('\n')
				}
			} else if t := trimSpace(b); len(t) > 0 {
				rp.doc(t, where)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return fmt.Errorf("replay: %s: %w", name, err)
		}
	}
	return rp.finish(name)
}

// replayStore reads the events stream of a store, in order, within the
// time range (the store skips segments outside it).
func replayStore(out, errw io.Writer, dir string, set *rules.Set, from, to time.Time, allow bool) error {
	s, err := store.OpenReadOnly(dir, nil)
	if err != nil {
		return pathUsage(fmt.Errorf("replay: %w", err))
	}
	defer s.Close()
	rp := newReplayer(out, errw, set, from, to, allow)
	q := store.Query{Stream: store.StreamEvents, OnDamage: rp.dmg.add}
	if !from.IsZero() {
		q.Since = from.UnixNano()
	}
	if !to.IsZero() {
		q.Until = to.UnixNano() - 1 // the store's bound is inclusive, --until is not
	}
	err = s.Scan(q, func(r store.Record) error {
		rp.doc(r.Doc, fmt.Sprintf("%s: events record %d", dir, r.Seq))
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return rp.finish(dir)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
