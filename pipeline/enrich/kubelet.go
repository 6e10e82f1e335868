package enrich

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// KubeletConfig says where the kubelet's pod list is.
type KubeletConfig struct {
	// URL of the pod list: https://NODE:10250/pods (authenticated port) or
	// http://NODE:10255/pods (read-only port, off in most clusters).
	URL string
	// TokenFile holds a bearer token (a service account token), re-read
	// at every poll because kubelet-issued tokens rotate.
	TokenFile string
	// CAFile verifies the kubelet's certificate; InsecureSkipVerify skips
	// that (kubelets often serve self-signed certificates).
	CAFile             string
	InsecureSkipVerify bool
	PollInterval       time.Duration
	Timeout            time.Duration
	Cluster            string // orchestrator.cluster.name
}

// podList is the part of a v1.PodList the sensor reads.
type podList struct {
	Kind  string `json:"kind"`
	Items []struct {
		Metadata struct {
			Name      string            `json:"name"`
			Namespace string            `json:"namespace"`
			UID       string            `json:"uid"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
		Status struct {
			ContainerStatuses     []containerStatus `json:"containerStatuses"`
			InitContainerStatuses []containerStatus `json:"initContainerStatuses"`
		} `json:"status"`
	} `json:"items"`
}

type containerStatus struct {
	Name        string `json:"name"`
	ContainerID string `json:"containerID"` // runtime://id
	Image       string `json:"image"`
}

// pods is one poll's result: pods by uid, containers by id.
type pods struct {
	byUID       map[string]*event.Pod
	containers  map[string]*event.Container
	containerOf map[string]string // container id -> pod uid
}

// Kubelet polls the pod list and caches it; lookups never wait for it.
type Kubelet struct {
	cfg    KubeletConfig
	client *http.Client
	log    *slog.Logger
	cur    atomic.Pointer[pods]

	Polls  atomic.Uint64
	Errors atomic.Uint64 // failed polls (unreachable, refused, bad JSON)
}

// NewKubelet checks the configuration and builds the client.
func NewKubelet(cfg KubeletConfig, log *slog.Logger) (*Kubelet, error) {
	if cfg.URL == "" {
		return nil, errors.New("enrich.kubernetes.url: empty")
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("enrich.kubernetes.url: %q is not an http(s) URL", cfg.URL)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 30 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	tc := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify} // #nosec G402: an operator's explicit choice
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("enrich.kubernetes.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("enrich.kubernetes.ca_file: %s: no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Kubelet{cfg: cfg, log: log, client: &http.Client{Timeout: cfg.Timeout,
		Transport: &http.Transport{TLSClientConfig: tc, Proxy: nil}}}, nil
}

// Run polls until ctx ends. A failed poll keeps the last good list.
func (k *Kubelet) Run(ctx context.Context) {
	tick := time.NewTicker(k.cfg.PollInterval)
	defer tick.Stop()
	for {
		if err := k.Poll(ctx); err != nil && ctx.Err() == nil {
			if n := k.Errors.Load(); n <= 3 || n%100 == 0 {
				k.log.Warn("kubelet pod list", "error", err, "failures", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Poll fetches the pod list once.
func (k *Kubelet) Poll(ctx context.Context) error {
	k.Polls.Add(1)
	p, err := k.fetch(ctx)
	if err != nil {
		k.Errors.Add(1)
		return err
	}
	k.cur.Store(p)
	return nil
}

func (k *Kubelet) fetch(ctx context.Context) (*pods, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	if k.cfg.TokenFile != "" {
		tok, err := os.ReadFile(k.cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("kubelet: token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("kubelet: read %s: %w", k.cfg.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("kubelet: GET %s: %s: %s", k.cfg.URL, resp.Status, msg)
	}
	return parsePodList(body, k.cfg.Cluster)
}

// parsePodList turns a v1.PodList into the lookup maps.
func parsePodList(body []byte, cluster string) (*pods, error) {
	var pl podList
	if err := json.Unmarshal(body, &pl); err != nil {
		return nil, fmt.Errorf("kubelet: pod list: %w", err)
	}
	if pl.Kind != "" && pl.Kind != "PodList" {
		return nil, fmt.Errorf("kubelet: pod list: kind %q, want PodList", pl.Kind)
	}
	p := &pods{byUID: map[string]*event.Pod{}, containers: map[string]*event.Container{}, containerOf: map[string]string{}}
	for _, it := range pl.Items {
		m := it.Metadata
		if m.UID == "" {
			continue
		}
		p.byUID[m.UID] = &event.Pod{UID: m.UID, Name: m.Name, Namespace: m.Namespace, Node: it.Spec.NodeName,
			Cluster: cluster, Labels: m.Labels}
		for _, cs := range append(it.Status.ContainerStatuses, it.Status.InitContainerStatuses...) {
			rt, id, ok := strings.Cut(cs.ContainerID, "://")
			if !ok || id == "" {
				continue
			}
			if rt == "cri-o" || rt == "crio" {
				rt = "cri-o"
			}
			name, tag := splitImage(cs.Image)
			p.containers[id] = &event.Container{ID: id, Runtime: rt, Name: cs.Name, ImageName: name, ImageTag: tag}
			p.containerOf[id] = m.UID
		}
	}
	return p, nil
}

// splitImage cuts "registry:5000/ns/app:1.2@sha256:..." into name and tag.
func splitImage(img string) (name, tag string) {
	if i := strings.IndexByte(img, '@'); i >= 0 {
		img = img[:i]
	}
	slash := strings.LastIndexByte(img, '/')
	if i := strings.LastIndexByte(img, ':'); i > slash {
		return img[:i], img[i+1:]
	}
	return img, ""
}

// Pod returns the pod with uid, from the last good poll, or nil.
func (k *Kubelet) Pod(uid string) *event.Pod {
	if p := k.cur.Load(); p != nil {
		return p.byUID[uid]
	}
	return nil
}

// Container returns the pod's view of a container (name, image), or nil.
func (k *Kubelet) Container(id string) *event.Container {
	if p := k.cur.Load(); p != nil {
		return p.containers[id]
	}
	return nil
}
