package ecs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/bansho-sec/bansho/internal/event"
)

// Host is what every document says about the machine (host.*).
type Host struct {
	Name       string // host.name: the hostname
	Hostname   string // host.hostname; Name when empty
	ID         string // host.id: /etc/machine-id
	BootID     string // host.boot.id: /proc/sys/kernel/random/boot_id
	IPs        []string
	OSType     string // linux
	OSKernel   string // uname -r
	OSName     string // os-release NAME
	OSFull     string // os-release PRETTY_NAME
	OSVersion  string // os-release VERSION_ID
	OSFamily   string // debian, redhat, suse, ... (from ID_LIKE and ID)
	OSPlatform string // os-release ID: debian, ubuntu, rhel, ...
	Arch       string // uname -m
	PidNSIno   uint64 // inode of the host's pid namespace (pid 1's)
}

// Paths LocalHost reads; variables so tests can point them elsewhere.
var (
	machineIDPaths = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}
	bootIDPath     = "/proc/sys/kernel/random/boot_id"
	osReleasePaths = []string{"/etc/os-release", "/usr/lib/os-release"}
	pidNSPaths     = []string{"/proc/1/ns/pid", "/proc/self/ns/pid"}
)

// LocalHost reads the facts of this machine. What cannot be read is left
// empty and named in the returned error; the rest is still returned, so
// the sensor can start with incomplete host facts.
func LocalHost() (Host, error) {
	var h Host
	var errs []error
	var err error
	if h.Name, err = os.Hostname(); err != nil {
		errs = append(errs, fmt.Errorf("hostname: %w", err))
	}
	h.Hostname = h.Name
	if h.ID, err = readFirst(machineIDPaths); err != nil {
		errs = append(errs, fmt.Errorf("machine id: %w", err))
	}
	if h.BootID, err = readFirst([]string{bootIDPath}); err != nil {
		errs = append(errs, fmt.Errorf("boot id: %w", err))
	}
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
	if osr, err := readOSRelease(osReleasePaths); err != nil {
		errs = append(errs, err)
	} else {
		h.OSName = osr["NAME"]
		h.OSFull = osr["PRETTY_NAME"]
		h.OSVersion = osr["VERSION_ID"]
		h.OSPlatform = osr["ID"]
		h.OSFamily = osFamily(osr["ID"], osr["ID_LIKE"])
	}
	// The host's pid namespace is pid 1's; where pid 1 cannot be inspected,
	// the sensor's own (it runs in the host pid namespace: hostPID).
	var nsErrs []error
	for _, p := range pidNSPaths {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			nsErrs = append(nsErrs, &os.PathError{Op: "stat", Path: p, Err: err})
			continue
		}
		h.PidNSIno = st.Ino
		break
	}
	if h.PidNSIno == 0 {
		errs = append(errs, fmt.Errorf("pid namespace: %w", errors.Join(nsErrs...)))
	}
	if addrs, err := net.InterfaceAddrs(); err != nil {
		errs = append(errs, fmt.Errorf("interface addresses: %w", err))
	} else {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				h.IPs = append(h.IPs, ipn.IP.String())
			}
		}
	}
	return h, errors.Join(errs...)
}

// readFirst returns the trimmed content of the first of paths that reads
// and is not empty; the error names every path tried.
func readFirst(paths []string) (string, error) {
	var errs []error
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
		errs = append(errs, fmt.Errorf("%s: empty", p))
	}
	return "", errors.Join(errs...)
}

func readOSRelease(paths []string) (map[string]string, error) {
	var errs []error
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		defer f.Close()
		m, err := parseOSRelease(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("os-release: %w", errors.Join(errs...))
}

// parseOSRelease reads KEY=value lines; values may be quoted.
func parseOSRelease(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	return out, sc.Err()
}

// osFamily maps os-release ID and ID_LIKE to the family names Elastic
// uses (host.os.family: debian, redhat, suse, ...).
func osFamily(id, idLike string) string {
	for _, x := range append([]string{id}, strings.Fields(idLike)...) {
		switch x {
		case "debian", "ubuntu":
			return "debian"
		case "rhel", "centos", "fedora", "rocky", "almalinux", "ol", "amzn":
			return "redhat"
		case "suse", "sles", "opensuse", "opensuse-leap", "opensuse-tumbleweed":
			return "suse"
		case "arch":
			return "arch"
		case "alpine":
			return "alpine"
		}
	}
	return id
}

// container writes container.* and orchestrator.* of a process that runs
// in a container (and a Kubernetes pod).
func (e *Encoder) container(o *obj, en *event.Enrichment) {
	if en == nil || en.Container == nil {
		return
	}
	c := en.Container
	o.section("container")
	o.str("id", c.ID)
	o.strNE("runtime", c.Runtime)
	o.userNE("name", c.Name)
	if c.ImageName != "" || c.ImageTag != "" {
		o.section("image")
		o.userNE("name", c.ImageName)
		if c.ImageTag != "" {
			o.key("tag") // an array in ECS
			o.b = append(o.b, '[')
			o.b = appendString(o.b, c.ImageTag)
			o.b = append(o.b, ']')
		}
		o.close()
	}
	o.close()
	p := en.Pod
	if p == nil {
		return
	}
	o.section("orchestrator")
	o.str("type", "kubernetes")
	o.userNE("namespace", p.Namespace)
	o.section("resource")
	o.str("type", "pod")
	o.userNE("name", p.Name)
	o.strNE("id", p.UID)
	if len(p.Labels) > 0 {
		o.key("label") // "key:value", as ECS's examples
		o.b = append(o.b, '[')
		for i, k := range sortedKeys(p.Labels) {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			v, changed := Redact(k + ":" + p.Labels[k])
			o.redacted = o.redacted || changed
			o.b = appendString(o.b, v)
		}
		o.b = append(o.b, ']')
	}
	o.close()
	if p.Cluster != "" {
		o.section("cluster")
		o.user("name", p.Cluster)
		o.close()
	}
	o.close()
}

// SetHostIPs replaces host.ip in every later document (the enrichment
// stage calls it when netlink reports that the addresses changed). Safe to
// call while documents are being encoded.
func (e *Encoder) SetHostIPs(ips []string) {
	e.once.Do(e.init)
	h := e.Host
	h.IPs = append([]string(nil), ips...)
	n := &Encoder{Host: h, Version: e.Version, runKey: e.runKey, keySet: true}
	n.init()
	e.restatic.Store(&n.static)
}
