package ecs

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedactJSON(t *testing.T) {
	const n = "123456789018" // made up, valid check digit
	esc := `\u0031\u0032\u0033\u0034\u0035\u0036\u0037\u0038\u0039\u0030\u0031\u0038`
	for _, c := range []struct{ name, in string }{
		{"string", `{"a":"x ` + n + ` y"}`},
		{"key", `{"` + n + `":1}`},
		{"number value", `{"a":` + n + `}`},
		{"negative number", `{"a":[-` + n + `]}`},
		{"escaped", `{"a":"` + esc + `"}`},
		{"escaped and plain", `{"a":"` + esc + `","b":"` + n + `","c":"<&>"}`},
	} {
		out, changed, err := RedactJSON([]byte(c.in))
		if err != nil || !changed {
			t.Errorf("%s: changed %v, %v", c.name, changed, err)
			continue
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Errorf("%s: the result is not JSON: %v", c.name, err)
			continue
		}
		b, _ := json.Marshal(v)
		if strings.Contains(string(out), n) || strings.Contains(string(b), n) || !strings.Contains(string(out), MaskedMyNumber) {
			t.Errorf("%s: not masked", c.name)
		}
	}
	same := []byte(`{"pid":1234567890123,"t":"2026-12-01T01:00:00Z"}`)
	if out, changed, err := RedactJSON(same); err != nil || changed || string(out) != string(same) {
		t.Errorf("nothing to mask: changed %v, %v, %s", changed, err, out)
	}
	for _, bad := range []string{`{"a":`, `{} {}`, `nope`} {
		if _, _, err := RedactJSON([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
