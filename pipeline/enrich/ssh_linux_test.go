package enrich

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// A real OpenSSH login. The test runs sshd on a loopback port with its own
// host key and one authorized key; PAM (pam_loginuid) sets the login uid as
// on any server. In the session a cp of the protected file, then a read of
// it as nobody: both carry the SSH client's address, sshd as the entry, and
// the person who logged in.
func TestRealSSHSession(t *testing.T) {
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Fatalf("%s: %v (test/setup.sh installs openssh-server)", sshd, err)
	}
	l := startLive(t)
	d := t.TempDir()
	for _, k := range []string{"host", "client"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(d, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(d, "client.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cfg := filepath.Join(d, "sshd_config")
	conf := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s/host
AuthorizedKeysFile %s/authorized_keys
PidFile %s/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM yes
PrintMotd no
`, port, d, d, d)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation
		t.Fatal(err)
	}
	srv := exec.Command(sshd, "-D", "-e", "-f", cfg)
	var srvLog strings.Builder
	srv.Stderr = &srvLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not listen on %s: %v\n%s", port, err, srvLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	dst := filepath.Join(t.TempDir(), "copy.csv")
	remote := fmt.Sprintf("cp %s %s && setpriv --reuid=65534 cat %s >/dev/null", l.file, dst, l.file)
	ssh := exec.Command("ssh", "-p", port, "-i", filepath.Join(d, "client"), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "root@127.0.0.1", remote)
	if out, err := ssh.CombinedOutput(); err != nil {
		t.Fatalf("ssh: %v: %s\nsshd:\n%s", err, out, srvLog.String())
	}

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
