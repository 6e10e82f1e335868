package daemon

import (
	"errors"
	"fmt"

	"github.com/bansho-sec/bansho/exporters/file"
	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/pipeline/rules"
)

// CheckResult is what Check built, for start-up to use.
type CheckResult struct {
	Rules       *rules.Set // nil when rules.enabled is false
	RuleOptions rules.Options
}

// Check makes every check of a loaded configuration that start-up makes
// and that needs neither root nor the kernel, and changes nothing: the
// exporters are built (certificates, topics, indices, headers) but not
// started, the output file's directory is checked as the file exporter
// takes it, the hash key file as NewDetector reads it (0600, a key long
// enough; a missing one is created at start, one this user cannot read is
// checked at start), and the rules are loaded (every rules.lists name must
// be a list of them). What it cannot check: the kernel, binding
// metrics.listen, and creating the output and store directories. `bansho run`
// stops on its error (a wrong configuration), and `bansho config check`
// runs the same function, so what one accepts the other does.
func Check(cfg *config.Config) (*CheckResult, error) {
	res := &CheckResult{}
	if !cfg.Store.Enabled {
		if cfg.Outputs.Kafka.Enabled {
			return nil, errors.New("outputs.kafka.enabled: the Kafka exporter delivers from the store: set store.enabled: true")
		}
		if cfg.Outputs.Elasticsearch.Enabled {
			return nil, errors.New("outputs.elasticsearch.enabled: the Elasticsearch exporter delivers from the store: set store.enabled: true")
		}
	}
	if err := checkExporters(cfg.Outputs); err != nil {
		return nil, err
	}
	if err := checkContent(cfg.Content); err != nil {
		return nil, err
	}
	if p := cfg.Outputs.File.Path; p != "" {
		// The directory as the file exporter will take it: not one
		// others can write to.
		if err := file.CheckDir(p); err != nil {
			return nil, fmt.Errorf("outputs.file.path: %w", err)
		}
	}
	if cfg.Rules.Enabled {
		set, opts, err := LoadRules(cfg.Rules, cfg.Protect.Paths)
		if err != nil {
			return nil, err
		}
		res.Rules, res.RuleOptions = set, opts
	}
	return res, nil
}
