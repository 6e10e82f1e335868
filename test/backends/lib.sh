# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the sourcing scripts
# Shared settings and helpers for up.sh, down.sh and smoke.sh. Sourced, not run.
#
# Environment (all optional):
#   BANSHO_BACKENDS_DIR  pid files, logs and data (default /tmp/bansho-backends)
#   BANSHO_CACHE         built binaries (default $HOME/.cache/bansho)
#   BANSHO_KAFKA_PORT    first kfake broker port (default 19092)
#   BANSHO_KAFKA_BROKERS number of kfake brokers (default 1)
#   BANSHO_KAFKA_TOPICS  seed topics, "name[:partitions],..." (default none;
#                        unknown topics are auto-created with 1 partition)
#   BANSHO_ES_PORT       VictoriaLogs HTTP port (default 9428)
#   BANSHO_ES_MAX_LINE   VictoriaLogs -insert.maxLineSizeBytes: the largest
#                        document it takes (default 2097152, above the
#                        exporter's max_document_bytes; VictoriaLogs' own 262144)
#   BANSHO_READY_TIMEOUT seconds to wait for a backend to become ready (default 60)

backends_src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state_dir=${BANSHO_BACKENDS_DIR:-/tmp/bansho-backends}
cache_dir=${BANSHO_CACHE:-${HOME:?HOME is not set}/.cache/bansho}
kafka_port=${BANSHO_KAFKA_PORT:-19092}
kafka_brokers=${BANSHO_KAFKA_BROKERS:-1}
kafka_topics=${BANSHO_KAFKA_TOPICS:-}
es_port=${BANSHO_ES_PORT:-9428}
es_max_line=${BANSHO_ES_MAX_LINE:-2097152}
ready_timeout=${BANSHO_READY_TIMEOUT:-60}

kafka_addr=127.0.0.1:${kafka_port}
es_base=http://127.0.0.1:${es_port}
es_bulk_url=${es_base}/insert/elasticsearch
es_query_url=${es_base}/select/logsql/query
kfake_bin=${cache_dir}/kfake/kfake

die() {
	echo "${script_name:-backends}: $*" >&2
	exit 1
}
note() { echo "${script_name:-backends}: $*" >&2; }

for v in kafka_port kafka_brokers es_port es_max_line ready_timeout; do
	[[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "${v} must be a positive integer, got '${!v}'"
done

# lock_state serializes up.sh and down.sh runs on one state directory, so two
# of them never start the same backend twice. Started backends must not
# inherit the lock descriptor (start closes it).
lock_state() {
	mkdir -p "${state_dir}"
	exec 8>"${state_dir}/.lock"
	flock 8
}

# parse_targets sets targets (kafka, es) from the arguments "all", "kafka",
# "es" (aliases: elasticsearch, victorialogs, vl); no argument means all.
# Other arguments that start with "--" are left in the array opts;
# explicit_targets is empty when no backend was named or "all" was.
parse_targets() {
	targets=()
	opts=()
	explicit_targets=1
	local a
	for a in "$@"; do
		case ${a} in
		all)
			targets+=(kafka es)
			explicit_targets=
			;;
		kafka | kfake) targets+=(kafka) ;;
		es | elasticsearch | victorialogs | vl) targets+=(es) ;;
		--*) opts+=("${a}") ;;
		*) die "unknown backend '${a}' (want kafka, es or all)" ;;
		esac
	done
	if [[ ${#targets[@]} -eq 0 ]]; then
		targets=(kafka es)
		explicit_targets=
	fi
	# Deduplicate, keeping kafka before es.
	local t out=()
	for t in kafka es; do
		[[ " ${targets[*]} " == *" ${t} "* ]] && out+=("${t}")
	done
	targets=("${out[@]}")
}

pid_file() { echo "${state_dir}/$1/pid"; }
log_file() { echo "${state_dir}/$1/log"; }
data_dir() { echo "${state_dir}/$1/data"; }

# backend_pid prints the pid of a running backend, or fails. The pid in the
# file only counts if that process still runs one of our binaries, so a stale
# file whose pid the kernel has reused is never trusted (or killed).
backend_pid() {
	local f pid exe
	f=$(pid_file "$1")
	[[ -r ${f} ]] || return 1
	pid=$(<"${f}")
	[[ ${pid} =~ ^[0-9]+$ ]] || return 1
	exe=$(readlink "/proc/${pid}/exe" 2>/dev/null) || return 1
	exe=${exe% (deleted)} # the binary may have been rebuilt since start
	case $1:${exe} in
	kafka:"${kfake_bin}" | es:"${cache_dir}"/victoria-logs/bin/victoria-logs-*) echo "${pid}" ;;
	*) return 1 ;;
	esac
}

# alive reports whether a pid is a live process; a zombie (killed but not
# yet reaped, as under a container init that does not reap) counts as dead.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# port_owner prints what listens on a TCP port of 127.0.0.1, if anything.
port_owner() {
	ss -Hltnp "sport = :$1" 2>/dev/null | awk '{print $4, $6}' | head -n 1
}

kafka_ready() { kcat -b "${kafka_addr}" -L -m 2 >/dev/null 2>&1; }
es_ready() { [[ $(curl -fsS --max-time 2 "${es_base}/health" 2>/dev/null) == OK ]]; }

# write_env records the variables for the backends that are running now, so
# tests and make targets can `. "$BANSHO_BACKENDS_DIR/env"`.
write_env() {
	mkdir -p "${state_dir}"
	local tmp="${state_dir}/env.$$"
	{
		echo "# Written by test/backends/up.sh and down.sh; backends running now."
		if backend_pid kafka >/dev/null; then
			echo "export BANSHO_TEST_KAFKA=${kafka_addr}"
		fi
		if backend_pid es >/dev/null; then
			echo "export BANSHO_TEST_ES=${es_bulk_url}"
			echo "export BANSHO_TEST_ES_QUERY=${es_query_url}"
		fi
	} >"${tmp}"
	mv -f "${tmp}" "${state_dir}/env"
}
