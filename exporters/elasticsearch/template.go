package elasticsearch

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// Property is one field mapping of the index template.
type Property struct {
	Type        string               `json:"type,omitempty"`
	IgnoreAbove int                  `json:"ignore_above,omitempty"`
	Properties  map[string]*Property `json:"properties,omitempty"`
}

// Mappings builds the template's field mappings from ecs.Fields and
// ecs.BanshoFields. Arrays need no mapping of their own in Elasticsearch
// ("keyword[]" maps as keyword); ".*" rows become dynamic templates.
func Mappings() (props map[string]*Property, dynamic []map[string]any, err error) {
	props = map[string]*Property{}
	add := func(path, typ string) error {
		base := strings.TrimSuffix(typ, "[]")
		parts := strings.Split(path, ".")
		m := props
		for i, p := range parts {
			leaf := i == len(parts)-1
			prop, ok := m[p]
			if !ok {
				prop = &Property{}
				m[p] = prop
			}
			if leaf {
				if prop.Properties != nil {
					return fmt.Errorf("%s is an object and a %s", path, base)
				}
				prop.Type = base
				if base == "keyword" {
					prop.IgnoreAbove = 1024
				}
				return nil
			}
			if prop.Type != "" && prop.Type != "object" {
				return fmt.Errorf("%s: %s is a %s, not an object", path, strings.Join(parts[:i+1], "."), prop.Type)
			}
			if prop.Properties == nil {
				prop.Properties = map[string]*Property{}
			}
			m = prop.Properties
		}
		return nil
	}
	for _, table := range []map[string]string{ecs.Fields, ecs.BanshoFields} {
		keys := make([]string, 0, len(table))
		for k := range table {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if under, ok := strings.CutSuffix(k, ".*"); ok {
				dynamic = append(dynamic, map[string]any{
					strings.ReplaceAll(under, ".", "_"): map[string]any{
						"path_match": k,
						"mapping":    map[string]any{"type": strings.TrimSuffix(table[k], "[]")},
					},
				})
				continue
			}
			if err := add(k, table[k]); err != nil {
				return nil, nil, err
			}
		}
	}
	// Anything else that is a string (a field a newer sensor adds) is a
	// keyword, not analysed text.
	dynamic = append(dynamic, map[string]any{"strings_as_keyword": map[string]any{
		"match_mapping_type": "string",
		"mapping":            map[string]any{"type": "keyword", "ignore_above": 1024},
	}})
	return props, dynamic, nil
}

// Template is the body of PUT _index_template/NAME for these index
// patterns; dataStream makes matching names data streams.
func Template(patterns []string, dataStream bool) ([]byte, error) {
	props, dynamic, err := Mappings()
	if err != nil {
		return nil, err
	}
	t := map[string]any{
		"index_patterns": patterns,
		// Above the built-in logs-*-* template (priority 100), so ours
		// applies to logs-bansho.* data streams.
		"priority": 200,
		"template": map[string]any{
			"settings": map[string]any{
				"index": map[string]any{"mapping": map[string]any{"total_fields": map[string]any{"limit": 2000}}},
			},
			"mappings": map[string]any{
				"date_detection":    false,
				"dynamic_templates": dynamic,
				"properties":        props,
			},
		},
		"_meta": map[string]any{"managed_by": "bansho", "ecs_version": ecs.Version, "description": "bansho ECS documents"},
	}
	if dataStream {
		t["data_stream"] = map[string]any{}
	}
	return json.Marshal(t)
}
