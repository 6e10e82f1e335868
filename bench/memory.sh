#!/usr/bin/env bash
# bench/memory.sh: the whole `bansho run` (default rules, local store, file
# output) on a host with many live processes: its RSS after start, and its
# CPU time and peak RSS while a fixed load of protected-file work runs.
#
# The processes (`sleep`, one session each) are started before the sensor,
# so the process table is seeded with all of them. The load is four shells
# that each write and read a protected file 10,000 times (with
# sensor.fold_window 0s, so every call is a document; about a third of the
# documents are alerts of the default pack).
#
# Usage: sudo bench/memory.sh
# Environment: BANSHO_BIN (default: built from the repo), BENCH_PROCS [10000],
#              BENCH_ENV (extra environment for the sensor, e.g. GOGC=100)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $EUID -eq 0 ]] || { echo "memory.sh: run as root (the sensor loads BPF programs)" >&2; exit 1; }
procs=${BENCH_PROCS:-10000}
[[ $procs =~ ^[0-9]+$ ]] || { echo "memory.sh: BENCH_PROCS must be a number, got '$procs'" >&2; exit 1; }
scratch=$(mktemp -d /var/tmp/bansho-memory.XXXXXX)
sleepers=()
sensor=
cleanup() {
	[[ -n $sensor ]] && kill "$sensor" 2>/dev/null && wait "$sensor" 2>/dev/null
	((${#sleepers[@]})) && kill "${sleepers[@]}" 2>/dev/null
	rm -rf "$scratch"
}
trap cleanup EXIT
bin=${BANSHO_BIN:-}
if [[ -z $bin ]]; then
	bin=$scratch/bansho
	go build -o "$bin" ./cmd/bansho
fi
mkdir -p "$scratch/prot"
echo 0 >"$scratch/prot/f1"

# start CONFIG_EXTRA: the sensor in the background, ready.
start() {
	cat >"$scratch/cfg.yaml" <<-EOF
		protect:
		  paths: [$scratch/prot]
		outputs:
		  stdout: {enabled: false}
		  file: {path: $scratch/out/events.json}
		store:
		  dir: $scratch/store
		$1
	EOF
	rm -rf "$scratch/out" "$scratch/store"
	# shellcheck disable=SC2086 # BENCH_ENV is a list of NAME=VALUE words
	env ${BENCH_ENV:-} "$bin" run --config "$scratch/cfg.yaml" 2>"$scratch/log" &
	sensor=$!
	for _ in $(seq 100); do
		grep -q "sensor running" "$scratch/log" && return
		kill -0 "$sensor" 2>/dev/null || { cat "$scratch/log" >&2; exit 1; }
		sleep 0.1
	done
	echo "memory.sh: the sensor did not start" >&2
	exit 1
}
stop() {
	kill "$sensor"
	wait "$sensor" || { echo "memory.sh: the sensor exited $?" >&2; cat "$scratch/log" >&2; exit 1; }
	sensor=
}
status() { grep -E "^$1:" "/proc/$sensor/status" | awk '{printf "%.1f", $2 / 1024}'; }
cpu() { awk '{print $14 + $15}' "/proc/$sensor/stat"; }

for ((i = 0; i < procs; i++)); do
	setsid sleep 3600 </dev/null >/dev/null 2>&1 &
	sleepers+=($!)
done
sleep 1
echo "## Memory of \`bansho run\` with $(find /proc -maxdepth 1 -name '[0-9]*' | wc -l) live processes ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| measure | MiB |"
echo "|---|---|"
start ""
for t in 5 15 30; do
	sleep $((t - ${prev:-0}))
	prev=$t
	echo "| RSS ${t} s after start | $(status VmRSS) |"
done
stop

start "sensor:
  fold_window: 0s"
sleep 3
before=$(cpu)
for _ in 1 2 3 4; do
	sh -c 'i=0; while [ $i -lt 10000 ]; do echo $i > "$0/f$((i % 50))"; cat "$0/f1" > /dev/null; i=$((i+1)); done' "$scratch/prot"
done
sleep 3
ticks=$(($(cpu) - before))
echo "| RSS after the load | $(status VmRSS) |"
echo "| peak RSS (VmHWM) | $(status VmHWM) |"
stop
docs=$(cat "$scratch"/out/events.json* | wc -l)
alerts=$(cat "$scratch"/out/events.json* | grep -c '"kind":"alert"' || true)
echo
echo "Load: $docs documents ($alerts alerts); sensor CPU $(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }') s," \
	"$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v d="$docs" 'BEGIN { printf "%.0f", t / hz * 1e6 / d }') us per document."
