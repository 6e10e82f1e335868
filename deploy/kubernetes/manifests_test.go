// Package kubernetes holds no code: its test checks that the manifests and
// the configuration they ship agree with each other and with bansho's
// configuration keys. test/deploy-check.sh validates them against the
// Kubernetes schemas.
package kubernetes

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bansho-sec/bansho/deploy/internal/shipped"
	"github.com/bansho-sec/bansho/internal/config"
)

type volume struct {
	Name     string `yaml:"name"`
	HostPath *struct {
		Path string `yaml:"path"`
	} `yaml:"hostPath"`
}

type container struct {
	Name string `yaml:"name"`
	Env  []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type daemonSet struct {
	Spec struct {
		Template struct {
			Spec struct {
				HostPID    bool        `yaml:"hostPID"`
				Containers []container `yaml:"containers"`
				Volumes    []volume    `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readDaemonSet(t *testing.T, path string) daemonSet {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ds daemonSet
	if err := yaml.Unmarshal(data, &ds); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(ds.Spec.Template.Spec.Containers) == 0 {
		t.Fatalf("%s: no containers", path)
	}
	return ds
}

// merged is the base DaemonSet with an overlay's strategic-merge patch of
// the first container's mounts and the volumes (what the example adds).
func merged(t *testing.T, patches ...string) daemonSet {
	ds := readDaemonSet(t, "base/daemonset.yaml")
	for _, p := range patches {
		o := readDaemonSet(t, p)
		c := &ds.Spec.Template.Spec.Containers[0]
		c.VolumeMounts = append(c.VolumeMounts, o.Spec.Template.Spec.Containers[0].VolumeMounts...)
		ds.Spec.Template.Spec.Volumes = append(ds.Spec.Template.Spec.Volumes, o.Spec.Template.Spec.Volumes...)
	}
	return ds
}

func TestShippedConfigurationsLoadAndTheirPathsAreMounted(t *testing.T) {
	for _, tc := range []struct {
		config  string
		patches []string
	}{
		{"base/config/bansho.yaml", nil},
		{"overlays/example/bansho.yaml", []string{"overlays/example/protected-paths.yaml"}},
	} {
		t.Run(tc.config, func(t *testing.T) {
			paths := shipped.Load(t, tc.config)
			ds := merged(t, tc.patches...)
			c := ds.Spec.Template.Spec.Containers[0]
			for _, p := range paths {
				var vol string
				for _, m := range c.VolumeMounts {
					if m.MountPath == p {
						vol = m.Name
						if !m.ReadOnly {
							t.Errorf("protected directory %s is mounted read-write; the sensor only reads it", p)
						}
					}
				}
				if vol == "" {
					t.Errorf("protect.paths has %s but the DaemonSet mounts nothing there", p)
					continue
				}
				for _, v := range ds.Spec.Template.Spec.Volumes {
					if v.Name == vol && (v.HostPath == nil || v.HostPath.Path != p) {
						t.Errorf("%s is mounted from volume %s, not the node's %s", p, vol, p)
					}
				}
			}
		})
	}
}

// keysAddedElsewhere are configuration keys the DaemonSet sets by
// environment that a branch not yet merged adds. Viper would ignore such a
// variable; every key the DaemonSet sets is known now, so it is empty.
var keysAddedElsewhere = map[string]bool{}

func TestEnvironmentNamesConfigurationKeys(t *testing.T) {
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k] = true
	}
	c := readDaemonSet(t, "base/daemonset.yaml").Spec.Template.Spec.Containers[0]
	n := 0
	for _, e := range c.Env {
		if !strings.HasPrefix(e.Name, "BANSHO_") {
			continue
		}
		n++
		rest := strings.ToLower(strings.TrimPrefix(e.Name, "BANSHO_"))
		match := false
		for k := range known {
			if strings.ReplaceAll(k, ".", "_") == rest {
				match = true
			}
		}
		for k := range keysAddedElsewhere {
			if strings.ReplaceAll(k, ".", "_") == rest {
				match = true
			}
		}
		if !match {
			t.Errorf("DaemonSet sets %s, which names no configuration key", e.Name)
		}
	}
	if n == 0 {
		t.Fatal("no BANSHO_ variables in the DaemonSet")
	}
}

func TestProbesUseTheMetricsListener(t *testing.T) {
	ds := readDaemonSet(t, "base/daemonset.yaml")
	if !ds.Spec.Template.Spec.HostPID {
		t.Error("hostPID is off: the kernel's pids would not match /proc")
	}
	c := ds.Spec.Template.Spec.Containers[0]
	var listen string
	for _, e := range c.Env {
		if e.Name == "BANSHO_METRICS_LISTEN" {
			listen = e.Value
		}
	}
	port := 0
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			port = p.ContainerPort
		}
	}
	if port == 0 || !strings.HasSuffix(listen, ":"+strconv.Itoa(port)) {
		t.Errorf("BANSHO_METRICS_LISTEN %q does not listen on the metrics port %d", listen, port)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port != "metrics" {
		t.Errorf("liveness probe is not GET /healthz on the metrics port: %+v", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port != "metrics" {
		t.Errorf("readiness probe is not GET /readyz on the metrics port: %+v", c.ReadinessProbe)
	}
}
