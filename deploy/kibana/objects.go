// Package kibana builds bansho's Kibana 8 saved objects: a data view on
// logs-bansho.*, Lens visualizations and dashboards for the questions a
// My Number audit asks (who touched protected data, from which host, when;
// which rules fired; how many people a finding touches; where data went),
// and one saved search per rule of the default pack. bansho.ndjson is their
// export format, importable with the saved objects API; a test checks that
// it is current and that every field it names is in the index template.
package kibana

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/bansho-sec/bansho/pipeline/rules"
	pack "github.com/bansho-sec/bansho/rules"
)

// Saved object versions: objects written in the formats of Kibana 8.8
// (coreMigrationVersion 8.8.0, Lens "formBased" layers), which Kibana
// migrates forward on import.
const (
	coreMigrationVersion = "8.8.0"
	DataViewID           = "bansho-logs"
	DataViewTitle        = "logs-bansho.*"
)

var typeMigrationVersion = map[string]string{
	"index-pattern": "8.0.0",
	"search":        "8.0.0",
	"lens":          "8.6.0",
	"dashboard":     "8.7.0",
}

// Object is one saved object as the export format writes it.
type Object struct {
	Attributes           map[string]any `json:"attributes"`
	CoreMigrationVersion string         `json:"coreMigrationVersion"`
	ID                   string         `json:"id"`
	Managed              bool           `json:"managed"`
	References           []Reference    `json:"references"`
	Type                 string         `json:"type"`
	TypeMigrationVersion string         `json:"typeMigrationVersion"`
}

// Reference links an object to another by type and id.
type Reference struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

func object(typ, id string, attrs map[string]any, refs []Reference) Object {
	if refs == nil {
		refs = []Reference{}
	}
	return Object{Attributes: attrs, CoreMigrationVersion: coreMigrationVersion, ID: id,
		References: refs, Type: typ, TypeMigrationVersion: typeMigrationVersion[typ]}
}

// jsonString is v as the JSON text Kibana keeps in string attributes
// (searchSourceJSON, panelsJSON, optionsJSON).
func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps and slices of plain values are passed
	}
	return string(b)
}

func dataView() Object {
	return object("index-pattern", DataViewID, map[string]any{
		"title":           DataViewTitle,
		"name":            "bansho",
		"timeFieldName":   "@timestamp",
		"allowNoIndex":    true,
		"fields":          "[]",
		"fieldAttrs":      "{}",
		"fieldFormatMap":  "{}",
		"runtimeFieldMap": "{}",
		"sourceFilters":   "[]",
		"typeMeta":        "{}",
	}, nil)
}

// ruleSearch is the saved search of one rule's alerts.
func ruleSearch(r *rules.Rule) Object {
	query := fmt.Sprintf(`event.kind : "alert" and rule.name : "%s"`, strings.ReplaceAll(r.Name, `"`, `\"`))
	desc := strings.TrimSpace(r.Description)
	return object("search", "bansho-rule-"+r.ID, map[string]any{
		"title":       "bansho rule: " + r.Name,
		"description": fmt.Sprintf("Alerts of the rule %q (priority %s). %s", r.Name, r.Priority, desc),
		"columns":     []string{"host.name", "bansho.login_user.name", "user.name", "process.executable", "file.path", "destination.ip", "message"},
		"sort":        [][]string{{"@timestamp", "desc"}},
		"grid":        map[string]any{},
		"hideChart":   false,
		"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": jsonString(map[string]any{
			"query":        map[string]any{"query": query, "language": "kuery"},
			"filter":       []any{},
			"indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
		})},
	}, []Reference{{ID: DataViewID, Name: "kibanaSavedObjectMeta.searchSourceJSON.index", Type: "index-pattern"}})
}

// Objects returns every saved object, the data view first (importing
// needs references to resolve in file order or within the file).
func Objects() ([]Object, error) {
	set, err := rules.LoadFS(pack.FS, "rules/", rules.Options{})
	if err != nil {
		return nil, fmt.Errorf("kibana: default rule pack: %w", err)
	}
	out := []Object{dataView()}
	for _, d := range dashboards() {
		for _, l := range d.lenses {
			out = append(out, l.object())
		}
		out = append(out, d.object())
	}
	for _, r := range set.Rules {
		out = append(out, ruleSearch(r))
	}
	return out, nil
}

// NDJSON is the objects in the export format: one JSON object per line.
func NDJSON() ([]byte, error) {
	objs, err := Objects()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, o := range objs {
		line, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("kibana: %s %s: %w", o.Type, o.ID, err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}
