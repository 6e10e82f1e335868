package enrich

import "testing"

const (
	cid  = "3f4b2a9c1d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
	cid2 = "9d2ab1f0c3e4d5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0"
	pod  = "8a4c2f1e-6b3d-4e5f-9a8b-7c6d5e4f3a2b"
	podU = "8a4c2f1e_6b3d_4e5f_9a8b_7c6d5e4f3a2b"
)

// Real cgroup paths of each runtime and driver (shapes from running
// systems; ids replaced).
func TestParseCgroupPath(t *testing.T) {
	cases := []struct {
		path string
		want CgroupInfo
		ok   bool
	}{
		{"/docker/" + cid, CgroupInfo{cid, "docker", ""}, true},
		{"/system.slice/docker-" + cid + ".scope", CgroupInfo{cid, "docker", ""}, true},
		{"/system.slice/containerd.service", CgroupInfo{}, false},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podU + ".slice/cri-containerd-" + cid + ".scope",
			CgroupInfo{cid, "containerd", pod}, true},
		{"/kubepods.slice/kubepods-pod" + podU + ".slice/cri-containerd-" + cid + ".scope", CgroupInfo{cid, "containerd", pod}, true},
		{"/kubepods/besteffort/pod" + pod + "/" + cid, CgroupInfo{cid, "containerd", pod}, true},
		{"/kubepods/pod" + pod + "/" + cid, CgroupInfo{cid, "containerd", pod}, true},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podU + ".slice/crio-" + cid + ".scope",
			CgroupInfo{cid, "cri-o", pod}, true},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podU + ".slice/crio-conmon-" + cid + ".scope",
			CgroupInfo{"", "", pod}, true},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podU + ".slice", CgroupInfo{"", "", pod}, true},
		{"/machine.slice/libpod-" + cid + ".scope", CgroupInfo{cid, "podman", ""}, true},
		{"/machine.slice/libpod-" + cid + ".scope/container", CgroupInfo{cid, "podman", ""}, true},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid + ".scope", CgroupInfo{cid, "podman", ""}, true},
		{"/machine.slice/libpod-conmon-" + cid + ".scope", CgroupInfo{}, false},
		{"/libpod_parent/libpod-" + cid, CgroupInfo{cid, "podman", ""}, true},
		{"/system.slice/docker-" + cid + ".scope/init.scope", CgroupInfo{cid, "docker", ""}, true},
		{"/user.slice/user-1000.slice/session-3.scope", CgroupInfo{}, false},
		{"/", CgroupInfo{}, false},
		{"/system.slice/docker-nothex.scope", CgroupInfo{}, false},
		{"/docker/" + cid[:12], CgroupInfo{}, false},
		{"/system.slice/podcast.service", CgroupInfo{}, false},
	}
	for _, c := range cases {
		got, ok := ParseCgroupPath(c.path)
		if ok != c.ok || got != c.want {
			t.Errorf("%s:\n got %+v %v\nwant %+v %v", c.path, got, ok, c.want, c.ok)
		}
	}
}

// Whole /proc/PID/cgroup files: v1, v2 and hybrid; broken lines counted.
func TestParseCgroupFile(t *testing.T) {
	v1 := "12:pids:/docker/" + cid + "\n11:memory:/docker/" + cid + "\n1:name=systemd:/docker/" + cid + "\n"
	if got, ok, bad := ParseCgroupFile([]byte(v1)); !ok || got.ContainerID != cid || got.Runtime != "docker" || bad != 0 {
		t.Errorf("v1: %+v %v %d", got, ok, bad)
	}
	v2 := "0::/system.slice/docker-" + cid2 + ".scope\n"
	if got, ok, _ := ParseCgroupFile([]byte(v2)); !ok || got.ContainerID != cid2 {
		t.Errorf("v2: %+v %v", got, ok)
	}
	hybrid := "5:cpuset:/\n1:name=systemd:/user.slice/user-0.slice/session-1.scope\n0::/user.slice/user-0.slice/session-1.scope\n"
	if got, ok, _ := ParseCgroupFile([]byte(hybrid)); ok {
		t.Errorf("host process: %+v", got)
	}
	broken := "garbage\n3:cpu\n0::/kubepods/besteffort/pod" + pod + "/" + cid + "\n"
	if got, ok, bad := ParseCgroupFile([]byte(broken)); !ok || got.PodUID != pod || bad != 2 {
		t.Errorf("broken: %+v %v %d", got, ok, bad)
	}
}
