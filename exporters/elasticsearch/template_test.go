package elasticsearch

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// mapping is the parsed template, for lookups by dotted path.
type mapping struct {
	props   map[string]any
	dynamic []map[string]any
}

func parseTemplate(t *testing.T, body []byte) (map[string]any, *mapping) {
	t.Helper()
	var tmpl map[string]any
	if err := json.Unmarshal(body, &tmpl); err != nil {
		t.Fatalf("template is not JSON: %v", err)
	}
	mappings := tmpl["template"].(map[string]any)["mappings"].(map[string]any)
	m := &mapping{props: mappings["properties"].(map[string]any)}
	for _, d := range mappings["dynamic_templates"].([]any) {
		m.dynamic = append(m.dynamic, d.(map[string]any))
	}
	return tmpl, m
}

// typeOf resolves a leaf path the way Elasticsearch would: an explicit
// property, a flattened ancestor, or a dynamic template's path_match.
func (m *mapping) typeOf(path string) (string, map[string]any) {
	props := m.props
	parts := strings.Split(path, ".")
	for i, p := range parts {
		f, ok := props[p].(map[string]any)
		if !ok {
			break
		}
		if typ, _ := f["type"].(string); typ != "" && typ != "object" {
			if i == len(parts)-1 || typ == "flattened" {
				return typ, f
			}
			return "", nil // a leaf where the path goes on
		}
		sub, ok := f["properties"].(map[string]any)
		if !ok {
			break
		}
		props = sub
	}
	for _, d := range m.dynamic {
		for _, v := range d {
			dt := v.(map[string]any)
			pm, _ := dt["path_match"].(string)
			if pm != "" && strings.HasSuffix(pm, ".*") && strings.HasPrefix(path, strings.TrimSuffix(pm, "*")) &&
				!strings.Contains(path[len(pm)-1:], ".") {
				mp := dt["mapping"].(map[string]any)
				return mp["type"].(string), mp
			}
		}
	}
	return "", nil
}

// Every ECS field of ecs.Fields is mapped with its ECS type; keywords
// carry ignore_above so a long value cannot reject a whole document.
func TestTemplateHasECSTypes(t *testing.T) {
	body, err := Template([]string{"logs-bansho.events-default"}, true)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, m := parseTemplate(t, body)
	if _, ok := tmpl["data_stream"]; !ok {
		t.Error("data_stream missing from a data stream template")
	}
	if p, _ := tmpl["priority"].(float64); p <= 100 {
		t.Errorf("priority %v: must be above the built-in logs-*-* template (100)", p)
	}
	for field, ecsType := range ecs.Fields {
		want := strings.TrimSuffix(ecsType, "[]")
		got, f := m.typeOf(field)
		if got != want {
			t.Errorf("%s: mapped as %q, ECS type %q", field, got, want)
			continue
		}
		if want == "keyword" && f["ignore_above"] != float64(1024) {
			t.Errorf("%s: keyword without ignore_above 1024", field)
		}
	}
	if got, _ := m.typeOf("@timestamp"); got != "date" {
		t.Errorf("@timestamp is %q: data streams need a date", got)
	}
	// Dated-index mode: no data_stream.
	body, _ = Template([]string{"bansho-events-*"}, false)
	tmpl, _ = parseTemplate(t, body)
	if _, ok := tmpl["data_stream"]; ok {
		t.Error("data_stream set in a dated-index template")
	}
}

// leaves flattens a document into dotted paths; arrays are leaves.
func leaves(m map[string]any, prefix string, out map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			leaves(sub, prefix+k+".", out)
			continue
		}
		out[prefix+k] = v
	}
}

// compatible reports whether a JSON value indexes into a field type.
func compatible(typ string, v any) bool {
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if !compatible(typ, x) {
				return false
			}
		}
		return true
	}
	switch typ {
	case "keyword", "wildcard", "match_only_text", "text", "constant_keyword", "date", "ip", "version":
		_, ok := v.(string)
		return ok
	case "long", "integer", "short", "byte", "unsigned_long":
		n, ok := v.(json.Number)
		return ok && !strings.ContainsAny(n.String(), ".eE")
	case "double", "float", "half_float", "scaled_float":
		_, ok := v.(json.Number)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "flattened":
		return true
	}
	return false
}

// Every field of every golden document of the encoder is mapped, with a
// type its value fits: nothing the sensor ships falls to dynamic mapping.
func TestTemplateMapsEveryGoldenField(t *testing.T) {
	body, err := Template([]string{"logs-bansho.events-default"}, true)
	if err != nil {
		t.Fatal(err)
	}
	_, m := parseTemplate(t, body)
	files, err := filepath.Glob("../../pipeline/ecs/testdata/*.json")
	if err != nil || len(files) < 10 {
		t.Fatalf("golden documents not found (%d, %v)", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var doc map[string]any
		if err := d.Decode(&doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		all := map[string]any{}
		leaves(doc, "", all)
		for path, v := range all {
			typ, _ := m.typeOf(path)
			if typ == "" {
				t.Errorf("%s: %s is not mapped (add it to ecs.Fields or ecs.BanshoFields)", filepath.Base(f), path)
				continue
			}
			if !compatible(typ, v) {
				t.Errorf("%s: %s = %v does not fit its mapping %s", filepath.Base(f), path, v, typ)
			}
		}
	}
}

// The lookup itself catches unmapped and mistyped fields.
func TestTemplateLookup(t *testing.T) {
	body, _ := Template([]string{"x"}, true)
	_, m := parseTemplate(t, body)
	for path, want := range map[string]string{
		"process.pid":                      "long",
		"bansho.health.drops.queue_full":   "long",
		"bansho.state.details.protected_0": "flattened",
		"bansho.no_such_field":             "",
		"process.pid.deeper":               "",
		"bansho.health.drops.a.b":          "",
	} {
		if got, _ := m.typeOf(path); got != want {
			t.Errorf("typeOf(%s) = %q, want %q", path, got, want)
		}
	}
	if compatible("long", json.Number("1.5")) || compatible("keyword", json.Number("1")) || compatible("boolean", "true") {
		t.Error("compatible accepts a mismatch")
	}
}

func TestBanshoType(t *testing.T) {
	for path, want := range map[string]string{
		"bansho.file.bytes":               "long",
		"bansho.health.counters.stale_fd": "long",
		"bansho.state.details.anything":   "flattened",
		"bansho.state.details.a.b":        "flattened",
		"bansho.nothing":                  "",
	} {
		if got, _ := ecs.BanshoType(path); got != want {
			t.Errorf("BanshoType(%s) = %q, want %q", path, got, want)
		}
	}
}
