package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/spell"
	"github.com/bansho-sec/bansho/pipeline"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/rules"
	pack "github.com/bansho-sec/bansho/rules"
)

// RuleSource names where rules come from, for messages.
func RuleSource(dir string) string {
	if dir == "" {
		return "built-in rules"
	}
	return dir
}

// LoadRuleSet loads dir, or the built-in pack when dir is empty.
func LoadRuleSet(dir string, opts rules.Options) (*rules.Set, error) {
	if dir == "" {
		return rules.LoadFS(pack.FS, "builtin:", opts)
	}
	return rules.Load(dir, opts)
}

// LoadRules loads the configured rule set as start-up does, and refuses
// a rules.lists name the rules do not define: a misspelt allowlist would
// otherwise silently allow nothing.
func LoadRules(c config.Rules, protect []string) (*rules.Set, rules.Options, error) {
	opts, err := RuleOptions(c, protect)
	if err != nil {
		return nil, opts, err
	}
	set, err := LoadRuleSet(c.Dir, opts)
	if err != nil {
		return nil, opts, fmt.Errorf("rules.dir: %w", err)
	}
	if err := CheckLists(set, c.Lists); err != nil {
		return nil, opts, err
	}
	return set, opts, nil
}

// CheckLists refuses a configured list that no rule file defines.
func CheckLists(set *rules.Set, lists []config.RuleList) error {
	for i, l := range lists {
		if set.Defines(l.Name) {
			continue
		}
		best, bestD := "", 4
		for _, n := range set.DefinedLists() {
			if d := spell.Distance(l.Name, n); d < bestD {
				best, bestD = n, d
			}
		}
		hint := " (the rules define " + strings.Join(set.DefinedLists(), ", ") + ")"
		if best != "" {
			hint = " (did you mean " + best + "?)"
		}
		return fmt.Errorf("rules.lists[%d].name: %q is not a list of the rules%s", i, l.Name, hint)
	}
	return nil
}

// RuleOptions are the rule set options of the configuration. The
// protected_directories list follows protect.paths unless rules.lists
// sets it.
func RuleOptions(c config.Rules, protect []string) (rules.Options, error) {
	b := c.BusinessHours
	cal, err := rules.NewCalendar(b.Timezone, b.Weekdays, b.Start, b.End, b.Holidays)
	if err != nil {
		return rules.Options{}, fmt.Errorf("rules.business_hours: %w", err)
	}
	lists := map[string][]string{"protected_directories": protect}
	for _, l := range c.Lists {
		lists[l.Name] = l.Items
	}
	dedupe := c.Dedupe
	if dedupe == 0 {
		dedupe = -1 // the engine's zero is its default
	}
	return rules.Options{Lists: lists, Calendar: cal, MaxKeys: c.MaxStateKeys, Dedupe: dedupe}, nil
}

// clockShift is what rules.clock moves event times by.
func clockShift(c config.Rules) time.Duration {
	if c.Clock == "" {
		return 0
	}
	t, err := time.Parse(time.RFC3339, c.Clock)
	if err != nil {
		return 0 // validated with the configuration
	}
	return time.Until(t)
}

// ruleSet is the running rule engine.
type ruleSet struct {
	collector prometheus.Collector // nil when the rules are off
	stop      func()
}

// startRules puts the rule set Check loaded into the pipeline and reloads
// it on SIGHUP and on file changes. emit writes a state document: a
// reload that fails writes rules-reload-failed naming every problem, and
// the running rules stay.
func startRules(c config.Rules, chk *CheckResult, p *pipeline.Pipeline, host ecs.Host,
	emit func(action, msg string, details map[string]string), log *slog.Logger) (*ruleSet, error) {
	if !c.Enabled || chk.Rules == nil {
		return &ruleSet{stop: func() {}}, nil
	}
	set, opts := chk.Rules, chk.RuleOptions
	// Processes come with each event from the enrichment stage's table
	// (seeded from /proc, so those already running are known by their
	// program and parents); the engine keeps its own only for events
	// without one (enrich.enabled false).
	eng := rules.NewEngine(set, rules.EngineOptions{Host: host, Shift: clockShift(c)})
	p.Rules = eng
	log.Info("rules loaded", "source", RuleSource(c.Dir), "rules", len(set.Rules), "enabled", set.Enabled())

	r := &rules.Reloader{Dir: c.Dir, Opts: opts, Engine: eng, Log: log,
		Check: func(set *rules.Set) error { return CheckLists(set, c.Lists) },
		Result: func(set *rules.Set, err error) {
			if err != nil {
				details := map[string]string{"dir": c.Dir}
				lines := strings.Split(err.Error(), "\n")
				for i, l := range lines {
					details[fmt.Sprintf("error_%d", i)] = l
				}
				emit("rules-reload-failed", fmt.Sprintf("rules not reloaded, the running rules stay: %s", lines[0]), details)
				return
			}
			emit("rules-reloaded", fmt.Sprintf("%d rules (%d enabled) from %s", len(set.Rules), set.Enabled(), c.Dir), nil)
		}}

	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		switch {
		case c.Dir != "" && c.Watch:
			if err := r.Watch(ctx, hup); err != nil {
				log.Error("rules: cannot watch; SIGHUP still reloads", "error", err)
				hupLoop(ctx, hup, func() { _ = r.Reload() })
			}
		case c.Dir != "":
			hupLoop(ctx, hup, func() { _ = r.Reload() })
		default:
			hupLoop(ctx, hup, func() { log.Info("rules: the built-in pack has nothing to reload (set rules.dir)") })
		}
	}()
	return &ruleSet{collector: rules.Collector(eng, r), stop: func() {
		signal.Stop(hup)
		cancel()
		<-done
	}}, nil
}

func hupLoop(ctx context.Context, hup <-chan os.Signal, f func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			f()
		}
	}
}
