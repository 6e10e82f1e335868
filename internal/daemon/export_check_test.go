package daemon

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/internal/config"
)

// checkExporters reports what start-up would refuse, naming the key,
// without contacting a sink.
func TestCheckExporters(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	for _, c := range []struct {
		out  config.Outputs
		want string
	}{
		{config.Outputs{Kafka: config.KafkaOutput{Enabled: true, Brokers: []string{"127.0.0.1:1"}, Compression: "zstd",
			TLS: config.KafkaTLS{Enabled: true, CAFile: missing}}}, "outputs.kafka.tls.ca_file: no such file or directory"},
		{config.Outputs{Kafka: config.KafkaOutput{Enabled: true, Brokers: []string{"127.0.0.1:1"}, Compression: "zstd",
			Topics: config.KafkaTopics{Events: "bad topic"}}}, `outputs.kafka.topics.events: "bad topic"`},
		{config.Outputs{Elasticsearch: config.ElasticsearchOutput{Enabled: true, Addresses: []string{"https://127.0.0.1:1"},
			CAFile: missing}}, "outputs.elasticsearch.ca_file: no such file or directory"},
		{config.Outputs{Elasticsearch: config.ElasticsearchOutput{Enabled: true, Addresses: []string{"https://127.0.0.1:1"},
			Headers: []string{"no colon"}}}, `outputs.elasticsearch.headers[0]: "no colon"`},
	} {
		err := checkExporters(c.out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	if err := checkExporters(config.Outputs{Kafka: config.KafkaOutput{Enabled: true, Brokers: []string{"127.0.0.1:1"}, Compression: "lz4"},
		Elasticsearch: config.ElasticsearchOutput{Enabled: true, Addresses: []string{"http://127.0.0.1:1"}}}); err != nil {
		t.Errorf("valid settings: %v", err)
	}
}
