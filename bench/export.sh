#!/usr/bin/env bash
# bench/export.sh: export throughput, events/s from the local store to
# Kafka (kfake) and to the Elasticsearch bulk API (VictoriaLogs, and a
# minimal local bulk endpoint that shows the exporter's own ceiling).
#
# The Go benchmarks in exporters/delivery fill a store with N realistic
# documents (encoded by the real ECS encoder, about 1.4 KB each), then time
# their delivery until every one is acknowledged. The delivering process is
# held to one core (-cpu 1 sets GOMAXPROCS=1); "cores" is its CPU time over
# wall time, "server-cores" that of the back end. The back ends are started
# by the benchmark itself (test/backends/up.sh, on free loopback ports).
#
# Usage: bench/export.sh            Environment: BENCH_EXPORT_EVENTS [200000]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${BENCH_EXPORT_EVENTS:-200000}
[[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || { echo "export.sh: BENCH_EXPORT_EVENTS must be a positive integer, got '$n'" >&2; exit 1; }
echo "## Export throughput: $n events from the store per run, delivering process on one core ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
go test -run '^$' -bench 'Export' -benchtime "${n}x" -cpu 1 -count 1 -timeout 20m ./exporters/delivery/ |
	awk '/^Benchmark/ {
		name = $1; sub(/^BenchmarkExport/, "", name); sub(/-1$/, "", name)
		line = sprintf("%-40s", name)
		for (i = 3; i < NF; i += 2) if ($(i + 1) != "ns/op") line = line sprintf("  %s %s", $i, $(i + 1))
		print line; next }
		/^(ok|FAIL|PASS)/ || /--- FAIL/ { print }'
