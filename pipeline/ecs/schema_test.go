package ecs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ecsFields is the table of fields.go, under the name the checks use.
var ecsFields = Fields

// Allowed values of the ECS categorization fields (ECS categorization
// reference): event.kind, and event.type per event.category.
var (
	ecsKinds      = set("alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal")
	ecsOutcomes   = set("failure", "success", "unknown")
	ecsDirections = set("ingress", "egress", "inbound", "outbound", "internal", "external", "unknown")
	ecsTypes      = map[string]map[string]bool{
		"file":    set("access", "change", "creation", "deletion", "info"),
		"host":    set("access", "change", "end", "info", "start"),
		"network": set("access", "allowed", "connection", "denied", "end", "info", "protocol", "start"),
		"process": set("access", "change", "end", "info", "start"),
	}
)

func set(v ...string) map[string]bool {
	m := map[string]bool{}
	for _, s := range v {
		m[s] = true
	}
	return m
}

// checkDocument fails unless doc is one valid JSON object, without
// duplicate keys, whose every field is an ECS field of the right type or
// lies under bansho., and whose categorization uses ECS values.
func checkDocument(t testing.TB, doc []byte) map[string]any {
	t.Helper()
	if !json.Valid(doc) {
		t.Fatalf("invalid JSON: %q", doc)
	}
	if err := noDuplicateKeys(doc); err != nil {
		t.Fatalf("%v in %s", err, doc)
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Token(); err != io.EOF {
		t.Fatalf("more than one JSON value: %s", doc)
	}
	for path, v := range leaves(m, "") {
		if strings.HasPrefix(path, "bansho.") {
			continue
		}
		typ, ok := ecsFields[path]
		if !ok {
			t.Errorf("%s is not an ECS field we know of, and not under bansho.", path)
			continue
		}
		if err := checkType(typ, v); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	kind, _ := m["event"].(map[string]any)["kind"].(string)
	if !ecsKinds[kind] {
		t.Errorf("event.kind %q is not an ECS value", kind)
	}
	if o, ok := m["event"].(map[string]any)["outcome"].(string); ok && !ecsOutcomes[o] {
		t.Errorf("event.outcome %q is not an ECS value", o)
	}
	if n, ok := m["network"].(map[string]any); ok {
		if dir, ok := n["direction"].(string); ok && !ecsDirections[dir] {
			t.Errorf("network.direction %q is not an ECS value", dir)
		}
	}
	ev := m["event"].(map[string]any)
	for _, c := range ev["category"].([]any) {
		allowed, ok := ecsTypes[c.(string)]
		if !ok {
			t.Errorf("event.category %q is not one this encoder should use", c)
			continue
		}
		for _, ty := range ev["type"].([]any) {
			if !allowed[ty.(string)] {
				t.Errorf("event.type %q is not allowed with event.category %q", ty, c)
			}
		}
	}
	return m
}

func checkType(typ string, v any) error {
	base, array := strings.CutSuffix(typ, "[]")
	if l, ok := v.([]any); ok {
		if !array {
			return fmt.Errorf("an array, ECS has a single %s", base)
		}
		for _, x := range l {
			if err := checkType(base, x); err != nil {
				return err
			}
		}
		return nil
	}
	if array {
		return fmt.Errorf("%T, ECS has an array", v)
	}
	switch base {
	case "keyword", "wildcard", "match_only_text":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%T, want a string (%s)", v, base)
		}
	case "long":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%T, want a number", v)
		}
		if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
			return fmt.Errorf("%s is not a long", n)
		}
	case "date":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%T, want a date string", v)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return err
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%T, want a boolean", v)
		}
	case "ip":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%T, want an IP string", v)
		}
		if _, err := netip.ParseAddr(s); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown type %s in the test's table", base)
	}
	return nil
}

// leaves flattens a document into dotted paths. Arrays are leaves.
func leaves(m map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for p, x := range leaves(sub, prefix+k+".") {
				out[p] = x
			}
			continue
		}
		out[prefix+k] = v
	}
	return out
}

// noDuplicateKeys walks the token stream: encoding/json keeps the last of
// duplicate keys silently, Elasticsearch rejects the document.
func noDuplicateKeys(doc []byte) error {
	d := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		keys  map[string]bool
		isObj bool
		want  bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.isObj && top.want {
			k, ok := tok.(string)
			if ok {
				if top.keys[k] {
					return fmt.Errorf("duplicate key %q", k)
				}
				top.keys[k] = true
				top.want = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, isObj: true, want: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object, a key comes next.
		if len(stack) > 0 && stack[len(stack)-1].isObj {
			stack[len(stack)-1].want = true
		}
	}
}

// The checker itself must catch what it is there to catch.
func TestCheckDocumentCatchesMistakes(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":     `{"event":{"kind":"event","category":["file"],"type":["access"]},"process":{"pidd":1}}`,
		"wrong type":        `{"event":{"kind":"event","category":["file"],"type":["access"]},"process":{"pid":"1"}}`,
		"not an array":      `{"event":{"kind":"event","category":"file","type":["access"]}}`,
		"bad ip":            `{"event":{"kind":"event","category":["network"],"type":["start"]},"source":{"ip":"1.2.3"}}`,
		"bad type for cat":  `{"event":{"kind":"event","category":["file"],"type":["start"]}}`,
		"bad kind":          `{"event":{"kind":"log","category":["file"],"type":["access"]}}`,
		"duplicate key":     `{"event":{"kind":"event","category":["file"],"type":["access"],"kind":"event"}}`,
		"bad date":          `{"@timestamp":"yesterday","event":{"kind":"event","category":["file"],"type":["access"]}}`,
		"number as keyword": `{"event":{"kind":"event","category":["file"],"type":["access"]},"user":{"id":0}}`,
	} {
		ft := &fakeT{}
		func() {
			defer func() { _ = recover() }()
			checkDocument(ft, []byte(doc))
		}()
		if !ft.failed {
			t.Errorf("%s: not caught", name)
		}
	}
	// And accepts a correct one.
	ok := `{"@timestamp":"2026-11-22T01:02:03.000000000Z","event":{"kind":"event","category":["file"],"type":["access","change"]},"bansho":{"anything":[1,{"x":2}]}}`
	checkDocument(t, []byte(ok))
}

// fakeT records failures; Fatal stops the check by panicking.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true; panic("fatal") }
func (f *fakeT) Fatal(...any)          { f.failed = true; panic("fatal") }
func (f *fakeT) Logf(string, ...any)   {}
func (f *fakeT) Error(...any)          { f.failed = true }

// Every ECS field in the table is one the encoder emits in some golden
// document: the table is not padded with fields nobody checks.
func TestECSTableIsUsed(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range goldenCases() {
		doc := c.encoder().Append(nil, c.ev)
		m := checkDocument(t, doc)
		for p := range leaves(m, "") {
			seen[p] = true
		}
	}
	var unused []string
	for f := range ecsFields {
		if !seen[f] {
			unused = append(unused, f)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("ECS fields in the table no golden document has: %v", unused)
	}
}
