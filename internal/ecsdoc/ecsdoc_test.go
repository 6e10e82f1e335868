package ecsdoc

import (
	"os"
	"path/filepath"
	"testing"
)

func decodeGolden(t *testing.T, name string) *Doc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "pipeline", "ecs", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	d := &Doc{}
	if err := Decode(b, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// The encoder's own golden documents decode into every field the readers
// use: a field the encoder renames fails here, not in a timeline or an
// incident report that quietly misses it.
func TestDecodesTheEncodersDocuments(t *testing.T) {
	d := decodeGolden(t, "enriched_write_usb")
	checks := []struct {
		what string
		ok   bool
	}{
		{"@timestamp", !d.Timestamp.IsZero()},
		{"event.id, kind, action", d.Event.ID != "" && d.Event.Kind == "event" && d.Event.Action == "write"},
		{"host.name", d.Host.Name == "hr-db-01"},
		{"process.entity_id, pid", d.Process.EntityID != "" && d.Process.PID != 0},
		{"process.parent.entity_id", d.ParentID() != "" && d.ParentID() != d.Process.EntityID},
		{"process.group_leader.entity_id", d.GroupID() != ""},
		{"process.entry_leader.entry_meta", d.Process.EntryLeader != nil && d.Process.EntryLeader.EntryMeta.Type == "sshd" &&
			d.Process.EntryLeader.EntryMeta.Source.IP == "198.51.100.23"},
		{"user", d.User.String() == "root(0)"},
		{"bansho.login_user", d.Bansho.LoginUser.Is("tanaka") && d.Bansho.LoginUser.Is("1000")},
		{"file.path, inode", d.File.Path == "/mnt/usb/roster.csv" && d.File.Inode != ""},
		{"bansho.file.mount", d.Bansho.File.Mount != nil && d.Bansho.File.Mount.Removable && d.Bansho.File.Mount.FSType == "vfat"},
	}
	c := decodeGolden(t, "content_scan")
	my, _ := c.Findings()
	checks = append(checks, []struct {
		what string
		ok   bool
	}{
		{"bansho.content.my_number", my.Distinct == 300 && my.Confidence == "high" && len(my.Hashes) > 0},
		{"bansho.content.at_rest", c.Bansho.Content.AtRest},
		{"process.real_user", c.Process.RealUser.Name == "tanaka"},
	}...)
	n := decodeGolden(t, "connect")
	x := decodeGolden(t, "exit_code")
	a := decodeGolden(t, "alert")
	checks = append(checks, []struct {
		what string
		ok   bool
	}{
		{"destination", n.Dest.IP == "66.35.250.204" && n.Dest.Port == 80},
		{"no content: zero findings", func() bool { m, k := n.Findings(); return m.Distinct == 0 && k.Distinct == 0 }()},
		{"process.exit_code", x.Process.ExitCode != nil && *x.Process.ExitCode == 1},
		{"rule, event.severity, bansho.alert.events", a.Rule.ID == "protected-data-copied-outside" && a.Event.Severity == 47 &&
			len(a.Bansho.Alert.Events) == 2},
	}...)
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s not decoded", c.what)
		}
	}
}
