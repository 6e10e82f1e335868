package main

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
	"github.com/bansho-sec/bansho/internal/store"
)

// exporterMetrics holds every delivery loop's counters
// (bansho_exporter_*{exporter=...}), for the /metrics registry.
var exporterMetrics = &delivery.Collector{}

// exportLoops are the running delivery loops, for the health documents.
var exportLoops []*delivery.Loop

// exportHealth adds each exporter's counters to a sensor-health
// document's bansho.health.counters (exporter_NAME_*), so the SIEM sees a
// lagging or failing exporter through the other one, and the store keeps
// the history.
func exportHealth(counters map[string]uint64) map[string]uint64 {
	if len(exportLoops) == 0 {
		return counters
	}
	if counters == nil {
		counters = map[string]uint64{}
	}
	for _, l := range exportLoops {
		p := "exporter_" + l.Name() + "_"
		counters[p+"lag"] = l.Lag()
		counters[p+"delivered"] = l.Delivered()
		counters[p+"failed"] = l.Failed()
		counters[p+"retried"] = l.Retried()
		counters[p+"dead_lettered"] = l.DeadLettered()
		counters[p+"skipped"] = l.Skipped()
	}
	return counters
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
// exporter. A configuration error stops start-up; a sink that is down does
// not (its loop retries). The returned function stops them.
func startExporters(c config.Outputs, db *store.Store, log *slog.Logger) (func(), error) {
	var sinks []delivery.Sink
	var opts []delivery.Options
	closeAll := func() {
		for _, s := range sinks {
			s.Close()
		}
	}
	if c.Kafka.Enabled {
		if db == nil {
			return nil, errors.New("outputs.kafka.enabled: the Kafka exporter delivers from the store: set store.enabled: true")
		}
		k := c.Kafka
		s, err := newKafkaSink(k)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
		opts = append(opts, delivery.Options{BatchRecords: k.BatchRecords, BackoffMax: k.BackoffMax, Log: log})
	}
	if c.Elasticsearch.Enabled {
		if db == nil {
			closeAll()
			return nil, errors.New("outputs.elasticsearch.enabled: the Elasticsearch exporter delivers from the store: set store.enabled: true")
		}
		e := c.Elasticsearch
		s, err := newElasticsearchSink(e, log)
		if err != nil {
			closeAll()
			return nil, err
		}
		sinks = append(sinks, s)
		opts = append(opts, delivery.Options{BatchRecords: e.BatchRecords, BackoffMax: e.BackoffMax, Log: log})
	}
	if len(sinks) == 0 {
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var loops []*delivery.Loop
	for i, s := range sinks {
		l, err := delivery.New(delivery.Store{S: db}, s, opts[i])
		if err != nil {
			cancel()
			wg.Wait()
			closeAll()
			return nil, err
		}
		loops = append(loops, l)
		exportLoops = append(exportLoops, l)
		exporterMetrics.Add(l)
		log.Info("exporter started", "exporter", l.Name(), "lag", l.Lag())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Run(ctx); err != nil {
				log.Error("exporter stopped", "exporter", l.Name(), "error", err)
			}
		}()
	}
	return func() {
		deadline := time.Now().Add(exportDrain)
		for _, l := range loops {
			for l.Lag() > 0 && l.LastError() == "" && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		}
		cancel()
		wg.Wait()
		for _, l := range loops {
			log.Info("exporter stopped", "exporter", l.Name(), "delivered", l.Delivered(), "lag", l.Lag(),
				"failed", l.Failed(), "dead_lettered", l.DeadLettered())
		}
		closeAll()
	}, nil
}
