package enrich

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// The pod list as a kubelet serves it (GET /pods on port 10250): pod
// metadata, node and labels by pod uid, container names and images by
// container id; a bearer token from a file; a failing kubelet keeps the
// last good list and is counted.
func TestKubeletPodList(t *testing.T) {
	body, err := os.ReadFile("testdata/kubelet-pods.json")
	if err != nil {
		t.Fatal(err)
	}
	var fail atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pods" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer s3cret-token" {
			// What the kubelet answers without a valid token.
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte("Unauthorized"))
			return
		}
		if fail.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"kind":"PodList","items":[{"metadata":`)) // cut short
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("wrong\n"), 0o600)

	k, err := NewKubelet(KubeletConfig{URL: srv.URL + "/pods", TokenFile: tok, InsecureSkipVerify: true, Cluster: "hr-prod"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := k.Poll(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v", err)
	}
	os.WriteFile(tok, []byte("s3cret-token\n"), 0o600) // rotated: re-read
	if err := k.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	p := k.Pod(pod)
	if p == nil || p.Name != "payroll-api-7d9f8b6c5-x2k4q" || p.Namespace != "hr" || p.Node != "hr-node-01" ||
		p.Labels["app"] != "payroll-api" || p.Cluster != "hr-prod" {
		t.Fatalf("pod: %+v", p)
	}
	c := k.Container(cid)
	if c == nil || c.Name != "api" || c.ImageName != "registry.example.jp:5000/hr/payroll-api" || c.ImageTag != "2.4.1" ||
		c.Runtime != "containerd" {
		t.Errorf("container: %+v", c)
	}
	if c := k.Container(cid2); c == nil || c.Name != "migrate" || c.ImageName != "docker.io/library/postgres" {
		t.Errorf("init container: %+v", c)
	}
	if k.Pod("f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b") == nil {
		t.Error("pending pod without container statuses missing")
	}

	fail.Store(true)
	if err := k.Poll(ctx); err == nil {
		t.Error("truncated JSON accepted")
	}
	srv.Close()
	if err := k.Poll(ctx); err == nil {
		t.Error("unreachable kubelet: no error")
	}
	if k.Errors.Load() != 3 || k.Pod(pod) == nil {
		t.Errorf("errors %d, pod kept: %v", k.Errors.Load(), k.Pod(pod) != nil)
	}
}

func TestKubeletConfigErrors(t *testing.T) {
	if _, err := NewKubelet(KubeletConfig{URL: "10.0.0.1:10250/pods"}, nil); err == nil || !strings.Contains(err.Error(), "enrich.kubernetes.url") {
		t.Errorf("bad url: %v", err)
	}
	if _, err := NewKubelet(KubeletConfig{URL: "https://x/pods", CAFile: "/nonexistent/ca.pem"}, nil); err == nil ||
		!strings.Contains(err.Error(), "enrich.kubernetes.ca_file") {
		t.Errorf("bad ca: %v", err)
	}
}

func TestSplitImage(t *testing.T) {
	for in, want := range map[string][2]string{
		"nginx":                               {"nginx", ""},
		"nginx:1.25":                          {"nginx", "1.25"},
		"registry:5000/a/b":                   {"registry:5000/a/b", ""},
		"registry:5000/a/b:v1@sha256:abcd":    {"registry:5000/a/b", "v1"},
		"docker.io/library/busybox@sha256:ab": {"docker.io/library/busybox", ""},
	} {
		if n, tag := splitImage(in); n != want[0] || tag != want[1] {
			t.Errorf("%s: %s %s", in, n, tag)
		}
	}
}
