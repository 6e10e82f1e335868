package rules

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Reloader reloads the rules of a directory into an engine when its
// files change or on a signal. A rule set that does not compile is not
// used: the engine keeps running the one it has, and Result hears why.
type Reloader struct {
	Dir    string
	Opts   Options
	Engine *Engine
	Log    *slog.Logger
	// Result, when set, is called after every reload attempt: set is the
	// new rule set, or err every problem found (an Errors) and set nil.
	Result func(set *Set, err error)
	// Check, when set, vets a set that compiled before it is swapped in
	// (the sensor refuses a configured rules.lists name the new files no
	// longer define); its error fails the reload like a compile error.
	Check func(set *Set) error
	// Debounce groups a burst of file events (an editor's save, a
	// deployment copying files) into one reload; default 300ms.
	Debounce time.Duration

	ok, failed atomic.Uint64
}

// Reloads counts successful and failed reloads.
func (r *Reloader) Reloads() (ok, failed uint64) { return r.ok.Load(), r.failed.Load() }

// Reload loads the directory once and swaps it in if it compiles.
func (r *Reloader) Reload() error {
	set, err := Load(r.Dir, r.Opts)
	if err == nil && r.Check != nil {
		if err = r.Check(set); err != nil {
			set = nil
		}
	}
	if err != nil {
		r.failed.Add(1)
		if r.Log != nil {
			r.Log.Error("rules reload failed; the running rules stay", "dir", r.Dir, "error", firstLine(err))
		}
		if r.Result != nil {
			r.Result(nil, err)
		}
		return err
	}
	r.Engine.Swap(set)
	r.ok.Add(1)
	if r.Log != nil {
		r.Log.Info("rules reloaded", "dir", r.Dir, "rules", len(set.Rules), "enabled", set.Enabled())
	}
	if r.Result != nil {
		r.Result(set, nil)
	}
	return nil
}

// Watch reloads on every change to a rule file of the directory and on
// every value of hup (SIGHUP), until ctx ends.
func (r *Reloader) Watch(ctx context.Context, hup <-chan os.Signal) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("rules: watch %s: %w", r.Dir, err)
	}
	defer w.Close()
	if err := w.Add(r.Dir); err != nil {
		return fmt.Errorf("rules: watch %s: %w", r.Dir, err)
	}
	d := r.Debounce
	if d <= 0 {
		d = 300 * time.Millisecond
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			_ = r.Reload()
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			n := filepath.Base(ev.Name)
			// A Kubernetes ConfigMap volume swaps its files at once by
			// replacing the ..data symlink; other dotfiles are editors'.
			rule := !strings.HasPrefix(n, ".") && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml"))
			if !rule && n != "..data" {
				continue
			}
			timer.Reset(d)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			if r.Log != nil {
				r.Log.Warn("rules: watching the directory", "dir", r.Dir, "error", err)
			}
		case <-timer.C:
			_ = r.Reload()
		}
	}
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + fmt.Sprintf(" (and %d more)", strings.Count(s, "\n"))
	}
	return s
}
