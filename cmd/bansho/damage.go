package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/bansho-sec/bansho/internal/store"
)

// damageLog gathers what a command reading the store could not deliver
// (Query.OnDamage), names it on stderr and counts it for the summary, so
// evidence handed over says what is missing.
type damageLog struct {
	list []store.Damage
	seen map[string]bool
}

func (l *damageLog) add(d store.Damage) {
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if k := d.String(); !l.seen[k] {
		l.seen[k] = true
		l.list = append(l.list, d)
	}
}

// merged is the list with the adjacent records of one file and message
// (the records of one damaged frame) as one range.
func (l *damageLog) merged() []store.Damage { return store.MergeDamage(l.list) }

// lost is how many records were lost (known), and how many losses of an
// unknown number of records there are.
func (l *damageLog) lost() (records uint64, unknown int) {
	for _, d := range l.merged() {
		switch {
		case d.NoLoss:
		case d.Records() > 0:
			records += d.Records()
		default:
			unknown++
		}
	}
	return records, unknown
}

// any reports whether records were lost.
func (l *damageLog) any() bool {
	r, u := l.lost()
	return r > 0 || u > 0
}

// print names every loss (and note) on w, one line each.
func (l *damageLog) print(w io.Writer, cmd string) {
	for _, d := range l.merged() {
		what := "DAMAGED"
		if d.NoLoss {
			what = "note"
		}
		fmt.Fprintf(w, "%s: %s %s stream: %s\n", cmd, what, d.Stream, d)
	}
}

// summary is "N records damaged or missing" (and the losses of unknown
// size), for the summary line.
func (l *damageLog) summary() string {
	r, u := l.lost()
	s := fmt.Sprintf("%d records damaged or missing", r)
	if u > 0 {
		s += fmt.Sprintf(" (and %d losses of an unknown number of records)", u)
	}
	return s
}

// result is the command's error for what was lost: exit 3, unless the
// user accepts damage.
func (l *damageLog) result(cmd string, allow bool) error {
	if !l.any() || allow {
		return nil
	}
	return incompleteError{fmt.Errorf("%s: %s; the output lacks them (--allow-damaged accepts this)", cmd, l.summary())}
}

// openInput opens a file of JSON lines named on the command line. A name
// that does not exist or is a directory is a usage error. A FIFO is
// opened without waiting for a writer (one that never comes reads as
// empty), so the command cannot hang at the open.
func openInput(cmd, name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, usageError{fmt.Errorf("%s: %w", cmd, err)}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, usageError{fmt.Errorf("%s: %s is a directory, not a file of JSON lines", cmd, name)}
	}
	return f, nil
}
