package enrich

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Names come from the host's files for host processes and from the
// container's root for others; broken lines are skipped and counted; an
// edited file is re-read on the next refresh.
func TestUsers(t *testing.T) {
	host := t.TempDir()
	proc := t.TempDir()
	writeFile(t, host+"/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"+
		"broken line without colons\n"+
		"tanaka:x:1000:1000:Tanaka:/home/tanaka:/bin/bash\n"+
		"bad:x:notanumber:1:\n"+
		"+::::::\n"+
		"dup:x:1000:1000::/:/bin/sh\n")
	writeFile(t, host+"/etc/group", "root:x:0:\nhr:x:1001:tanaka\n")
	writeFile(t, proc+"/4711/root/etc/passwd", "root:x:0:0::/root:/bin/sh\nnginx:x:101:101::/:/sbin/nologin\n")
	writeFile(t, proc+"/4711/root/etc/group", "nginx:x:101:\n")

	u := &Users{HostMntNS: 1, Root: host, Proc: proc, Interval: time.Nanosecond}
	if got := u.User(1, 999, 1000); got != "tanaka" {
		t.Errorf("uid 1000 = %q", got)
	}
	if got := u.Group(1, 999, 1001); got != "hr" {
		t.Errorf("gid 1001 = %q", got)
	}
	if got := u.BadLines.Load(); got != 2 {
		t.Errorf("bad lines %d, want 2", got)
	}
	if got := u.User(1, 999, 4242); got != "" {
		t.Errorf("unknown uid = %q", got)
	}
	// A container: its own /etc/passwd through /proc/PID/root.
	if got := u.User(7, 4711, 101); got != "nginx" {
		t.Errorf("container uid 101 = %q", got)
	}
	if got := u.User(7, 4711, 1000); got != "" {
		t.Errorf("host user leaked into the container: %q", got)
	}
	if got := u.Group(7, 4711, 101); got != "nginx" {
		t.Errorf("container gid 101 = %q", got)
	}

	// useradd: the file is replaced; the next refresh sees it.
	writeFile(t, host+"/etc/passwd.new", "root:x:0:0::/root:/bin/bash\nsato:x:1002:1002::/home/sato:/bin/bash\n")
	if err := os.Rename(host+"/etc/passwd.new", host+"/etc/passwd"); err != nil {
		t.Fatal(err)
	}
	if got := u.User(1, 999, 1002); got != "" {
		t.Errorf("re-read before a refresh: %q", got)
	}
	u.Refresh()
	if got := u.User(1, 999, 1002); got != "sato" {
		t.Errorf("after refresh uid 1002 = %q", got)
	}
	// The container's root vanished (its process ended): old names kept.
	os.RemoveAll(proc + "/4711")
	u.Refresh()
	if got := u.User(7, 4711, 101); got != "nginx" {
		t.Errorf("names lost with the root: %q", got)
	}
	if u.ReadErrors.Load() == 0 {
		t.Error("unreadable root not counted")
	}

	// A container whose first seen process ended before its root was
	// read: names come through the next process seen in it.
	writeFile(t, proc+"/5001/root/etc/passwd", "app:x:2000:2000::/:/bin/sh\n")
	if got := u.User(9, 5000, 2000); got != "" {
		t.Errorf("gone process gave %q", got)
	}
	time.Sleep(110 * time.Millisecond)
	if got := u.User(9, 5001, 2000); got != "app" {
		t.Errorf("through the next process: %q", got)
	}
}
