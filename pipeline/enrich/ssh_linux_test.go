package enrich

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/testutil"
)

// A real OpenSSH login. The test runs sshd on a loopback port with its own
// host key and one authorized key; PAM (pam_loginuid) sets the login uid as
// on any server. In the session a cp of the protected file, then a read of
// it as nobody: both carry the SSH client's address, sshd as the entry, and
// the person who logged in.
func TestRealSSHSession(t *testing.T) {
	l := startLive(t)
	ssh := testutil.SSHD(t)

	dst := filepath.Join(t.TempDir(), "copy.csv")
	ssh(fmt.Sprintf("cp %s %s && setpriv --reuid=65534 cat %s >/dev/null", l.file, dst, l.file))

	w := l.WaitFor("the copy's write in the SSH session", func(ev *event.Event) bool {
		return ev.Op == event.OpFileWrite && ev.File != nil && ev.File.Path == dst && ev.Enriched != nil
	})
	en := w.Enriched
	if en.EntryLeader != nil {
		t.Logf("entry leader %s %v (%s) from %v, %d ancestors, login %s",
			en.EntryLeader.Name, en.EntryLeader.Args, en.EntryType, en.EntrySourceIP, len(en.Ancestors), en.LoginUserName)
	}
	if en.EntryType != "sshd" || en.EntrySourceIP.String() != "127.0.0.1" {
		t.Errorf("entry type %q, source %v; want sshd from 127.0.0.1", en.EntryType, en.EntrySourceIP)
	}
	if en.EntryLeader == nil || en.EntryLeader.Unknown || strings.HasPrefix(en.EntryLeader.Name, "sshd") {
		t.Errorf("entry leader %+v: want the session's first program after sshd", en.EntryLeader)
	}
	if w.Proc.AUID != 0 || en.LoginUserName != "root" {
		t.Errorf("login uid %d (%q): want root, set by pam_loginuid", w.Proc.AUID, en.LoginUserName)
	}
	doc := l.doc(w)
	for path, want := range map[string]any{
		"process.entry_leader.entry_meta.type":      "sshd",
		"process.entry_leader.entry_meta.source.ip": "127.0.0.1",
		"bansho.login_user.id":                      "0",
		"bansho.login_user.name":                    "root",
		"process.executable":                        "/usr/bin/cp",
	} {
		if got := get(doc, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	ev := l.WaitFor("the read as nobody in the SSH session", func(ev *event.Event) bool {
		return openOf(l.file)(ev) && ev.Proc.EUID == 65534
	})
	if e := ev.Enriched; e.EntryType != "sshd" || e.LoginUserName != "root" || e.UserName != "nobody" ||
		e.EntrySourceIP.String() != "127.0.0.1" {
		t.Errorf("after setpriv: entry %q from %v, login %q, user %q", e.EntryType, e.EntrySourceIP, e.LoginUserName, e.UserName)
	}
}
