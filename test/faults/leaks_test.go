package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Area "leaks": nothing bansho prints holds a raw My Number or a secret.
// Numbers are planted in names, paths, arguments and documents; each case
// asserts none of them comes back unmasked (and only counts them).
func TestLeaks(t *testing.T) {
	ns := MyNumbers(7, 10)
	noRaw := func(r Result) bool { return len(RawNumbers(r.Output(), ns...)) == 0 }
	rawCount := func(r Result) string { return fmt.Sprintf("; %d raw numbers", len(RawNumbers(r.Output(), ns...))) }

	t.Run("scan", func(t *testing.T) {
		d := sharedDir(t)
		tree := filepath.Join(d, "tree")
		write(t, filepath.Join(tree, ns[0]+".csv"), []byte("id,name\n"), 0o644)
		write(t, filepath.Join(tree, ns[1], "list.txt"), []byte("x"), 0o644)
		// Unreadable for the scanning user: the stderr line names it.
		write(t, filepath.Join(tree, "locked-"+ns[2]+".csv"), []byte("x"), 0o000)
		for _, format := range []string{"text", "json"} {
			r := RunAsNobody(t, timeout, "scan", "--hash-key", hashKey, "--format", format, tree)
			Case(t, "leaks", "scan --format "+format+": file and directory named after a My Number",
				"exit 0, names masked (****-****-****), no raw number", brief(r)+rawCount(r),
				clean(r) && r.Code == 0 && noRaw(r) && strings.Contains(r.Stdout, "****-****-****.csv"))
			Case(t, "leaks", "scan --format "+format+": permission-denied line for a file named after a My Number",
				"one stderr line naming the file masked", brief(r)+rawCount(r),
				clean(r) && noRaw(r) && strings.Contains(r.Stderr, "locked-****-****-****.csv: permission denied"))
		}
		r := Run(t, timeout, nil, nil, "scan", "--hash-key", hashKey, filepath.Join(d, "missing-"+ns[3]))
		Case(t, "leaks", "scan: a missing path argument named after a My Number",
			"exit 2 naming the path masked", brief(r)+rawCount(r),
			clean(r) && r.Code == 2 && noRaw(r) && strings.Contains(r.Stderr, "missing-****-****-****"))
	})

	t.Run("config check", func(t *testing.T) {
		d := sharedDir(t)
		prot := filepath.Join(d, ns[4])
		os.Mkdir(prot, 0o755)
		cfg := write(t, filepath.Join(d, "ok.yaml"), []byte("protect:\n  paths: ["+prot+"]\n"), 0o644)
		r := RunAsNobody(t, timeout, "config", "check", cfg)
		Case(t, "leaks", "config check: protected directory named after a My Number (summary)",
			"exit 0, the path masked", brief(r)+rawCount(r),
			clean(r) && r.Code == 0 && noRaw(r) && strings.Contains(r.Stdout, "protected paths: "+d+"/****-****-****"))
		cfg = write(t, filepath.Join(d, "missing.yaml"), []byte("protect:\n  paths: ["+d+"/gone/"+ns[5]+"]\n"), 0o644)
		r = RunAsNobody(t, timeout, "config", "check", cfg)
		Case(t, "leaks", "config check: missing protected path named after a My Number (error)",
			"exit 1, protect.paths[0] with the path masked", brief(r)+rawCount(r),
			clean(r) && r.Code == 1 && noRaw(r) && strings.Contains(r.Stderr, "protect.paths[0]: "+d+"/gone/****-****-****: no such file"))

		const secret = "SECRETxPw9"
		cfg = write(t, filepath.Join(d, "es.yaml"), []byte("protect:\n  paths: [/tmp]\noutputs:\n  elasticsearch:\n    enabled: true\n"+
			"    addresses: [\"http://bansho:"+secret+"@127.0.0.1:9200\"]\n"), 0o644)
		r = RunAsNobody(t, timeout, "config", "check", cfg)
		Case(t, "leaks", "config check: Elasticsearch URL with a password (summary)",
			"exit 0, the URL shown as http://bansho:xxxxx@...", brief(r),
			clean(r) && r.Code == 0 && !strings.Contains(r.Output(), secret) && strings.Contains(r.Stdout, "http://bansho:xxxxx@127.0.0.1:9200"))
		cfg = write(t, filepath.Join(d, "es-bad.yaml"), []byte("protect:\n  paths: [/tmp]\noutputs:\n  elasticsearch:\n    enabled: true\n"+
			"    addresses: [\"ftp://bansho:"+secret+"@127.0.0.1:9200\"]\n"), 0o644)
		r = RunAsNobody(t, timeout, "config", "check", cfg)
		Case(t, "leaks", "config check: bad Elasticsearch URL with a password (error)",
			"exit 1 naming file:line and key, the password not shown", brief(r),
			clean(r) && r.Code == 1 && !strings.Contains(r.Output(), secret) && strings.Contains(r.Stderr, ":6: outputs.elasticsearch.addresses[0]: "))
		for _, c := range []struct{ name, body, key string }{
			{"password: [secret]", "outputs:\n  elasticsearch:\n    password: [" + secret + "]\n", ":5: outputs.elasticsearch.password: "},
			{"password: {secret}", "outputs:\n  kafka:\n    sasl:\n      password: {" + secret + "}\n", ":6: outputs.kafka.sasl.password: "},
			{"hash_key: [secret]", "content:\n  hash_key: [" + secret + "]\n", ":4: content.hash_key: "},
			{"api_key: 42-list", "outputs:\n  elasticsearch:\n    api_key: [" + secret + ", 42]\n", ":5: outputs.elasticsearch.api_key: "},
		} {
			cfg := write(t, filepath.Join(d, "secret.yaml"), []byte("protect:\n  paths: [/tmp]\n"+c.body), 0o644)
			r := RunAsNobody(t, timeout, "config", "check", cfg)
			Case(t, "leaks", "config check: secret of the wrong type, "+c.name,
				"exit 1 naming file:line and key, the value not shown", strings.ReplaceAll(brief(r), secret, "<SECRET>"),
				clean(r) && r.Code == 1 && !strings.Contains(r.Output(), secret) && strings.Contains(r.Stderr, c.key))
		}
	})

	t.Run("timeline --input", func(t *testing.T) {
		d := t.TempDir()
		doc := `{"@timestamp":"2026-12-01T01:00:00Z","message":"read ` + ns[0] + `","event":{"kind":"event","action":"open","category":["file"]},` +
			`"process":{"entity_id":"p1","pid":10,"name":"cat","command_line":"grep ` + ns[1] + ` /srv/roster.csv","args":["grep","` + ns[1] + `"]},` +
			`"file":{"path":"/srv/` + ns[2] + `.csv"},"labels":{"note":"` + ns[3] + `"},"number":` + ns[4] + `}` + "\n"
		in := write(t, filepath.Join(d, "events.json"), []byte(doc), 0o600)
		for _, format := range []string{"text", "json"} {
			r := Run(t, timeout, nil, nil, "timeline", "--input", in, "--format", format)
			Case(t, "leaks", "timeline --input --format "+format+": numbers in command_line, file.path, message, labels, a number value",
				"exit 0, every number masked", brief(r)+rawCount(r),
				clean(r) && r.Code == 0 && noRaw(r) && strings.Contains(r.Stdout, "****-****-****"))
		}
	})

	t.Run("replay", func(t *testing.T) {
		d := t.TempDir()
		doc := `{"@timestamp":"` + ns[8] + `","event":{"kind":"event","action":"open"}}` + "\n"
		in := write(t, filepath.Join(d, "in-"+ns[9]+".json"), []byte(doc), 0o600)
		r := Run(t, timeout, nil, nil, "replay", "--input", in, "--since", "2026-01-01T00:00:00Z")
		Case(t, "leaks", "replay --since: a My Number as @timestamp, in a file named after one",
			"exit 3 naming file:line, both numbers masked", brief(r)+rawCount(r),
			clean(r) && r.Code == 3 && noRaw(r) && strings.Contains(r.Stderr, "in-****-****-****.json:1"))
	})

	t.Run("rules", func(t *testing.T) {
		d := t.TempDir()
		dir := filepath.Join(d, "rules-"+ns[6])
		write(t, filepath.Join(dir, ns[7]+".yaml"), []byte("- rule: Bad\n  condition: process.name ==== \"x\"\n"), 0o644)
		r := Run(t, timeout, nil, nil, "rules", "check", dir)
		Case(t, "leaks", "rules check: rule directory and file named after My Numbers",
			"exit 1, errors name file:line:col with the numbers masked", brief(r)+rawCount(r),
			clean(r) && r.Code == 1 && noRaw(r) && strings.Contains(r.Stderr, "rules-****-****-****/****-****-****.yaml:"))
		r = Run(t, timeout, nil, nil, "rules", "test", dir)
		Case(t, "leaks", "rules test: rule directory named after a My Number",
			"exit 1 naming the directory masked", brief(r)+rawCount(r),
			clean(r) && r.Code != 0 && noRaw(r) && strings.Contains(r.Output(), "rules-****-****-****"))
	})
}
