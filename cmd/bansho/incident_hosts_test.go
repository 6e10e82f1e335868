package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/incident"
	"github.com/bansho-sec/bansho/internal/store"
)

// hostDocs is one host's story: its shell reads the roster, cat copies
// it; the copy holds the people of hashes.
func hostDocs(host string, at time.Time, hashes []string) [][]byte {
	proc := func(id, name string, pid int, parent string) map[string]any {
		p := map[string]any{"entity_id": host + id, "pid": pid, "name": name, "executable": "/usr/bin/" + name, "command_line": name,
			"start": at, "user": map[string]any{"id": "1000", "name": "tanaka"},
			"entry_leader": map[string]any{"entity_id": host + "sh", "pid": 10, "name": "bash",
				"entry_meta": map[string]any{"type": "sshd", "source": map[string]any{"ip": "198.51.100.23"}}}}
		if parent != "" {
			p["parent"] = map[string]any{"entity_id": host + parent}
		}
		return p
	}
	n := 0
	doc := func(dt time.Duration, p map[string]any, action string, extra map[string]any) []byte {
		n++
		d := map[string]any{"@timestamp": at.Add(dt), "host": map[string]any{"name": host},
			"event":   map[string]any{"id": fmt.Sprintf("%s-%d", host, n), "kind": "event", "action": action, "outcome": "success"},
			"process": p, "bansho": map[string]any{"login_user": map[string]any{"id": "1000", "name": "tanaka"}}}
		for k, v := range extra {
			d[k] = v
		}
		b, _ := json.Marshal(d)
		return b
	}
	cat := proc("cat", "cat", 20, "sh")
	sh := proc("sh", "bash", 10, "")
	found := map[string]any{"my_number": map[string]any{"distinct": len(hashes), "hashes": hashes}, "sampled_bytes": 100}
	return [][]byte{
		doc(0, sh, "exec", nil),
		doc(time.Second, cat, "open", map[string]any{"file": map[string]any{"path": "/srv/mynumber/roster.csv"},
			"bansho": map[string]any{"file": map[string]any{"protected": true, "flags": []string{"O_RDONLY"}}, "login_user": map[string]any{"name": "tanaka"}}}),
		doc(2*time.Second, cat, "write", map[string]any{"file": map[string]any{"path": "/tmp/r.csv"},
			"bansho": map[string]any{"file": map[string]any{"tainted": true, "bytes": 100}, "content": found, "login_user": map[string]any{"name": "tanaka"}}}),
	}
}

// Many hosts: two stores (two sensors' runs), merged; a person in both is
// counted once.
func TestIncidentManyStores(t *testing.T) {
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	h := func(i int) string { return fmt.Sprintf("%064x", i) }
	var dirs []string
	for i, host := range []string{"hr-db-01", "hr-db-02"} {
		dir := filepath.Join(t.TempDir(), "store")
		s, err := store.Open(store.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		// hr-db-01 carried people 1-3, hr-db-02 people 3-5.
		if err := s.Write(hostDocs(host, at.Add(time.Duration(i)*time.Minute), []string{h(1 + 2*i), h(2 + 2*i), h(3 + 2*i)})); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	raw := runIncident(t, "--store", dirs[0], "--store", dirs[1], "--file", "/srv/mynumber/roster.csv", "--format", "json")
	var rep incident.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Flows) != 2 || rep.Persons.Lower != 5 || !rep.Persons.Exact || len(rep.Hosts) != 2 {
		t.Errorf("merged: %d flows, persons %+v, hosts %v", len(rep.Flows), rep.Persons, rep.Hosts)
	}
	for _, f := range rep.Flows {
		if f.SSHSource != "198.51.100.23" || f.LoginUser != "tanaka" {
			t.Errorf("flow %d: %q from %q", f.ID, f.LoginUser, f.SSHSource)
		}
	}
}
