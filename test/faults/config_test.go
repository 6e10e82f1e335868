package faults

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Area "config": config check on hostile configuration files. Each case:
// no panic, no hang, exit 1 with one line naming the file (and line and
// key where there is one), and, for secrets, never their value.
func TestConfigFaults(t *testing.T) {
	d := sharedDir(t)
	check := func(t *testing.T, name, expect string, cfg string, want ...string) {
		t.Helper()
		start := time.Now()
		r := RunAsNobody(t, timeout, "config", "check", cfg)
		ok := clean(r) && r.Code == 1 && strings.Count(strings.TrimSpace(r.Output()), "\n") == 0 &&
			strings.HasPrefix(r.Stderr, "bansho: "+cfg)
		for _, w := range want {
			ok = ok && strings.Contains(r.Stderr, w)
		}
		Case(t, "config", name, expect, brief(r)+" ("+time.Since(start).Round(time.Millisecond).String()+")", ok)
	}
	file := func(name, body string) string { return write(t, filepath.Join(d, name), []byte(body), 0o644) }
	head := "protect:\n  paths: [/tmp]\n"

	check(t, "malformed YAML", "exit 1, file:line: not valid YAML",
		file("broken.yaml", head+"sensor:\n  queue_size: [1, 2\n"), ": not valid YAML")
	check(t, "malformed YAML: tab indentation", "exit 1, file:line: not valid YAML",
		file("tabs.yaml", head+"sensor:\n\tqueue_size: 3\n"), "tabs.yaml:4: not valid YAML")
	check(t, "invalid UTF-8", "exit 1, file:line: not valid YAML",
		file("utf8.yaml", head+"log:\n  level: \xff\xfe\n"), "utf8.yaml:4: not valid YAML: not UTF-8")
	check(t, "not a mapping", "exit 1, file:line: the document must be a mapping",
		file("list.yaml", "- a\n- b\n"), "must be a mapping")
	check(t, "wrong type: int", "exit 1, file:line: key",
		file("type.yaml", head+"sensor:\n  queue_size: lots\n"), "type.yaml:4: sensor.queue_size: ")
	check(t, "wrong type: list for a string", "exit 1, file:line: key",
		file("type2.yaml", head+"log:\n  level: [debug]\n"), "type2.yaml:4: log.level: ")
	check(t, "wrong type: mapping for a list", "exit 1, file:line: key",
		file("type3.yaml", "protect:\n  paths: {a: b}\n"), "type3.yaml:")
	check(t, "unknown key", "exit 1, file:line: key: unknown key (did you mean ...)",
		file("unknown.yaml", head+"shutdown:\n  timout: 3s\n"), "unknown.yaml:4: shutdown.timout: unknown key (did you mean shutdown.timeout?)")
	check(t, "unknown section", "exit 1, file:line: key: unknown key",
		file("unknown2.yaml", head+"output:\n  file: {}\n"), "unknown2.yaml:3: output: unknown key")

	big := filepath.Join(d, "big.yaml")
	f, _ := os.Create(big)
	f.WriteString(head + "# padding\n")
	f.Truncate(12 << 20)
	f.Close()
	os.Chmod(big, 0o644)
	check(t, "huge file (12 MiB)", "exit 1 at once, naming the file, its size and the 1 MiB limit",
		big, "cannot read configuration: 12582912 bytes, more than the 1 MiB allowed")
	check(t, "deep nesting (100000 levels)", "exit 1, file:line: not valid YAML (depth)",
		file("deep.yaml", head+"x: "+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+"\n"), "exceeded max depth")
	check(t, "deep nesting of mappings", "exit 1 at once, no crash",
		file("deepmap.yaml", head+"x:"+strings.Repeat(" {a:", 20000)+" 1"+strings.Repeat("}", 20000)+"\n"), "deepmap.yaml")
	check(t, "config is a directory", "exit 1: is a directory", d, "cannot read configuration: is a directory")
	fifo := filepath.Join(d, "fifo.yaml")
	syscall.Mkfifo(fifo, 0o644)
	os.Chmod(fifo, 0o644)
	check(t, "config is a FIFO", "exit 1 at once: not a regular file (a FIFO), not waited on", fifo, "not a regular file (a FIFO)")
	loop := filepath.Join(d, "loop.yaml")
	os.Symlink(loop, loop)
	check(t, "config is a symlink loop", "exit 1: too many levels of symbolic links", loop, "too many levels of symbolic links")
	check(t, "config is /dev/zero", "exit 1 at once: not a regular file (a device)", "/dev/zero", "not a regular file (a device)")
	check(t, "config is missing", "exit 1: no such file", filepath.Join(d, "none.yaml"), "no such file or directory")

	const secret = "SECRETxQ7"
	for _, c := range []struct{ name, body, key string }{
		{"elasticsearch password as a list", "outputs:\n  elasticsearch:\n    password: [" + secret + "]\n", "outputs.elasticsearch.password"},
		{"kafka password as a mapping", "outputs:\n  kafka:\n    sasl:\n      password: {" + secret + ": 1}\n", "outputs.kafka.sasl.password"},
		{"hash key as a list", "content:\n  hash_key: [" + secret + "]\n", "content.hash_key"},
		{"headers as a mapping", "outputs:\n  elasticsearch:\n    headers: {Authorization: " + secret + "}\n", "outputs.elasticsearch.headers"},
	} {
		cfg := file("secret.yaml", head+c.body)
		r := RunAsNobody(t, timeout, "config", "check", cfg)
		Case(t, "config", "secret of the wrong type: "+c.name, "exit 1 naming file:line and key, never the value",
			strings.ReplaceAll(brief(r), secret, "<SECRET>"),
			clean(r) && r.Code == 1 && !strings.Contains(r.Output(), secret) && strings.Contains(r.Stderr, c.key+": "))
	}

	check(t, "hash key of 3 characters", "exit 1, file:line: content.hash_key: too short, the key not shown",
		file("shortkey.yaml", head+"content:\n  hash_key: Qz7\n"), "shortkey.yaml:4: content.hash_key: hash key too short (3 bytes)")
	wide := write(t, filepath.Join(d, "wide.key"), []byte(hashKey+"\n"), 0o644)
	check(t, "hash key file 0644", "exit 1: readable by others, make it 0600 (as run refuses)",
		file("widekey.yaml", head+"content:\n  hash_key_file: "+wide+"\n"), "content.hash_key_file "+wide+": readable by others (mode 644)")
	short := write(t, filepath.Join(d, "short.key"), []byte("Qz7\n"), 0o600)
	os.Chown(short, 65534, 65534)
	check(t, "hash key file with a short key", "exit 1: too short, the key not shown",
		file("shortkeyfile.yaml", head+"content:\n  hash_key_file: "+short+"\n"), "hash key too short (3 bytes)")
	check(t, "unknown rules.lists name", "exit 1 naming the list and the closest one (run refuses it too)",
		file("list-name.yaml", head+"rules:\n  lists:\n    - {name: backup_program, items: [/usr/bin/restic]}\n"),
		`rules.lists[0].name: "backup_program" is not a list of the rules (did you mean backup_programs?)`)
	shared := filepath.Join(d, "shared-out")
	os.Mkdir(shared, 0o700)
	os.Chmod(shared, 0o777|os.ModeSticky)
	check(t, "output file in a shared directory (1777)", "exit 1: others can write to it (as the file exporter refuses)",
		file("shared.yaml", head+"outputs:\n  file: {path: "+shared+"/events.json}\n"), "others can write to it (mode 1777)")
	check(t, "Elasticsearch address not a URL", "exit 1, file:line: key, the value not shown",
		file("esurl.yaml", head+"outputs:\n  elasticsearch:\n    enabled: true\n    addresses: [\"http://u:p w@h st/%zz\"]\n"),
		"esurl.yaml:6: outputs.elasticsearch.addresses[0]: not a valid URL")
}
