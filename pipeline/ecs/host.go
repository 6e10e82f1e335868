package ecs

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Host is what every document says about the machine.
type Host struct {
	Name       string // hostname
	ID         string // /etc/machine-id
	BootID     string // /proc/sys/kernel/random/boot_id
	IPs        []string
	OSType     string // linux
	OSKernel   string // uname -r
	OSName     string // os-release NAME
	OSVersion  string // os-release VERSION_ID
	OSFamily   string // os-release ID_LIKE or ID (debian, rhel, ...)
	OSPlatform string // os-release ID
	Arch       string // uname -m
	PidNSIno   uint64 // inode of the initial pid namespace (pid 1's)
}

// LocalHost reads the facts of this machine. What cannot be read is left
// empty and named in the returned error; the sensor still starts.
func LocalHost() (Host, error) {
	var h Host
	var errs []error
	var err error
	if h.Name, err = os.Hostname(); err != nil {
		errs = append(errs, fmt.Errorf("hostname: %w", err))
	}
	h.ID = readTrim("/etc/machine-id", &errs)
	h.BootID = readTrim("/proc/sys/kernel/random/boot_id", &errs)
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		errs = append(errs, fmt.Errorf("uname: %w", err))
	} else {
		h.OSKernel = unix.ByteSliceToString(u.Release[:])
		h.Arch = unix.ByteSliceToString(u.Machine[:])
	}
	if h.Arch == "" {
		h.Arch = runtime.GOARCH
	}
	h.OSType = "linux"
	if osr, err := readOSRelease("/etc/os-release"); err != nil {
		errs = append(errs, err)
	} else {
		h.OSName = osr["NAME"]
		h.OSVersion = osr["VERSION_ID"]
		h.OSPlatform = osr["ID"]
		h.OSFamily = osr["ID"]
		if like := strings.Fields(osr["ID_LIKE"]); len(like) > 0 {
			h.OSFamily = like[0]
		}
	}
	// The host's pid namespace is pid 1's; where pid 1 cannot be inspected,
	// the sensor's own (it runs in the host pid namespace: hostPID).
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/1/ns/pid", &st); err == nil {
		h.PidNSIno = st.Ino
	} else if err2 := syscall.Stat("/proc/self/ns/pid", &st); err2 == nil {
		h.PidNSIno = st.Ino
	} else {
		errs = append(errs, fmt.Errorf("pid namespace: %w", err))
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				h.IPs = append(h.IPs, ipn.IP.String())
			}
		}
	}
	return h, errors.Join(errs...)
}

func readTrim(path string, errs *[]error) string {
	b, err := os.ReadFile(path)
	if err != nil {
		*errs = append(*errs, err)
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readOSRelease(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		out[k] = strings.Trim(v, `"'`)
	}
	return out, sc.Err()
}
