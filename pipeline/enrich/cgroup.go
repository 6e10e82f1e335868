package enrich

import (
	"bufio"
	"bytes"
	"strings"
)

// CgroupInfo is what a cgroup path says about the container it is in.
type CgroupInfo struct {
	ContainerID string // 64 hex digits (or the runtime's id), "" on the host
	Runtime     string // docker, containerd, cri-o, podman
	PodUID      string // Kubernetes pod uid (dashes), "" outside a pod
}

// ParseCgroupFile reads /proc/PID/cgroup (cgroup v1 lines
// "ID:controllers:/path", the v2 line "0::/path", or both on a hybrid
// system) and returns the first container found. The v2 line is tried
// first, then the v1 lines in order. ok is false when no line names a
// container; malformed lines are skipped and counted in bad.
func ParseCgroupFile(b []byte) (info CgroupInfo, ok bool, bad int) {
	var paths []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(line, ":")
		_, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || id == "" || !strings.HasPrefix(path, "/") {
			bad++
			continue
		}
		if id == "0" {
			paths = append([]string{path}, paths...)
		} else {
			paths = append(paths, path)
		}
	}
	for _, p := range paths {
		if info, ok := ParseCgroupPath(p); ok {
			return info, true, bad
		}
	}
	return CgroupInfo{}, false, bad
}

// ParseCgroupPath finds a container in one cgroup path. The layouts, by
// runtime and cgroup driver:
//
//	docker (cgroupfs)           /docker/<id>
//	docker (systemd)            /system.slice/docker-<id>.scope
//	containerd (k8s, systemd)   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
//	containerd (k8s, cgroupfs)  /kubepods/besteffort/pod<uid>/<id>
//	cri-o (systemd)             /kubepods.slice/.../crio-<id>.scope (and crio-conmon-<id>.scope for its monitor)
//	podman (systemd)            /machine.slice/libpod-<id>.scope, /user.slice/.../libpod-<id>.scope
//	podman (cgroupfs)           /libpod_parent/libpod-<id>
//	docker-in-kubernetes        /kubepods/burstable/pod<uid>/<id> (runtime from the pod path: containerd)
//
// A pod's own slice without a container (the pause sandbox's parent) gives
// the pod uid only.
func ParseCgroupPath(p string) (CgroupInfo, bool) {
	var info CgroupInfo
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		if uid, ok := podUID(s); ok {
			info.PodUID = uid
			continue
		}
		id, rt := containerSeg(s)
		if id == "" && i > 0 && isHexID(s) {
			// cgroupfs layouts: the bare id under /docker, /kubepods/...
			switch prev := segs[i-1]; {
			case prev == "docker":
				id, rt = s, "docker"
			case info.PodUID != "":
				id, rt = s, "containerd"
			case prev == "libpod_parent" || strings.HasPrefix(prev, "libpod"):
				id, rt = s, "podman"
			}
		}
		if id != "" {
			info.ContainerID, info.Runtime = id, rt
		}
	}
	if info.ContainerID == "" && info.PodUID == "" {
		return CgroupInfo{}, false
	}
	return info, true
}

// containerSeg recognises the systemd scope names of the runtimes.
func containerSeg(s string) (id, runtime string) {
	name := strings.TrimSuffix(s, ".scope")
	scope := name != s
	for _, r := range []struct{ prefix, runtime string }{
		{"docker-", "docker"},
		{"cri-containerd-", "containerd"},
		{"crio-conmon-", ""}, // cri-o's monitor process, not the container
		{"crio-", "cri-o"},
		{"libpod-conmon-", ""},
		{"libpod-", "podman"},
	} {
		if rest, ok := strings.CutPrefix(name, r.prefix); ok {
			if r.runtime == "" || !isHexID(rest) {
				return "", ""
			}
			if !scope && r.runtime != "podman" {
				return "", ""
			}
			return rest, r.runtime
		}
	}
	return "", ""
}

// podUID recognises "pod<uid>" (cgroupfs, dashes) and
// "kubepods-<qos>-pod<uid>.slice" / "kubepods-pod<uid>.slice" (systemd,
// underscores for dashes).
func podUID(s string) (string, bool) {
	name := strings.TrimSuffix(s, ".slice")
	i := strings.LastIndex(name, "pod")
	if i < 0 {
		return "", false
	}
	if i > 0 && !strings.HasPrefix(name, "kubepods") {
		return "", false
	}
	uid := strings.ReplaceAll(name[i+3:], "_", "-")
	if len(uid) != 36 || strings.Count(uid, "-") != 4 {
		return "", false
	}
	for _, c := range uid {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-') {
			return "", false
		}
	}
	return uid, true
}

// isHexID: a container id is 64 lowercase hex digits.
func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
