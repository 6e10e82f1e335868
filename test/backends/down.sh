#!/usr/bin/env bash
# Stops the exporter test back ends started by up.sh.
#
# Usage: down.sh [kafka|es|all]... [--kill] [--purge|--keep-data]
#   (no backend)  stop both and delete their data: a clean slate
#   kafka, es     stop just that one and keep its data, so `up.sh kafka`
#                 brings back the same topics, records and offsets
#   --kill        SIGKILL instead of SIGTERM: a crash, for fault tests
#   --purge       also delete the data of the named backends
#   --keep-data   keep the data even when stopping both
#
# Idempotent: stopping what does not run is not an error.
set -euo pipefail
script_name=down.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Grace period for a clean shutdown (kfake flushes its state, VictoriaLogs
# its in-memory parts) before SIGKILL.
readonly stop_timeout=30

parse_targets "$@"
purge=
[[ -n ${explicit_targets} ]] || purge=1
signal=TERM
for o in "${opts[@]}"; do
	case ${o} in
	--kill) signal=KILL ;;
	--purge) purge=1 ;;
	--keep-data) purge= ;;
	*) die "unknown option ${o} (usage: down.sh [kafka|es|all]... [--kill] [--purge|--keep-data])" ;;
	esac
done

stop() {
	local name=$1 pid
	if ! pid=$(backend_pid "${name}"); then
		note "${name} not running"
		rm -f "$(pid_file "${name}")"
		return
	fi
	kill -s "${signal}" "${pid}" 2>/dev/null || true # it may have just exited
	local deadline=$((SECONDS + stop_timeout))
	while alive "${pid}"; do
		if ((SECONDS >= deadline)); then
			note "${name} (pid ${pid}) still running ${stop_timeout}s after SIG${signal}; sending SIGKILL"
			kill -s KILL "${pid}" 2>/dev/null || true
			deadline=$((SECONDS + 5))
			signal=KILL
		fi
		sleep 0.1
	done
	rm -f "$(pid_file "${name}")"
	echo "=== $(date -u +%FT%TZ) down.sh stopped pid ${pid} with SIG${signal}" >>"$(log_file "${name}")"
	note "${name} stopped (pid ${pid}, SIG${signal})"
}

[[ -d ${state_dir} ]] || {
	note "nothing to stop (no ${state_dir})"
	exit 0
}
lock_state
for t in "${targets[@]}"; do
	stop "${t}"
	if [[ -n ${purge} ]]; then
		rm -rf "$(data_dir "${t}")"
		note "${t} data deleted"
	fi
done
write_env
