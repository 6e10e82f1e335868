package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/rules"
)

func replayCmd() *cobra.Command {
	var rulesDir, input, store, since, until, cfgFile string
	cmd := &cobra.Command{
		Use:   "replay (--store DIR | --input FILE) [--rules DIR] [--since T] [--until T]",
		Short: "Run rules over recorded ECS documents and print the alerts they make",
		Long: `Run the rules (DIR, or the built-in pack) over recorded ECS documents,
in order, and print the alert documents they make as JSON lines; a
summary goes to stderr. --store reads the events stream of a local store
(read-only, also while a sensor writes it); --input a JSON-lines file
("-" for stdin), for example the sensor's outputs.file.path. --since and
--until (RFC 3339) select documents by @timestamp. Business hours and
lists come from --config when given.`,
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
				if opts, err = ruleOptions(cfg.Rules, cfg.Protect.Paths); err != nil {
					return err
				}
			}
			set, err := loadRuleSet(rulesDir, opts)
			if err != nil {
				return err
			}
			if store != "" {
				return replayStore(cmd.OutOrStdout(), cmd.ErrOrStderr(), store, set, from, to)
			}
			in := io.Reader(os.Stdin)
			name := "stdin"
			if input != "-" {
				f, err := os.Open(input)
				if errors.Is(err, os.ErrNotExist) {
					return usageError{fmt.Errorf("replay: %w", err)}
				}
				if err != nil {
					return fmt.Errorf("replay: %w", err)
				}
				defer f.Close()
				in, name = f, input
			}
			return replay(cmd.OutOrStdout(), cmd.ErrOrStderr(), in, name, set, from, to)
		},
	}
	cmd.Flags().StringVar(&rulesDir, "rules", "", "rule directory (default: the built-in pack)")
	cmd.Flags().StringVar(&input, "input", "", "JSON-lines file of ECS documents, - for stdin")
	cmd.Flags().StringVar(&store, "store", "", "a local store directory (its events stream)")
	cmd.Flags().StringVar(&since, "since", "", "only documents at or after this time (RFC 3339)")
	cmd.Flags().StringVar(&until, "until", "", "only documents before this time (RFC 3339)")
	cmd.Flags().StringVarP(&cfgFile, "config", "c", "", "configuration file for business hours and lists")
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
}

func newReplayer(out, errw io.Writer, set *rules.Set, from, to time.Time) *replayer {
	return &replayer{eng: rules.NewEngine(set, rules.EngineOptions{}), enc: &ecs.Encoder{Version: version},
		w: bufio.NewWriter(out), errw: errw, from: from, to: to, byRule: map[string]int{}}
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

// finish flushes the alerts and writes the summary; bad documents make
// the exit status 1.
func (r *replayer) finish(name string) error {
	if err := r.w.Flush(); err != nil {
		return fmt.Errorf("replay: write: %w", err)
	}
	total := 0
	for _, n := range r.byRule {
		total += n
	}
	fmt.Fprintf(r.errw, "replay: %d documents evaluated, %d outside the time range, %d bad, %d alerts\n", r.docs, r.skip, r.bad, total)
	printAlertSummary(r.errw, r.byRule)
	if r.bad > 0 {
		return fmt.Errorf("replay: %d bad documents in %s", r.bad, name)
	}
	return nil
}

// replay reads JSON lines from in.
func replay(out, errw io.Writer, in io.Reader, name string, set *rules.Set, from, to time.Time) error {
	rp := newReplayer(out, errw, set, from, to)
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
func replayStore(out, errw io.Writer, dir string, set *rules.Set, from, to time.Time) error {
	s, err := store.OpenReadOnly(dir, nil)
	if err != nil {
		return pathUsage(fmt.Errorf("replay: %w", err))
	}
	defer s.Close()
	rp := newReplayer(out, errw, set, from, to)
	q := store.Query{Stream: store.StreamEvents}
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
