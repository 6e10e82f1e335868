package testutil

import "strings"

// Field is the value at a dotted path ("process.parent.name") in a decoded
// JSON document, or nil where the path does not lead to a value.
func Field(doc map[string]any, path string) any {
	var cur any = doc
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}
