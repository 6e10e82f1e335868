package enrich

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/testutil"
)

func TestParseMountinfo(t *testing.T) {
	sys := t.TempDir()
	// A USB stick (sdb1 under a usb bus path, removable=0 as many say) and
	// an SD card reader with removable=1.
	for _, d := range []struct{ dev, path, removable string }{
		{"8:17", "devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1", "0"},
		{"8:1", "devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1", "0"},
		{"179:1", "devices/platform/mmc0/block/mmcblk0/mmcblk0p1", "1"},
	} {
		real := filepath.Join(sys, d.path)
		os.MkdirAll(real, 0o755)
		os.WriteFile(filepath.Join(filepath.Dir(real), "removable"), []byte(d.removable+"\n"), 0o644)
		os.MkdirAll(filepath.Join(sys, "dev/block"), 0o755)
		os.Symlink(real, filepath.Join(sys, "dev/block", d.dev))
	}
	info := "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n" +
		"60 22 8:17 / /media/usb\\040stick rw,nosuid shared:30 - vfat /dev/sdb1 rw,fmask=0022\n" +
		"61 22 179:1 / /mnt/sd rw - exfat /dev/mmcblk0p1 rw\n" +
		"70 22 0:53 / /mnt/share rw,relatime shared:40 - nfs4 fs01:/export/hr rw,vers=4.2\n" +
		"71 22 0:54 / /mnt/cifs rw - cifs //fs02/hr rw,vers=3.1.1\n" +
		"72 22 0:23 / /tmp rw shared:5 - tmpfs tmpfs rw\n" +
		"73 22 8:1 /srv /srv2 rw shared:1 - ext4 /dev/sda1 rw\n" +
		"garbage line\n" +
		"74 22 x:y / /bad rw - ext4 /dev/x rw\n"
	tab, bad := parseMountinfo([]byte(info), sys)
	if bad != 2 {
		t.Errorf("bad lines %d", bad)
	}
	check := func(dev uint64, fstype, mp string, removable, network bool) {
		t.Helper()
		m := tab[dev]
		if m == nil || m.FSType != fstype || m.MountPoint != mp || m.Removable != removable || m.Network != network {
			t.Errorf("dev %d:%d: %+v", dev>>20, dev&0xfffff, m)
		}
	}
	check(8<<20|1, "ext4", "/", false, false)
	check(8<<20|17, "vfat", "/media/usb stick", true, false)
	check(179<<20|1, "exfat", "/mnt/sd", true, false)
	check(53, "nfs4", "/mnt/share", false, true)
	check(54, "cifs", "/mnt/cifs", false, true)
	check(23, "tmpfs", "/tmp", false, false)
}

// A tmpfs the test mounts is found by the device of a file in it, after
// the kernel flags the mount table as changed.
func TestMountsFollowChanges(t *testing.T) {
	testutil.RequireBPF(t) // root: mount
	m, err := NewMounts("/proc/self/mountinfo", "/sys")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer close(done)
	if err := m.Watch(done); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "bansho-test", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	os.WriteFile(dir+"/f", []byte("x"), 0o600)
	var st syscall.Stat_t
	if err := syscall.Stat(dir+"/f", &st); err != nil {
		t.Fatal(err)
	}
	dev := uint64(st.Dev>>8&0xfff)<<20 | uint64(st.Dev&0xff|st.Dev>>12&0xfff00)
	deadline := time.Now().Add(3 * time.Second)
	for m.Of(dev) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	mt := m.Of(dev)
	if mt == nil || mt.FSType != "tmpfs" || mt.MountPoint != dir || mt.Removable || mt.Network {
		t.Fatalf("mount of %s: %+v (reloads %d, errors %d, dev %d:%d)", dir, mt, m.Reloads.Load(), m.Errors.Load(), dev>>20, dev&0xfffff)
	}
	var root syscall.Stat_t
	syscall.Stat("/", &root)
	if r := m.Of(uint64(root.Dev>>8&0xfff)<<20 | uint64(root.Dev&0xff|root.Dev>>12&0xfff00)); r == nil || r.Network {
		t.Errorf("root mount: %+v", r)
	}
}
