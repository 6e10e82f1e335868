// Package shipped loads the configuration files the deployment artefacts
// ship (the Kubernetes ConfigMaps, the systemd unit's) in tests, the way
// the sensor would, with the paths they name made to exist.
package shipped

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bansho-sec/bansho/internal/config"
)

// Load loads a shipped configuration file with config.Load, its
// protect.paths and the other paths that exist in the pod moved under a
// temporary root (they must exist), and returns protect.paths as written.
func Load(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	root := t.TempDir()
	var paths []string
	seq := find(doc.Content[0], "protect", "paths")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		t.Fatalf("%s: no protect.paths list", path)
	}
	for _, n := range seq.Content {
		paths = append(paths, n.Value)
		n.Value = filepath.Join(root, n.Value)
		if err := os.MkdirAll(n.Value, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Other paths the file names exist in the pod (mounted): make them.
	for _, k := range [][]string{{"rules", "dir"}, {"store", "dir"}} {
		if n := find(doc.Content[0], k...); n != nil && n.Value != "" {
			n.Value = filepath.Join(root, n.Value)
			if err := os.MkdirAll(n.Value, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range [][]string{{"outputs", "elasticsearch", "ca_file"}} {
		if n := find(doc.Content[0], k...); n != nil && n.Value != "" {
			n.Value = filepath.Join(root, n.Value)
			if err := os.MkdirAll(filepath.Dir(n.Value), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(n.Value, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(root, filepath.Base(path))
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(tmp, nil); err != nil {
		t.Fatalf("%s does not load: %v", path, err)
	}
	return paths
}

func find(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}
