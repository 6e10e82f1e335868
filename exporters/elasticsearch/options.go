package elasticsearch

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Options configure the exporter (configuration section
// outputs.elasticsearch; the keys are named in errors).
type Options struct {
	Addresses []string // base URLs, e.g. https://es1:9200
	// Mode is data_stream (names are data streams, op_type create) or
	// index (names get "-YYYY.MM.DD" of the document's @timestamp).
	Mode    string
	Indices Indices
	// DocumentID: event_id (the document's event.id, so a document sent
	// twice after a failure is stored once: the second create answers 409)
	// or none (Elasticsearch picks ids).
	DocumentID       string
	Username         string
	Password         string
	APIKey           string   // base64 "id:key", as Elasticsearch returns it
	CAFile           string   // PEM bundle for https; empty: the system roots
	Headers          []string // extra request headers, "Name: value"
	Workers          int      // concurrent bulk requests per batch
	FlushBytes       int      // bytes per bulk request
	MaxDocumentBytes int      // larger documents are dead-lettered
	Compress         bool     // gzip request bodies
	RequestTimeout   time.Duration
	Template         TemplateOptions
	Log              *slog.Logger
}

// Indices name the data stream (or index prefix) of each kind of document.
type Indices struct {
	Events string
	Alerts string
	Health string // metric and state documents
}

// TemplateOptions control the index template.
type TemplateOptions struct {
	Install bool
	Name    string
}

func keyErr(key, format string, args ...any) error {
	return fmt.Errorf("outputs.elasticsearch.%s: %s", key, fmt.Sprintf(format, args...))
}

// DefaultOptions are the exporter's defaults, the one place they are
// written: zero fields of Options get them, and the configuration's
// defaults (outputs.elasticsearch.*) are read from here.
func DefaultOptions() Options {
	return Options{
		Mode:       "data_stream",
		Indices:    Indices{Events: "logs-bansho.events-default", Alerts: "logs-bansho.alerts-default", Health: "logs-bansho.health-default"},
		DocumentID: "event_id",
		// Four requests of 2 MiB in flight, so a batch of 4096 documents
		// (about 5.6 MB) goes out at once rather than in rounds; the
		// requests wait on the server, not on the host's CPU.
		Workers:          4,
		FlushBytes:       2 << 20,
		MaxDocumentBytes: 1 << 20,
		RequestTimeout:   30 * time.Second,
		Template:         TemplateOptions{Install: true, Name: "bansho"},
	}
}

// defaults fill zero fields.
func (o *Options) defaults() {
	d := DefaultOptions()
	if o.Mode == "" {
		o.Mode = d.Mode
	}
	if o.Indices.Events == "" {
		o.Indices.Events = d.Indices.Events
	}
	if o.Indices.Alerts == "" {
		o.Indices.Alerts = d.Indices.Alerts
	}
	if o.Indices.Health == "" {
		o.Indices.Health = d.Indices.Health
	}
	if o.DocumentID == "" {
		o.DocumentID = d.DocumentID
	}
	if o.Workers <= 0 {
		o.Workers = d.Workers
	}
	if o.FlushBytes <= 0 {
		o.FlushBytes = d.FlushBytes
	}
	if o.MaxDocumentBytes <= 0 {
		o.MaxDocumentBytes = d.MaxDocumentBytes
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.Template.Name == "" {
		o.Template.Name = d.Template.Name
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// validIndex applies Elasticsearch's index name rules.
func validIndex(n string) error {
	switch {
	case n == "":
		return errors.New("empty")
	case strings.ToLower(n) != n:
		return errors.New("must be lower case")
	case strings.ContainsAny(n, `\/*?"<>| ,#:`):
		return errors.New(`must not contain \ / * ? " < > | space , # :`)
	case strings.HasPrefix(n, "-") || strings.HasPrefix(n, "_") || strings.HasPrefix(n, "+"):
		return errors.New("must not start with -, _ or +")
	case len(n) > 200:
		return errors.New("longer than 200 bytes")
	}
	return nil
}
