#!/usr/bin/env bash
# Proves the running back ends work with real clients:
#   kafka: kcat produces N messages to a fresh topic and consumes them back
#   es:    curl POSTs an Elasticsearch _bulk body, LogsQL counts it back
#
# Usage: smoke.sh [kafka|es|all]...    (default: all; run up.sh first)
# Exits non-zero with a message naming the failed check. Settings: lib.sh.
set -euo pipefail
script_name=smoke.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_targets "$@"
[[ ${#opts[@]} -eq 0 ]] || die "unknown option ${opts[0]} (usage: smoke.sh [kafka|es|all]...)"

readonly kafka_messages=1000 es_docs=1000 searchable_timeout=15
run_id=smoke-$(date -u +%Y%m%d%H%M%S)-$$
tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT

fail() { die "FAIL: $*"; }

smoke_kafka() {
	command -v kcat >/dev/null || fail "kcat not installed (up.sh installs it)"
	kafka_ready || fail "no Kafka broker answers metadata at ${kafka_addr}; run test/backends/up.sh kafka"
	local topic=bansho-${run_id}

	seq 1 "${kafka_messages}" | sed 's/^/message-/' >"${tmp}/sent"
	# acks=all and a clean exit mean every message was acknowledged;
	# kcat -P flushes before it exits and fails on delivery errors.
	kcat -P -b "${kafka_addr}" -t "${topic}" -X acks=all -m 10 <"${tmp}/sent" 2>"${tmp}/produce.err" ||
		fail "kcat could not produce to ${topic} at ${kafka_addr}: $(tail -n 3 "${tmp}/produce.err")"
	# -e: exit at the end of every partition; -m bounds metadata waits.
	timeout 30 kcat -C -b "${kafka_addr}" -t "${topic}" -o beginning -e -q -m 10 -f '%s\n' \
		>"${tmp}/received" 2>"${tmp}/consume.err" ||
		fail "kcat could not consume ${topic} from ${kafka_addr}: $(tail -n 3 "${tmp}/consume.err")"

	local got
	got=$(wc -l <"${tmp}/received")
	[[ ${got} -eq ${kafka_messages} ]] ||
		fail "kafka: produced ${kafka_messages} messages to ${topic}, consumed ${got}"
	# Same set of messages, each exactly once (order holds per partition only).
	sort "${tmp}/sent" >"${tmp}/sent.sorted"
	sort "${tmp}/received" >"${tmp}/received.sorted"
	cmp -s "${tmp}/sent.sorted" "${tmp}/received.sorted" ||
		fail "kafka: consumed messages differ from those produced to ${topic}:" \
			"$(diff "${tmp}/sent.sorted" "${tmp}/received.sorted" | head -n 5)"
	echo "kafka ok: ${kafka_messages} messages produced and consumed back with kcat (topic ${topic}, ${kafka_addr})"
}

# logsql_count prints the number of documents matching a LogsQL filter.
logsql_count() {
	local out
	out=$(curl -fsS --max-time 5 "${es_query_url}" --data-urlencode "query=$1 | stats count() n") || return 1
	# One JSON line: {"n":"1000"}
	[[ ${out} =~ \"n\":\"([0-9]+)\" ]] || return 1
	echo "${BASH_REMATCH[1]}"
}

# es_readback checks the smoke documents of this run: all there, _time taken
# from @timestamp (VL-Time-Field) and all in the host.name stream
# (VL-Stream-Fields). On failure it prints what is wrong and fails.
es_readback() {
	local now=$1 n streams
	n=$(logsql_count "labels.run:=\"${run_id}\"") || {
		echo "LogsQL query at ${es_query_url} failed"
		return 1
	}
	[[ ${n} -eq ${es_docs} ]] || {
		echo "indexed ${es_docs} documents, LogsQL counts ${n}"
		return 1
	}
	n=$(logsql_count "_time:[${now}, ${now}] labels.run:=\"${run_id}\"") || {
		echo "LogsQL query at ${es_query_url} failed"
		return 1
	}
	[[ ${n} -eq ${es_docs} ]] || {
		echo "${n} of ${es_docs} documents have _time = @timestamp ${now} (VL-Time-Field ignored?)"
		return 1
	}
	streams=$(curl -fsS --max-time 5 "${es_query_url}" \
		--data-urlencode "query=labels.run:=\"${run_id}\" | stats by (_stream) count() n") || {
		echo "LogsQL query at ${es_query_url} failed"
		return 1
	}
	[[ ${streams} == '{"_stream":"{host.name=\"smoke-host\"}","n":"'${es_docs}'"}' ]] || {
		echo "documents are not all in stream {host.name=\"smoke-host\"} (VL-Stream-Fields ignored?): ${streams:-no result}"
		return 1
	}
}

smoke_es() {
	es_ready || fail "VictoriaLogs at ${es_base} does not answer /health; run test/backends/up.sh es"

	local now i
	now=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
	for ((i = 1; i <= es_docs; i++)); do
		printf '{"index":{"_index":"bansho-smoke"}}\n'
		printf '{"@timestamp":"%s","message":"smoke document %d","host":{"name":"smoke-host"},"labels":{"run":"%s"},"event":{"sequence":%d}}\n' \
			"${now}" "${i}" "${run_id}" "${i}"
	done >"${tmp}/bulk.ndjson"

	# Content-Type matters: with curl's default form type VictoriaLogs
	# answers 200 with no items and stores nothing.
	local code
	code=$(curl -sS --max-time 30 -o "${tmp}/bulk.resp" -w '%{http_code}' \
		-H 'Content-Type: application/x-ndjson' \
		-H 'VL-Time-Field: @timestamp' -H 'VL-Stream-Fields: host.name' -H 'VL-Msg-Field: message' \
		--data-binary @"${tmp}/bulk.ndjson" "${es_bulk_url}/_bulk") ||
		fail "es: POST ${es_bulk_url}/_bulk failed"
	[[ ${code} == 200 ]] || fail "es: POST ${es_bulk_url}/_bulk answered ${code}: $(head -c 300 "${tmp}/bulk.resp")"
	grep -q '"errors":false' "${tmp}/bulk.resp" ||
		fail "es: _bulk response reports errors: $(head -c 300 "${tmp}/bulk.resp")"
	local created
	created=$(grep -o '"status":201' "${tmp}/bulk.resp" | wc -l)
	[[ ${created} -eq ${es_docs} ]] ||
		fail "es: _bulk of ${es_docs} documents answered ${created} items with status 201"

	# Documents become searchable about a second after ingest, but a new
	# stream shows up in _stream (and in _stream:{...} filters) only after
	# several seconds, so poll until every check passes.
	local deadline=$((SECONDS + searchable_timeout)) problem
	while :; do
		problem=$(es_readback "${now}") && break
		((SECONDS < deadline)) || fail "es: after ${searchable_timeout}s: ${problem}"
		sleep 0.2
	done
	# Documented caveat: the per-index bulk path is not supported. If this
	# starts to pass, docs/backends.md needs updating.
	code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
		--data-binary @"${tmp}/bulk.ndjson" "${es_bulk_url}/bansho-smoke/_bulk") || code=none
	[[ ${code} == 400 ]] || fail "es: POST ${es_bulk_url}/bansho-smoke/_bulk answered ${code}, docs/backends.md says 400"

	echo "es ok: ${es_docs} documents bulk-indexed with curl and counted back with LogsQL (${es_bulk_url})"
}

for t in "${targets[@]}"; do
	"smoke_${t}"
done
echo "smoke: all checks passed"
