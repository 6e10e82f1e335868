package kibana

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/rules"
	pack "github.com/bansho-sec/bansho/rules"
)

const ndjsonFile = "bansho.ndjson"

// TestNDJSONUpToDate regenerates the saved objects and compares them with
// the committed file (rule added to the pack: rerun with
// BANSHO_UPDATE_DOCS=1 go test ./deploy/kibana).
func TestNDJSONUpToDate(t *testing.T) {
	want, err := NDJSON()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("BANSHO_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(ndjsonFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(ndjsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: BANSHO_UPDATE_DOCS=1 go test ./deploy/kibana -run TestNDJSONUpToDate", ndjsonFile)
	}
}

// saved is a line of the file, read with no help from the generator.
type saved struct {
	Type                 string         `json:"type"`
	ID                   string         `json:"id"`
	Attributes           map[string]any `json:"attributes"`
	References           []Reference    `json:"references"`
	CoreMigrationVersion string         `json:"coreMigrationVersion"`
	TypeMigrationVersion string         `json:"typeMigrationVersion"`
	raw                  map[string]any // the whole line, for the envelope keys
}

var semver = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

func readObjects(t *testing.T) []saved {
	t.Helper()
	f, err := os.Open(ndjsonFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []saved
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	line := 0
	for sc.Scan() {
		line++
		var o saved
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("%s:%d: not a JSON object: %v", ndjsonFile, line, err)
		}
		if dec.More() {
			t.Fatalf("%s:%d: more than one JSON value on the line", ndjsonFile, line)
		}
		if err := json.Unmarshal(sc.Bytes(), &o.raw); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s is empty", ndjsonFile)
	}
	return out
}

// TestSavedObjectFormat checks each line against the export format of
// Kibana 8: the envelope keys, the JSON held in string attributes, and that
// every reference resolves to an object of the file.
func TestSavedObjectFormat(t *testing.T) {
	objs := readObjects(t)
	ids := map[string]string{}
	for _, o := range objs {
		key := o.Type + "/" + o.ID
		if ids[key] != "" {
			t.Errorf("%s appears twice", key)
		}
		ids[key] = o.Type
		for _, k := range []string{"type", "id", "attributes", "references", "coreMigrationVersion", "typeMigrationVersion"} {
			if _, ok := o.raw[k]; !ok {
				t.Errorf("%s: no %q", key, k)
			}
		}
		if !semver.MatchString(o.CoreMigrationVersion) || !semver.MatchString(o.TypeMigrationVersion) {
			t.Errorf("%s: migration versions %q/%q are not x.y.z", key, o.CoreMigrationVersion, o.TypeMigrationVersion)
		}
		title, _ := o.Attributes["title"].(string)
		if title == "" {
			t.Errorf("%s: no title", key)
		}
		switch o.Type {
		case "index-pattern":
			if o.Attributes["title"] != "logs-bansho.*" || o.Attributes["timeFieldName"] != "@timestamp" {
				t.Errorf("%s: data view is %v on %v, want logs-bansho.* on @timestamp", key, o.Attributes["title"], o.Attributes["timeFieldName"])
			}
			for _, k := range []string{"fields", "fieldFormatMap", "runtimeFieldMap", "sourceFilters"} {
				mustJSONString(t, key, o.Attributes, k)
			}
		case "search":
			ss := searchSource(t, key, o.Attributes)
			if ss["indexRefName"] != "kibanaSavedObjectMeta.searchSourceJSON.index" || !hasRef(o, "kibanaSavedObjectMeta.searchSourceJSON.index", "index-pattern") {
				t.Errorf("%s: the search is not tied to the data view by indexRefName", key)
			}
			if _, ok := o.Attributes["columns"].([]any); !ok {
				t.Errorf("%s: no columns", key)
			}
		case "lens":
			state, ok := o.Attributes["state"].(map[string]any)
			if !ok {
				t.Fatalf("%s: no state object", key)
			}
			layers := dig(state, "datasourceStates", "formBased", "layers")
			lm, ok := layers.(map[string]any)
			if !ok || len(lm) == 0 {
				t.Fatalf("%s: no formBased layers", key)
			}
			for id, l := range lm {
				if !hasRef(o, "indexpattern-datasource-layer-"+id, "index-pattern") {
					t.Errorf("%s: layer %s has no data view reference", key, id)
				}
				cols, _ := dig(l, "columns").(map[string]any)
				order, _ := dig(l, "columnOrder").([]any)
				if len(cols) == 0 || len(order) != len(cols) {
					t.Errorf("%s: layer %s: %d columns, %d in columnOrder", key, id, len(cols), len(order))
				}
				for _, c := range order {
					if cols[c.(string)] == nil {
						t.Errorf("%s: columnOrder names %v, which is no column", key, c)
					}
				}
				for _, acc := range accessors(state["visualization"]) {
					if cols[acc] == nil {
						t.Errorf("%s: the visualization shows column %s, which the layer lacks", key, acc)
					}
				}
			}
			switch o.Attributes["visualizationType"] {
			case "lnsXY", "lnsDatatable", "lnsMetric":
			default:
				t.Errorf("%s: visualizationType %v", key, o.Attributes["visualizationType"])
			}
		case "dashboard":
			panels := mustJSONString(t, key, o.Attributes, "panelsJSON").([]any)
			mustJSONString(t, key, o.Attributes, "optionsJSON")
			searchSource(t, key, o.Attributes)
			if len(panels) == 0 {
				t.Errorf("%s: no panels", key)
			}
			for _, p := range panels {
				pm := p.(map[string]any)
				idx, _ := pm["panelIndex"].(string)
				ref, _ := pm["panelRefName"].(string)
				if idx == "" || ref == "" || !hasRef(o, idx+":"+ref, "lens") {
					t.Errorf("%s: panel %v has no reference named panelIndex:panelRefName", key, pm)
				}
				g, _ := pm["gridData"].(map[string]any)
				if g == nil || g["i"] != idx || g["w"].(float64)+g["x"].(float64) > 48 {
					t.Errorf("%s: panel %s gridData %v", key, idx, g)
				}
			}
		default:
			t.Errorf("%s: unexpected type", key)
		}
	}
	for _, o := range objs {
		for _, r := range o.References {
			if ids[r.Type+"/"+r.ID] == "" {
				t.Errorf("%s/%s: reference %s to %s/%s, which is not in the file", o.Type, o.ID, r.Name, r.Type, r.ID)
			}
		}
	}
	if objs[0].Type != "index-pattern" {
		t.Error("the data view must come first: the others reference it")
	}
}

// TestDashboardsAnswerTheQuestions checks that the four dashboards exist
// and use the fields their questions need.
func TestDashboardsAnswerTheQuestions(t *testing.T) {
	fieldsOf := map[string]map[string]bool{}
	lensFields := map[string]map[string]bool{}
	objs := readObjects(t)
	for _, o := range objs {
		if o.Type == "lens" {
			lensFields[o.ID] = map[string]bool{}
			for _, f := range referencedFields(t, o) {
				lensFields[o.ID][f] = true
			}
		}
	}
	for _, o := range objs {
		if o.Type != "dashboard" {
			continue
		}
		fieldsOf[o.ID] = map[string]bool{}
		for _, r := range o.References {
			for f := range lensFields[r.ID] {
				fieldsOf[o.ID][f] = true
			}
		}
	}
	for id, need := range map[string][]string{
		"bansho-dashboard-access":   {"bansho.login_user.name", "user.name", "host.name", "@timestamp", "bansho.file.protected"},
		"bansho-dashboard-alerts":   {"rule.name", "event.severity", "event.kind"},
		"bansho-dashboard-content":  {"bansho.content.my_number.distinct", "bansho.content.my_number.hashes"},
		"bansho-dashboard-outbound": {"destination.ip", "network.direction", "bansho.network.tainted"},
	} {
		if fieldsOf[id] == nil {
			t.Errorf("no dashboard %s", id)
			continue
		}
		for _, f := range need {
			if !fieldsOf[id][f] {
				t.Errorf("dashboard %s does not use %s", id, f)
			}
		}
	}
}

// TestEveryRuleHasASearch: one saved search per rule of the default pack,
// querying its rule.name.
func TestEveryRuleHasASearch(t *testing.T) {
	set, err := rules.LoadFS(pack.FS, "rules/", rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	queries := map[string]string{}
	for _, o := range readObjects(t) {
		if o.Type == "search" {
			q, _ := dig(searchSource(t, o.ID, o.Attributes), "query", "query").(string)
			queries[o.ID] = q
		}
	}
	if len(set.Rules) == 0 {
		t.Fatal("the default pack has no rules")
	}
	for _, r := range set.Rules {
		q, ok := queries["bansho-rule-"+r.ID]
		if !ok {
			t.Errorf("rule %q has no saved search", r.Name)
			continue
		}
		if !strings.Contains(q, `rule.name : "`+r.Name+`"`) {
			t.Errorf("saved search of %q queries %q", r.Name, q)
		}
	}
	if len(queries) != len(set.Rules) {
		t.Errorf("%d saved searches for %d rules", len(queries), len(set.Rules))
	}
}

// TestFieldsExistInTemplate: every field a visualization, search or query
// names is one the index template maps (ecs.Fields, ecs.BanshoFields).
func TestFieldsExistInTemplate(t *testing.T) {
	n := 0
	for _, o := range readObjects(t) {
		for _, f := range referencedFields(t, o) {
			n++
			if !templateField(f) {
				t.Errorf("%s/%s names %s, which the index template does not map", o.Type, o.ID, f)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d field references found: the extraction is broken", n)
	}
}

func templateField(f string) bool {
	if _, ok := ecs.Fields[f]; ok {
		return true
	}
	if _, ok := ecs.BanshoFields[f]; ok {
		return true
	}
	// A ".*" row maps any field directly below it.
	if i := strings.LastIndexByte(f, '.'); i > 0 {
		_, ok := ecs.BanshoFields[f[:i]+".*"]
		return ok
	}
	return false
}

// kqlField is a field name on the left of a KQL comparison.
var kqlField = regexp.MustCompile(`([@A-Za-z_][A-Za-z0-9_.@]*)\s*(?::|<=|>=|<|>)`)

func kqlFields(q string) []string {
	// Quoted values may hold colons: drop them first.
	q = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`).ReplaceAllString(q, `""`)
	var out []string
	for _, m := range kqlField.FindAllStringSubmatch(q, -1) {
		out = append(out, m[1])
	}
	return out
}

// referencedFields are the fields one object names: data view time field,
// search columns and sort, Lens columns and column filters, every query.
func referencedFields(t *testing.T, o saved) []string {
	var out []string
	add := func(fs ...string) {
		for _, f := range fs {
			if f != "" && f != "___records___" {
				out = append(out, f)
			}
		}
	}
	switch o.Type {
	case "index-pattern":
		add(o.Attributes["timeFieldName"].(string))
	case "search":
		for _, c := range o.Attributes["columns"].([]any) {
			add(c.(string))
		}
		for _, s := range o.Attributes["sort"].([]any) {
			add(s.([]any)[0].(string))
		}
		q, _ := dig(searchSource(t, o.ID, o.Attributes), "query", "query").(string)
		add(kqlFields(q)...)
	case "lens":
		state := o.Attributes["state"].(map[string]any)
		q, _ := dig(state, "query", "query").(string)
		add(kqlFields(q)...)
		layers, _ := dig(state, "datasourceStates", "formBased", "layers").(map[string]any)
		for _, l := range layers {
			cols, _ := dig(l, "columns").(map[string]any)
			for _, c := range cols {
				f, _ := dig(c, "sourceField").(string)
				add(f)
				fq, _ := dig(c, "filter", "query").(string)
				add(kqlFields(fq)...)
			}
		}
	case "dashboard":
		q, _ := dig(searchSource(t, o.ID, o.Attributes), "query", "query").(string)
		add(kqlFields(q)...)
	}
	sort.Strings(out)
	return out
}

func mustJSONString(t *testing.T, key string, attrs map[string]any, k string) any {
	t.Helper()
	s, ok := attrs[k].(string)
	if !ok {
		t.Fatalf("%s: %s is not a string", key, k)
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %s does not hold JSON: %v", key, k, err)
	}
	return v
}

func searchSource(t *testing.T, key string, attrs map[string]any) map[string]any {
	t.Helper()
	meta, _ := attrs["kibanaSavedObjectMeta"].(map[string]any)
	if meta == nil {
		t.Fatalf("%s: no kibanaSavedObjectMeta", key)
	}
	v, _ := mustJSONString(t, key, meta, "searchSourceJSON").(map[string]any)
	if v == nil {
		t.Fatalf("%s: searchSourceJSON is not an object", key)
	}
	if lang := dig(v, "query", "language"); lang != "kuery" {
		t.Errorf("%s: query language %v, want kuery", key, lang)
	}
	return v
}

func hasRef(o saved, name, typ string) bool {
	for _, r := range o.References {
		if r.Name == name && r.Type == typ && r.ID != "" {
			return true
		}
	}
	return false
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// accessors are the column ids a visualization state shows.
func accessors(vis any) []string {
	var out []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(c, k)
			}
		case []any:
			for _, c := range x {
				walk(c, key)
			}
		case string:
			switch key {
			case "xAccessor", "splitAccessor", "metricAccessor", "accessors", "columnId":
				out = append(out, x)
			}
		}
	}
	walk(vis, "")
	return out
}
