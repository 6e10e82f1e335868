// Command k8sschema turns the Kubernetes OpenAPI v2 document
// (api/openapi-spec/swagger.json of the k8s.io/kubernetes module) into the
// per-kind JSON schemas kubeconform reads, so manifests are validated
// against the real API types without fetching schemas from the web.
//
// Each kind gets one self-contained file, named as kubeconform looks it up
// ({kind}-{group}-{version}.json, lower case, group cut at its first dot),
// holding the kind's schema and every definition it references. With
// -strict every object with declared properties rejects unknown ones, which
// is what catches a misspelt field.
//
// Usage: k8sschema -in swagger.json -out DIR [-strict]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	in := flag.String("in", "", "OpenAPI v2 document (swagger.json)")
	out := flag.String("out", "", "directory for the schemas")
	strict := flag.Bool("strict", false, "reject properties the API does not declare")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: k8sschema -in swagger.json -out DIR [-strict]")
		os.Exit(2)
	}
	n, err := run(*in, *out, *strict)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8sschema:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "k8sschema: %d schemas in %s\n", n, *out)
}

func run(in, out string, strict bool) (int, error) {
	data, err := os.ReadFile(in)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return 0, fmt.Errorf("%s: %w", in, err)
	}
	if len(doc.Definitions) == 0 {
		return 0, fmt.Errorf("%s: no definitions: not an OpenAPI v2 document", in)
	}
	files, err := Convert(doc.Definitions, strict)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", in, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	for name, schema := range files {
		b, err := json.Marshal(schema)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return 0, err
		}
	}
	return len(files), nil
}

// GVK is one entry of a definition's x-kubernetes-group-version-kind.
type GVK struct{ Group, Version, Kind string }

// FileName is the name kubeconform derives from a kind and apiVersion.
func (g GVK) FileName() string {
	suffix := ""
	if g.Group != "" {
		suffix = "-" + strings.ToLower(strings.SplitN(g.Group, ".", 2)[0])
	}
	return strings.ToLower(g.Kind) + suffix + "-" + strings.ToLower(g.Version) + ".json"
}

// Convert returns one schema per kind, keyed by file name.
func Convert(defs map[string]any, strict bool) (map[string]map[string]any, error) {
	fixed := make(map[string]any, len(defs))
	for name, d := range defs {
		fixed[name] = fix(name, d, strict)
	}
	files := map[string]map[string]any{}
	owner := map[string]string{}
	for _, name := range sortedKeys(defs) {
		for _, g := range gvks(defs[name]) {
			fn := g.FileName()
			if prev, ok := owner[fn]; ok && prev != name {
				// Two definitions for one kind: keep the first in sorted
				// order, deterministically (kubeconform cannot tell them
				// apart either).
				continue
			}
			owner[fn] = name
			closure := map[string]any{}
			if err := collect(fixed, name, closure); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			top := map[string]any{}
			for k, v := range fixed[name].(map[string]any) {
				top[k] = v
			}
			top["definitions"] = closure
			files[fn] = top
		}
	}
	return files, nil
}

func gvks(def any) []GVK {
	m, _ := def.(map[string]any)
	list, _ := m["x-kubernetes-group-version-kind"].([]any)
	var out []GVK
	for _, e := range list {
		em, _ := e.(map[string]any)
		g, _ := em["group"].(string)
		v, _ := em["version"].(string)
		k, _ := em["kind"].(string)
		if v != "" && k != "" {
			out = append(out, GVK{g, v, k})
		}
	}
	return out
}

// collect adds the definition name and everything it references to closure.
func collect(defs map[string]any, name string, closure map[string]any) error {
	if _, ok := closure[name]; ok {
		return nil
	}
	d, ok := defs[name]
	if !ok {
		return fmt.Errorf("reference to undefined %s", name)
	}
	closure[name] = d
	var err error
	walk(d, func(m map[string]any) {
		if ref, ok := m["$ref"].(string); ok && err == nil {
			err = collect(defs, strings.TrimPrefix(ref, "#/definitions/"), closure)
		}
	})
	return err
}

func walk(v any, fn func(map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		fn(t)
		for _, c := range t {
			walk(c, fn)
		}
	case []any:
		for _, c := range t {
			walk(c, fn)
		}
	}
}

// fix rewrites what JSON Schema reads differently from the API server:
// int-or-string and quantities accept numbers, and (strict) objects with
// declared properties accept no others.
func fix(name string, v any, strict bool) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = fix("", c, strict)
		}
		return out
	case map[string]any:
		if f, _ := t["format"].(string); f == "int-or-string" {
			return withDescription(t, []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}})
		}
		if name == "io.k8s.apimachinery.pkg.api.resource.Quantity" {
			return withDescription(t, []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}})
		}
		out := make(map[string]any, len(t)+1)
		for k, c := range t {
			if k == "properties" {
				props := map[string]any{}
				for pk, pv := range c.(map[string]any) {
					props[pk] = fix("", pv, strict)
				}
				out[k] = props
				continue
			}
			out[k] = fix("", c, strict)
		}
		_, hasProps := t["properties"]
		_, hasAdditional := t["additionalProperties"]
		preserve, _ := t["x-kubernetes-preserve-unknown-fields"].(bool)
		if strict && hasProps && !hasAdditional && !preserve {
			out["additionalProperties"] = false
		}
		return out
	}
	return v
}

func withDescription(t map[string]any, oneOf []any) map[string]any {
	out := map[string]any{"oneOf": oneOf}
	if d, ok := t["description"]; ok {
		out["description"] = d
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
