package daemon

import (
	"errors"
	"fmt"
	"os"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/pipeline/content"
	"github.com/bansho-sec/bansho/pipeline/rules"
)

// CheckResult is what Check built, for start-up to use.
type CheckResult struct {
	Rules       *rules.Set // nil when rules.enabled is false
	RuleOptions rules.Options
	// KeyFileMissing: the hash key file does not exist yet; `bansho run`
	// creates it with a random key.
	KeyFileMissing bool
	// KeyFileUnreadable: this user may not read the hash key file (a
	// check run without root); `bansho run` checks it as root.
	KeyFileUnreadable bool
}

// Check makes every check of a loaded configuration that start-up makes
// and that needs neither root nor the kernel: the exporters' settings
// (certificates, topics, indices, headers) without contacting them, the
// rule files and their options, and the content hash key. `bansho run`
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
	if cfg.Rules.Enabled {
		opts, err := RuleOptions(cfg.Rules, cfg.Protect.Paths)
		if err != nil {
			return nil, err
		}
		set, err := LoadRuleSet(cfg.Rules.Dir, opts)
		if err != nil {
			return nil, fmt.Errorf("rules.dir: %w", err)
		}
		res.Rules, res.RuleOptions = set, opts
	}
	if cfg.Content.SampleBytes > 0 {
		if cfg.Content.HashKey != "" {
			if _, err := content.ParseHashKey(cfg.Content.HashKey); err != nil {
				return nil, fmt.Errorf("content.hash_key: %w", err)
			}
		} else {
			text, err := readKeyFile(cfg.Content.HashKeyFile)
			switch {
			case errors.Is(err, os.ErrNotExist):
				res.KeyFileMissing = true
			case errors.Is(err, os.ErrPermission):
				res.KeyFileUnreadable = true
			case err != nil:
				return nil, fmt.Errorf("content.hash_key_file %s: %w", cfg.Content.HashKeyFile, err)
			default:
				if _, err := content.ParseHashKey(text); err != nil {
					return nil, fmt.Errorf("content.hash_key_file %s: %w", cfg.Content.HashKeyFile, err)
				}
			}
		}
	}
	return res, nil
}
