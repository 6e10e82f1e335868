package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// config check runs without root: as nobody when the tests are root.
func checkCmd(t *testing.T, file string) *exec.Cmd {
	cmd := exec.Command(binary, "config", "check", file)
	cmd.Env = append(os.Environ(), "BANSHO_CONTENT_HASH_KEY=") // the file decides
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	return cmd
}

// sharedDir is readable by nobody (t.TempDir is 0700).
func sharedDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "bansho-check")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestConfigCheckGood(t *testing.T) {
	d := sharedDir(t)
	prot := filepath.Join(d, "mynumber")
	os.Mkdir(prot, 0o755)
	cfg := filepath.Join(d, "bansho.yaml")
	body := "protect:\n  paths: [" + prot + "]\n  integrity_paths: [/usr/bin, /nonexistent/audit]\n" +
		"outputs:\n  stdout: {enabled: false}\n  file: {path: " + d + "/out/events.json, max_backups: 2}\n" +
		"metrics:\n  listen: 127.0.0.1:9191\nshutdown:\n  timeout: 20s\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := checkCmd(t, cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("config check: %v\n%s", err, out)
	}
	for _, want := range []string{cfg + ": ok\n", "protected paths: " + prot + "\n",
		"integrity paths: /usr/bin (missing here, skipped at start: /nonexistent/audit)",
		"outputs: file " + d + "/out/events.json (rotate at 104857600 bytes, keep 2) [directory will be created], store /var/lib/bansho/store\n",
		"metrics: http://127.0.0.1:9191/metrics", "shutdown within 20s"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(d, "out")); err == nil {
		t.Error("config check created the output directory")
	}
	// A misspelt variable is named, the check still passes.
	cmd := checkCmd(t, cfg)
	cmd.Env = append(cmd.Env, "BANSHO_SHUTDOWN_TIMOUT=5s")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("with a misspelt variable: %v %s", err, stderr.String())
	}
	if want := "bansho: warning: BANSHO_SHUTDOWN_TIMOUT is not a configuration variable (did you mean BANSHO_SHUTDOWN_TIMEOUT?)\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

func TestConfigCheckBad(t *testing.T) {
	d := sharedDir(t)
	// A rule directory whose one file does not compile: the check names
	// its file, line and column, as start-up would.
	rdir := filepath.Join(d, "rules")
	if err := os.Mkdir(rdir, 0o755); err != nil {
		t.Fatal(err)
	}
	bad := "- rule: Bad Rule\n  desc: A rule that does not compile.\n  condition: process.name ==== \"x\"\n  output: y\n  priority: WARNING\n"
	if err := os.WriteFile(filepath.Join(rdir, "local.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	// Hash key files: one others can read (run refuses it), one too short.
	wideKey := filepath.Join(d, "wide.key")
	os.WriteFile(wideKey, []byte("00112233445566778899aabbccddeeff\n"), 0o644)
	os.Chmod(wideKey, 0o644)
	shortKey := filepath.Join(d, "short.key")
	os.WriteFile(shortKey, []byte("Zk9\n"), 0o600)
	os.Chown(shortKey, 65534, 65534) // nobody runs the check when the tests are root
	sharedOut := filepath.Join(d, "sharedout")
	os.Mkdir(sharedOut, 0o700)
	os.Chmod(sharedOut, 0o777|os.ModeSticky)
	cases := map[string]struct{ body, want string }{
		"shared output dir": {"protect:\n  paths: [/tmp]\noutputs:\n  file: {path: " + sharedOut + "/events.json}\n",
			"outputs.file.path: " + sharedOut + ": others can write to it (mode 1777)"},
		"unknown list": {"protect:\n  paths: [/tmp]\nrules:\n  lists:\n    - {name: alowed_destination_networks, items: [10.0.0.0/8]}\n",
			`rules.lists[0].name: "alowed_destination_networks" is not a list of the rules (did you mean allowed_destination_networks?)`},
		"wide key file":  {"protect:\n  paths: [/tmp]\ncontent:\n  hash_key_file: " + wideKey + "\n", "content.hash_key_file " + wideKey + ": readable by others (mode 644): make it 0600"},
		"short key file": {"protect:\n  paths: [/tmp]\ncontent:\n  hash_key_file: " + shortKey + "\n", "content.hash_key_file " + shortKey + ": hash key too short (3 bytes)"},
		"short key":      {"protect:\n  paths: [/tmp]\ncontent:\n  hash_key: Zk9\n", ":4: content.hash_key: hash key too short (3 bytes)"},
		"bad rule":       {"protect:\n  paths: [/tmp]\nrules:\n  dir: " + rdir + "\n", rdir + "/local.yaml:3:29: condition:"},
		"kafka no store": {"protect:\n  paths: [/tmp]\nstore:\n  enabled: false\noutputs:\n  kafka: {enabled: true, brokers: [127.0.0.1:1]}\n", "set store.enabled: true"},
		"unknown key":    {"protect:\n  paths: [/tmp]\nshutdown:\n  timout: 3s\n", ":4: shutdown.timout: unknown key (did you mean shutdown.timeout?)"},
		"bad listen":     {"protect:\n  paths: [/tmp]\nmetrics:\n  listen: localhost\n", ":4: metrics.listen: \"localhost\" is not host:port"},
		"bad timeout":    {"protect:\n  paths: [/tmp]\nshutdown:\n  timeout: 0s\n", ":4: shutdown.timeout: 0s must be between 1s and 5m"},
		"relative guard": {"protect:\n  paths: [/tmp]\n  integrity_paths: [etc/bansho]\n", ":3: protect.integrity_paths[0]: \"etc/bansho\" is not an absolute path"},
		"missing path":   {"protect:\n  paths: [/nonexistent/mynumber]\n", ":2: protect.paths[0]: /nonexistent/mynumber: no such file or directory"},
		"not a duration": {"protect:\n  paths: [/tmp]\nhealth:\n  stall_after: soon\n", ":4: health.stall_after:"},
		"broken yaml":    {"protect:\n  paths: [/tmp\n", "not valid YAML"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(d, strings.ReplaceAll(name, " ", "_")+".yaml")
			if err := os.WriteFile(cfg, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := checkCmd(t, cfg).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1; output:\n%s", err, out)
			}
			if strings.Contains(string(out), "Zk9") {
				t.Fatal("the hash key is shown")
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "bansho: "+cfg) || !strings.Contains(lines[0], c.want) {
				t.Errorf("output %q\nwant one line naming %s and containing %q", out, cfg, c.want)
			}
		})
	}
	out, err := checkCmd(t, "/nonexistent/bansho.yaml").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/nonexistent/bansho.yaml: cannot read configuration") {
		t.Errorf("missing file: %v %s", err, out)
	}
}

// config check shows neither a My Number (a protected directory named
// after one) nor the credentials of an Elasticsearch URL. Failures say
// what leaked, not the value.
func TestConfigCheckShowsNoNumberOrSecret(t *testing.T) {
	const n = "123456789018" // made up, valid check digit
	d := sharedDir(t)
	prot := filepath.Join(d, n)
	os.Mkdir(prot, 0o755)
	cfg := filepath.Join(d, "bansho.yaml")
	body := "protect:\n  paths: [" + prot + "]\nstore:\n  enabled: true\n" +
		"outputs:\n  file: {path: " + d + "/" + n + "/events.json}\n" +
		"  elasticsearch:\n    enabled: true\n    addresses: [\"http://bansho:UrlSecretMark@127.0.0.1:9200\", \"https://TokenMark@127.0.0.1:9200\"]\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := checkCmd(t, cfg).CombinedOutput()
	s := string(out)
	if err != nil {
		t.Fatalf("config check: %v (%d bytes of output)", err, len(s))
	}
	if strings.Contains(s, n) || strings.Contains(s, "UrlSecretMark") || strings.Contains(s, "TokenMark") {
		t.Errorf("config check shows a number %v, a password %v, a token %v",
			strings.Contains(s, n), strings.Contains(s, "UrlSecretMark"), strings.Contains(s, "TokenMark"))
	}
	if !strings.Contains(s, "protected paths: "+d+"/****-****-****") || !strings.Contains(s, "elasticsearch http://bansho:xxxxx@127.0.0.1:9200") {
		t.Errorf("the masked values are missing (%d bytes of output)", len(s))
	}
}
