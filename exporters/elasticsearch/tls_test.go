package elasticsearch

import (
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/internal/testdocs"
)

// https with the server's CA in ca_file works; without it the certificate
// is refused (nothing is acknowledged, so nothing is lost), and basic
// authentication reaches the server.
func TestTLSWithCAFileAndBasicAuth(t *testing.T) {
	f := &fakeES{t: t, docs: map[string]map[string][]byte{}, templates: map[string][]byte{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	defer f.srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Addresses: []string{f.srv.URL}, CAFile: ca, Username: "bansho", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sendAll(t, s, records(testdocs.Docs("h1", 20)))
	if err != nil || statuses(res)[delivery.Delivered] != 20 {
		t.Fatalf("with the CA: %v %v", err, statuses(res))
	}
	if u, p, ok := basicAuth(f.headers[0].Get("Authorization")); !ok || u != "bansho" || p != "pw" {
		t.Errorf("basic auth not sent: %q", f.headers[0].Get("Authorization"))
	}

	s2, err := New(Options{Addresses: []string{f.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	res, err = sendAll(t, s2, records(testdocs.Docs("h1", 5)))
	if err == nil || !strings.Contains(err.Error(), "is not trusted (check outputs.elasticsearch.ca_file)") || statuses(res)[delivery.Pending] != 5 {
		t.Fatalf("without the CA: %v %v, want a certificate error and all pending", err, statuses(res))
	}
}

func basicAuth(h string) (user, pass string, ok bool) {
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(b), ":")
	return user, pass, ok
}
