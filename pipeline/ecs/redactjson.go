package ecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// RedactJSON masks every individual number in a JSON document that did
// not come from this encoder (a line read by `bansho timeline --input`,
// an export from another tool): in every string, key or value, also one
// written with \u escapes, and a number value that is one (it becomes the
// mask, as a string). It applies Redact, the one masking of the sensor;
// the result is valid JSON. It returns doc itself when there is nothing to
// mask, and an error when doc is not one JSON value.
func RedactJSON(doc []byte) ([]byte, bool, error) {
	if !bytes.Contains(doc, []byte(`\u`)) {
		// No escapes: a number inside a string is written as is, and the
		// mask needs no escaping. Masking the raw text leaves valid JSON
		// unless a number value was masked, which the slow path handles.
		s, changed := Redact(string(doc))
		if !changed {
			if !json.Valid(doc) {
				return nil, false, errNotJSON
			}
			return doc, false, nil
		}
		if json.Valid([]byte(s)) {
			return []byte(s), true, nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, errNotJSON
	}
	changed := false
	v = redactValue(v, &changed)
	if !changed {
		return doc, false, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, false, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), true, nil
}

var errNotJSON = errors.New("not one JSON value")

func redactValue(v any, changed *bool) any {
	switch x := v.(type) {
	case string:
		s, c := Redact(x)
		*changed = *changed || c
		return s
	case json.Number:
		if _, c := Redact(string(x)); c {
			*changed = true
			return MaskedMyNumber
		}
		return x
	case []any:
		for i := range x {
			x[i] = redactValue(x[i], changed)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			k2, c := Redact(k)
			*changed = *changed || c
			out[k2] = redactValue(val, changed)
		}
		return out
	}
	return v
}
