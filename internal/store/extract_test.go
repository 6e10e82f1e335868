package store

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestExtract(t *testing.T) {
	doc := []byte(`{"@timestamp":"2026-11-22T01:02:03.456789000Z","event":{"kind":"alert","id":"x"},` +
		`"process":{"entity_id":"o3qR","pid":4242,"user":{"id":"0","name":"root"},"real_user":{"id":"1000"},"parent":{"pid":4000,"entity_id":"CBf7"},` +
		`"args":["a\"b","c"]},"user":{"id":"0","name":"root"},"file":{"path":"/srv/my\u6587\"x/roster.csv","target_path":"/tmp/r.csv"},` +
		`"bansho":{"x":{"y":["}\\\\",{"z":"\"]"}]},"login_user":{"id":"1000","name":"tanaka"}},"host":{"name":"h"},"zz":{"user":{"name":"nobody"}}}`)
	if !json.Valid(doc) {
		t.Fatal("the test document is not JSON")
	}
	var x extractor
	info := x.extract(doc)
	if want := time.Date(2026, 11, 22, 1, 2, 3, 456789000, time.UTC).UnixNano(); info.time != want {
		t.Errorf("time %d, want %d", info.time, want)
	}
	if info.kind != KindAlert {
		t.Errorf("kind %v", info.kind)
	}
	has := func(k uint64) bool {
		for _, h := range info.keys {
			if h == k {
				return true
			}
		}
		return false
	}
	for _, k := range []struct {
		t byte
		v string
	}{{KeyEntity, "o3qR"}, {KeyParent, "CBf7"}, {KeyPID, "4242"}, {KeyFile, "/srv/my文\"x/roster.csv"},
		{KeyDir, "/srv/my文\"x"}, {KeyDir, "/srv"}, {KeyFile, "/tmp/r.csv"}, {KeyDir, "/tmp"},
		{KeyUser, "root"}, {KeyUser, "0"}, {KeyUser, "1000"}, {KeyUser, "tanaka"}} {
		if !has(KeyHash(k.t, k.v)) {
			t.Errorf("no key %c %q", k.t, k.v)
		}
	}
	if has(KeyHash(KeyPID, "4000")) || has(KeyHash(KeyEntity, "CBf7")) || has(KeyHash(KeyUser, "nobody")) {
		t.Error("the parent's pid or entity indexed as the process's")
	}
	// Invalid or hostile input never panics and stops quietly.
	for _, bad := range []string{"", "{", `{"a":`, `{"a":"\`, `[[[[`, strings.Repeat("[", 10000), `{"file":{"path":"/a/` + strings.Repeat("b/", 100) + `"}}`, "\xff\xfe"} {
		x.extract([]byte(bad))
		if len(x.info.keys) > maxKeys {
			t.Errorf("%d keys", len(x.info.keys))
		}
	}
}
