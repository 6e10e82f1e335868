// Package metrics serves bansho's Prometheus registry and its health
// endpoints on one local address: /metrics, /healthz (the loops are
// turning) and /readyz (probes attached, outputs open, first health tick
// done). Components plug in by registering a prometheus.Collector; the
// collectors of the sensor, the pipeline and the outputs are in this
// package, those of the rules, the store and the exporters come with them.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the registry and, once started, the HTTP endpoint.
type Server struct {
	Health *Health

	reg *prometheus.Registry
	srv *http.Server
	ln  net.Listener
}

// New returns a server with a fresh registry holding the Go runtime and
// process collectors (go_*, process_*) and the health gauges.
func New(h *Health) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		healthCollector{h},
	)
	return &Server{Health: h, reg: reg}
}

// Register adds a component's collector. Names must be
// bansho_<area>_<what>[_total]; a duplicate is an error.
func (s *Server) Register(c prometheus.Collector) error {
	if err := s.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register: %w", err)
	}
	return nil
}

// Registry is the underlying registry, for components that take one.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler serves /metrics, /healthz and /readyz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, // one failing collector must not hide the rest
		Timeout:       5 * time.Second,
	}))
	mux.HandleFunc("/healthz", s.Health.serveHealthz)
	mux.HandleFunc("/readyz", s.Health.serveReadyz)
	return mux
}

// Start listens on addr (metrics.listen) and serves in the background.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics.listen %s: %w", addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      10 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Health.log().Error("metrics server stopped", "error", err)
		}
	}()
	return nil
}

// Addr is the address actually listened on (useful with port 0).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops serving; in-flight scrapes get until ctx is done.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

// KernelFeatures is bansho_kernel_feature{feature} 1 or 0 for each
// kernel-side feature (what this kernel gives), and
// bansho_kernel_object{object} 1 for the object loaded: an alert on a
// feature at 0 finds the hosts whose kernels report less.
func KernelFeatures(object string, enabled map[string]bool) prometheus.Collector {
	obj := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bansho_kernel_object",
		Help:        "Always 1; the label names the kernel object loaded (default, or portable for kernels before 6.2).",
		ConstLabels: prometheus.Labels{"object": object}})
	obj.Set(1)
	feat := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bansho_kernel_feature",
		Help: "1 when this kernel gives the kernel-side feature, 0 when it is off (the sensor-started document says why)."},
		[]string{"feature"})
	for name, on := range enabled {
		v := 0.0
		if on {
			v = 1
		}
		feat.WithLabelValues(name).Set(v)
	}
	return multiCollector{obj, feat}
}

// multiCollector registers several collectors as one.
type multiCollector []prometheus.Collector

func (cs multiCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

func (cs multiCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}

// BuildInfo is bansho_build_info{version, goversion} 1, the usual way to
// see which version runs where.
func BuildInfo(version string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bansho_build_info",
		Help:        "Always 1; the labels name the running version.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	g.Set(1)
	return g
}
