package config

import (
	"strings"
	"testing"
	"time"
)

func TestExporterSections(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, `
protect:
  paths: [`+dir+`]
store:
  dir: `+dir+`/store
outputs:
  kafka:
    enabled: true
    brokers: [k1:9092, k2:9092]
    compression: zstd
    sasl: {mechanism: scram-sha-512, username: bansho}
    tls: {enabled: true, ca_file: /etc/ssl/kafka-ca.pem}
  elasticsearch:
    enabled: true
    addresses: [https://es1:9200]
    headers: ["VL-Time-Field: @timestamp"]
`)
	t.Setenv("BANSHO_OUTPUTS_KAFKA_SASL_PASSWORD", "from-the-environment")
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, e := c.Outputs.Kafka, c.Outputs.Elasticsearch
	if !k.Enabled || len(k.Brokers) != 2 || k.Compression != "zstd" || k.SASL.Password != "from-the-environment" || !k.TLS.Enabled {
		t.Errorf("kafka: %+v", k)
	}
	if k.Topics.Alerts != "bansho-alerts" || k.BatchTimeout != 10*time.Millisecond || k.AllowAutoTopicCreation || k.TLS.InsecureSkipVerify {
		t.Errorf("kafka defaults: %+v", k)
	}
	if !e.Enabled || e.Mode != "data_stream" || e.Indices.Events != "logs-bansho.events-default" || len(e.Headers) != 1 || !e.Template.Install {
		t.Errorf("elasticsearch: %+v", e)
	}
	// Off by default.
	t.Setenv("BANSHO_PROTECT_PATHS", dir)
	d, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Outputs.Kafka.Enabled || d.Outputs.Elasticsearch.Enabled {
		t.Error("exporters enabled by default")
	}
}

func TestExporterErrorsNameKeyAndLine(t *testing.T) {
	dir := t.TempDir()
	head := "protect:\n  paths: [" + dir + "]\nstore:\n  dir: " + dir + "/s\n"
	for _, c := range []struct{ body, want string }{
		{head + "outputs:\n  kafka:\n    enabled: true\n", ":6: outputs.kafka.brokers: at least one broker"},
		{head + "outputs:\n  kafka:\n    enabled: true\n    brokers: [k:1]\n    compression: brotli\n", `:9: outputs.kafka.compression: "brotli" is not one of`},
		{head + "outputs:\n  kafka:\n    enabled: true\n    brokers: [k:1]\n    sasl:\n      mechanism: kerberos\n", `:10: outputs.kafka.sasl.mechanism: "kerberos"`},
		{head + "outputs:\n  kafka:\n    enabled: true\n    brokers: [k:1]\n    batch_timout: 1s\n", ":9: outputs.kafka.batch_timout: unknown key (did you mean outputs.kafka.batch_timeout?)"},
		{head + "outputs:\n  elasticsearch:\n    enabled: true\n    addresses: [http://e:9200]\n    mode: stream\n", `:9: outputs.elasticsearch.mode: "stream" is not one of data_stream, index`},
		{"protect:\n  paths: [" + dir + "]\nstore:\n  enabled: false\noutputs:\n  elasticsearch:\n    enabled: true\n    addresses: [http://e:9200]\n",
			":7: outputs.elasticsearch.enabled: the Elasticsearch exporter delivers from the store: set store.enabled: true"},
	} {
		_, err := Load(writeFile(t, c.body), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q\n%s", err, c.want, c.body)
		}
	}
}
