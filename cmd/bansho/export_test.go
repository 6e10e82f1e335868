package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/testutil"
	"github.com/bansho-sec/bansho/test/backends"
)

// The sensor end to end: a protected file is touched, and the open event
// reaches Kafka (read back with kcat) and the Elasticsearch bulk API of
// VictoriaLogs (read back with LogsQL), through the store.
func TestRunExportsToKafkaAndElasticsearch(t *testing.T) {
	testutil.RequireBPF(t)
	if testing.Short() {
		t.Skip("-short: no back ends")
	}
	env, err := backends.Start("kafka", "es")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	prot := t.TempDir()
	run := fmt.Sprintf("e2e%d", time.Now().UnixNano()%1e9)
	cfg := writeConfig(t, fmt.Sprintf(`protect:
  paths: [%s]
outputs:
  stdout: {enabled: false}
  file: {path: ""}
  kafka:
    enabled: true
    brokers: [%s]
    allow_auto_topic_creation: true
    topics: {events: %s-events, alerts: %s-alerts, health: %s-health}
  elasticsearch:
    enabled: true
    addresses: [%s]
    headers: ["VL-Time-Field: @timestamp", "VL-Stream-Fields: host.name", "VL-Msg-Field: message"]
store:
  dir: %s
health:
  interval: 1s
`, prot, env.Kafka, run, run, run, env.ES, filepath.Join(t.TempDir(), "store")))
	p := launch(t, cfg, "")
	if !p.waitLog("sensor running", 60*time.Second) {
		t.Fatalf("sensor not running after 60s:\n%s", p.log())
	}
	roster := filepath.Join(prot, "roster-"+run+".csv")
	if err := exec.Command("/usr/bin/touch", roster).Run(); err != nil {
		t.Fatal(err)
	}
	found := func(read func() string) bool {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Contains(read(), roster) {
				return true
			}
			time.Sleep(250 * time.Millisecond)
		}
		return false
	}
	if !found(func() string {
		out, _ := exec.Command("timeout", "20", "kcat", "-C", "-b", env.Kafka, "-t", run+"-events", "-o", "beginning", "-e", "-q", "-m", "5").Output()
		return string(out)
	}) {
		t.Fatalf("no event about %s in Kafka topic %s-events; stderr:\n%s", roster, run, p.log())
	}
	if !found(func() string {
		resp, err := http.PostForm(env.ESQuery, url.Values{"query": {fmt.Sprintf(`file.path:=%q event.action:=open | limit 1`, roster)}})
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}) {
		t.Fatalf("no event about %s in VictoriaLogs; stderr:\n%s", roster, p.log())
	}
	// Each exporter's counters ride in the health documents.
	if !found(func() string {
		out, _ := exec.Command("timeout", "20", "kcat", "-C", "-b", env.Kafka, "-t", run+"-health", "-o", "beginning", "-e", "-q", "-m", "5").Output()
		if strings.Contains(string(out), `"exporter_elasticsearch_delivered":`) && strings.Contains(string(out), `"exporter_kafka_lag":`) {
			return roster
		}
		return ""
	}) {
		t.Errorf("no health document with exporter counters in %s-health", run)
	}
	p.stop()
	if !strings.Contains(p.log(), "exporter stopped") {
		t.Errorf("no exporter summary at shutdown:\n%s", p.log())
	}
}
