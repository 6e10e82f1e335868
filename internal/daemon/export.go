package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/bansho-sec/bansho/exporters/delivery"
	"github.com/bansho-sec/bansho/exporters/elasticsearch"
	"github.com/bansho-sec/bansho/exporters/kafka"
	"github.com/bansho-sec/bansho/internal/config"
)

// exportSet is the running delivery loops, one per exporter.
type exportSet struct {
	metrics delivery.Collector // bansho_exporter_*{exporter=...}
	loops   []*delivery.Loop
	sinks   []delivery.Sink
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// health adds each exporter's counters to a sensor-health document's
// bansho.health.counters (exporter_NAME_*), so the SIEM sees a lagging or
// failing exporter through the other one, and the store keeps the history.
func (x *exportSet) health(counters map[string]uint64) {
	for _, l := range x.loops {
		p := "exporter_" + l.Name() + "_"
		counters[p+"lag"] = l.Lag()
		counters[p+"delivered"] = l.Delivered()
		counters[p+"failed"] = l.Failed()
		counters[p+"retried"] = l.Retried()
		counters[p+"dead_lettered"] = l.DeadLettered()
		counters[p+"skipped"] = l.Skipped()
	}
}

// exportDrain is how long stopping waits for the exporters to catch up;
// whatever is left is delivered at the next start, from the cursor.
const exportDrain = 5 * time.Second

// checkExporters builds the enabled exporters without starting them or
// contacting a sink, so a configuration check reports what start-up would
// refuse: unreadable certificate files, bad topic or index names.
func checkExporters(c config.Outputs) error {
	if c.Kafka.Enabled {
		s, err := newKafkaSink(c.Kafka)
		if err != nil {
			return err
		}
		s.Close()
	}
	if c.Elasticsearch.Enabled {
		s, err := newElasticsearchSink(c.Elasticsearch, nil)
		if err != nil {
			return err
		}
		s.Close()
	}
	return nil
}

func newKafkaSink(k config.KafkaOutput) (*kafka.Sink, error) {
	host, _ := os.Hostname()
	return kafka.New(kafka.Options{
		Brokers: k.Brokers, Topics: kafka.Topics{Events: k.Topics.Events, Alerts: k.Topics.Alerts, Health: k.Topics.Health},
		Compression: k.Compression, BatchSize: k.BatchSize, BatchBytes: k.BatchBytes, BatchTimeout: k.BatchTimeout,
		WriteTimeout: k.WriteTimeout, AllowAutoTopicCreation: k.AllowAutoTopicCreation, ClientID: k.ClientID,
		TLS: kafka.TLS{Enabled: k.TLS.Enabled, CAFile: k.TLS.CAFile, CertFile: k.TLS.CertFile, KeyFile: k.TLS.KeyFile,
			ServerName: k.TLS.ServerName, InsecureSkipVerify: k.TLS.InsecureSkipVerify},
		SASL: kafka.SASL{Mechanism: k.SASL.Mechanism, Username: k.SASL.Username, Password: k.SASL.Password},
		Key:  host,
	})
}

func newElasticsearchSink(e config.ElasticsearchOutput, log *slog.Logger) (*elasticsearch.Sink, error) {
	return elasticsearch.New(elasticsearch.Options{
		Addresses: e.Addresses, Mode: e.Mode,
		Indices:    elasticsearch.Indices{Events: e.Indices.Events, Alerts: e.Indices.Alerts, Health: e.Indices.Health},
		DocumentID: e.DocumentID, Username: e.Username, Password: e.Password, APIKey: e.APIKey, CAFile: e.CAFile,
		Headers: e.Headers, Workers: e.Workers, FlushBytes: e.FlushBytes, MaxDocumentBytes: e.MaxDocumentBytes,
		Compress: e.Compress, RequestTimeout: e.RequestTimeout,
		Template: elasticsearch.TemplateOptions{Install: e.Template.Install, Name: e.Template.Name},
		Log:      log,
	})
}

// startExporters starts a delivery loop from the store for each enabled
// exporter (Check has vetted their settings). An exporter that cannot
// start (no store, a sink that cannot be built, a cursor that cannot be
// read) is left out and reported; a sink that is down is not a failure:
// its loop retries.
func (d *daemon) startExporters() {
	c := d.cfg.Outputs
	ctx, cancel := context.WithCancel(context.Background())
	d.exp.cancel = cancel
	start := func(p part, newSink func() (delivery.Sink, error), opt delivery.Options) {
		d.up.try(p, func() error {
			if d.db == nil {
				return errors.New("no store to deliver from (the store did not open)")
			}
			s, err := newSink()
			if err != nil {
				return err
			}
			l, err := delivery.New(delivery.Store{S: d.db}, s, opt)
			if err != nil {
				s.Close()
				return err
			}
			d.exp.sinks = append(d.exp.sinks, s)
			d.exp.loops = append(d.exp.loops, l)
			d.exp.metrics.Add(l)
			d.log.Info("exporter started", "exporter", l.Name(), "lag", l.Lag())
			d.exp.wg.Add(1)
			go func() {
				defer d.exp.wg.Done()
				if err := l.Run(ctx); err != nil {
					d.log.Error("exporter stopped", "exporter", l.Name(), "error", err)
				}
			}()
			return nil
		})
	}
	if k := c.Kafka; k.Enabled {
		start(partKafka, func() (delivery.Sink, error) { return newKafkaSink(k) },
			delivery.Options{BatchRecords: k.BatchRecords, BackoffMax: k.BackoffMax, Log: d.log})
	}
	if e := c.Elasticsearch; e.Enabled {
		start(partES, func() (delivery.Sink, error) { return newElasticsearchSink(e, d.log) },
			delivery.Options{BatchRecords: e.BatchRecords, BackoffMax: e.BackoffMax, Log: d.log})
	}
}

// stop lets the exporters catch up for a moment (what is left is
// delivered at the next start, from the cursors), then stops them.
func (x *exportSet) stop(log *slog.Logger) {
	deadline := time.Now().Add(exportDrain)
	for _, l := range x.loops {
		for l.Lag() > 0 && l.LastError() == "" && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if x.cancel != nil {
		x.cancel()
	}
	x.wg.Wait()
	for _, l := range x.loops {
		log.Info("exporter stopped", "exporter", l.Name(), "delivered", l.Delivered(), "lag", l.Lag(),
			"failed", l.Failed(), "dead_lettered", l.DeadLettered())
	}
	for _, s := range x.sinks {
		s.Close()
	}
}
