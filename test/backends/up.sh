#!/usr/bin/env bash
# Starts the exporter test back ends on loopback and waits until they serve:
#   kafka: kfake (Kafka protocol), ready when `kcat -L` lists the brokers
#   es:    VictoriaLogs (Elasticsearch bulk API), ready when /health says OK
#
# Usage: up.sh [kafka|es|all]...    (default: all)
#
# Idempotent: a backend that already runs is checked and left alone. Builds
# what is missing first (VictoriaLogs once, cached; kfake incrementally).
# Data survives `down.sh kafka` / `down.sh es`, so a restarted broker serves
# what it had. Settings: see lib.sh.
set -euo pipefail
script_name=up.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_targets "$@"
[[ ${#opts[@]} -eq 0 ]] || die "unknown option ${opts[0]} (usage: up.sh [kafka|es|all]...)"

ensure_kcat() {
	command -v kcat >/dev/null && return
	note "kcat not found; installing the Debian package"
	local sudo=()
	[[ ${EUID} -eq 0 ]] || sudo=(sudo -n)
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q kcat >&2 ||
		die "could not install kcat (apt-get install -y kcat); install it and retry"
	command -v kcat >/dev/null || die "kcat still not in PATH after apt-get install kcat"
}

build_kfake() {
	# Always hand over to go build: with a warm build cache it costs a
	# fraction of a second and guarantees the binary matches the source.
	if ! command -v go >/dev/null; then
		[[ -x ${kfake_bin} ]] || die "go not found in PATH and no kfake binary at ${kfake_bin}"
		return
	fi
	mkdir -p "$(dirname "${kfake_bin}")"
	local log=${cache_dir}/kfake/go-build.log
	if ! (cd "${backends_src}/kfake" && GOTOOLCHAIN=local go build -trimpath -o "${kfake_bin}" .) >"${log}" 2>&1; then
		cat "${log}" >&2
		die "building kfake from ${backends_src}/kfake failed"
	fi
}

# start launches a backend detached from this shell (its own session, so a
# Ctrl-C in the terminal that ran up.sh does not reach it) and records its pid.
start() {
	local name=$1 port=$2
	shift 2
	local owner
	owner=$(port_owner "${port}")
	[[ -z ${owner} ]] || die "${name}: port ${port} is taken by something else: ${owner}"
	mkdir -p "$(data_dir "${name}")"
	local log
	log=$(log_file "${name}")
	echo "=== $(date -u +%FT%TZ) up.sh starting: $*" >>"${log}"
	setsid "$@" </dev/null >>"${log}" 2>&1 8>&- &
	echo $! >"$(pid_file "${name}")"
}

# wait_ready polls check until it passes, the process dies or the timeout
# expires; on failure it shows the end of the log.
wait_ready() {
	local name=$1 check=$2 pid deadline=$((SECONDS + ready_timeout))
	pid=$(<"$(pid_file "${name}")")
	until ${check}; do
		if ! alive "${pid}"; then
			rm -f "$(pid_file "${name}")"
			tail -n 20 "$(log_file "${name}")" >&2
			die "${name} (pid ${pid}) exited during startup; log: $(log_file "${name}")"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 20 "$(log_file "${name}")" >&2
			die "${name} (pid ${pid}) not ready after ${ready_timeout}s; still running; log: $(log_file "${name}")"
		fi
		sleep 0.1
	done
}

up_kafka() {
	ensure_kcat
	local pid
	if pid=$(backend_pid kafka); then
		note "kafka already running (pid ${pid})"
	else
		build_kfake
		local args=(-port "${kafka_port}" -brokers "${kafka_brokers}" -data-dir "$(data_dir kafka)")
		[[ -z ${kafka_topics} ]] || args+=(-topic "${kafka_topics}")
		start kafka "${kafka_port}" "${kfake_bin}" "${args[@]}"
	fi
	wait_ready kafka kafka_ready
}

up_es() {
	local pid
	if pid=$(backend_pid es); then
		note "es (VictoriaLogs) already running (pid ${pid})"
	else
		local bin
		bin=$("${backends_src}/build-victorialogs.sh")
		# The retention flags keep documents with any timestamp: by
		# default VictoriaLogs answers 201 for documents older than 7 days
		# or over 2 days in the future, and then silently drops them.
		# -inmemoryDataFlushInterval=1s (its minimum; default 5s) narrows
		# what a SIGKILL loses: documents acknowledged in the last ~6 s
		# instead of ~10 s. -insert.maxLineSizeBytes lets it take every
		# document the exporter sends (up to max_document_bytes, 1 MiB),
		# as Elasticsearch does; its default, 256 KiB, makes it close the
		# connection on a larger one (docs/backends.md).
		start es "${es_port}" "${bin}" \
			-httpListenAddr="127.0.0.1:${es_port}" \
			-storageDataPath="$(data_dir es)" \
			-retentionPeriod=100y -futureRetention=100y \
			-inmemoryDataFlushInterval=1s \
			-insert.maxLineSizeBytes="${es_max_line}"
	fi
	wait_ready es es_ready
}

lock_state
mkdir -p "${state_dir}"/{kafka,es}
for t in "${targets[@]}"; do
	"up_${t}"
done
write_env

echo "backends ready (state in ${state_dir}):"
for t in "${targets[@]}"; do
	case ${t} in
	kafka) echo "  kafka (kfake, pid $(backend_pid kafka)): ${kafka_addr}" ;;
	es) echo "  es (VictoriaLogs, pid $(backend_pid es)): bulk ${es_bulk_url}/_bulk, LogsQL ${es_query_url}, UI ${es_base}/select/vmui/" ;;
	esac
done
echo "for tests: . ${state_dir}/env"
sed -n 's/^export /  /p' "${state_dir}/env"
