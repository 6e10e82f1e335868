package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

const fixture = `{
 "io.k8s.api.apps.v1.DaemonSet": {
  "properties": {"spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.DaemonSetSpec"}, "kind": {"type": "string"}},
  "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "DaemonSet", "version": "v1"}]
 },
 "io.k8s.api.apps.v1.DaemonSetSpec": {
  "properties": {"port": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
                 "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                 "properties": {"type": "object", "properties": {"x": {"type": "string"}}}},
  "required": ["port"]
 },
 "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
 "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
 "io.k8s.api.core.v1.Namespace": {
  "properties": {"meta": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"a": {"type": "string"}}}},
  "x-kubernetes-group-version-kind": [{"group": "", "kind": "Namespace", "version": "v1"}]
 },
 "io.k8s.api.rbac.v1.ClusterRole": {
  "properties": {},
  "x-kubernetes-group-version-kind": [{"group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "version": "v1"}]
 }
}`

func convertFixture(t *testing.T, strict bool) map[string]map[string]any {
	t.Helper()
	var defs map[string]any
	if err := json.Unmarshal([]byte(fixture), &defs); err != nil {
		t.Fatal(err)
	}
	files, err := Convert(defs, strict)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestFileNamesFollowKubeconform(t *testing.T) {
	files := convertFixture(t, true)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	want := []string{"clusterrole-rbac-v1.json", "daemonset-apps-v1.json", "namespace-v1.json"}
	if len(names) != len(want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	for _, w := range want {
		if files[w] == nil {
			t.Errorf("no %s in %v", w, names)
		}
	}
}

func TestClosureAndStrict(t *testing.T) {
	ds := convertFixture(t, true)["daemonset-apps-v1.json"]
	defs := ds["definitions"].(map[string]any)
	for _, d := range []string{"io.k8s.api.apps.v1.DaemonSet", "io.k8s.api.apps.v1.DaemonSetSpec", "io.k8s.apimachinery.pkg.util.intstr.IntOrString"} {
		if defs[d] == nil {
			t.Errorf("closure lacks %s", d)
		}
	}
	if defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] != nil {
		t.Error("closure has an unreferenced definition")
	}
	if ds["additionalProperties"] != false {
		t.Errorf("strict top level: additionalProperties = %v", ds["additionalProperties"])
	}
	spec := defs["io.k8s.api.apps.v1.DaemonSetSpec"].(map[string]any)
	props := spec["properties"].(map[string]any)
	// A map type keeps its additionalProperties schema.
	if got := props["labels"].(map[string]any)["additionalProperties"]; !reflect.DeepEqual(got, map[string]any{"type": "string"}) {
		t.Errorf("labels additionalProperties = %v", got)
	}
	// A property named "properties" is a schema like any other.
	if got := props["properties"].(map[string]any)["additionalProperties"]; got != false {
		t.Errorf(`property "properties" not made strict: %v`, got)
	}
	ios := defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"].(map[string]any)
	if _, ok := ios["oneOf"]; !ok || ios["format"] != nil {
		t.Errorf("int-or-string not rewritten: %v", ios)
	}
	ns := convertFixture(t, true)["namespace-v1.json"]
	meta := ns["properties"].(map[string]any)["meta"].(map[string]any)
	if _, ok := meta["additionalProperties"]; ok {
		t.Error("x-kubernetes-preserve-unknown-fields object was made strict")
	}
}

func TestNotStrict(t *testing.T) {
	ds := convertFixture(t, false)["daemonset-apps-v1.json"]
	if _, ok := ds["additionalProperties"]; ok {
		t.Error("non-strict schema rejects unknown properties")
	}
}

func TestUndefinedReference(t *testing.T) {
	defs := map[string]any{"a.B": map[string]any{
		"properties":                      map[string]any{"x": map[string]any{"$ref": "#/definitions/missing"}},
		"x-kubernetes-group-version-kind": []any{map[string]any{"group": "", "kind": "B", "version": "v1"}},
	}}
	if _, err := Convert(defs, true); err == nil {
		t.Fatal("no error for a reference to an undefined definition")
	}
}
