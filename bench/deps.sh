#!/usr/bin/env bash
# bench/deps.sh: install with apt-get whatever the overhead benchmark needs and
# is missing. Run as root on Debian/Ubuntu.
#
# Usage: bench/deps.sh [TOOL...]
#   TOOL is one of: gcc jq taskset auditd bpftrace. Without arguments all of
#   them are checked. Tools that are already installed are left alone, and
#   apt-get is not called at all when nothing is missing.
set -euo pipefail

# tool -> "command-to-probe apt-package"
declare -A probe=(
	[gcc]="gcc gcc"
	[jq]="jq jq"
	[taskset]="taskset util-linux"
	[auditd]="auditctl auditd"
	[bpftrace]="bpftrace bpftrace"
)

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(gcc jq taskset auditd bpftrace)

missing=()
for t in "${tools[@]}"; do
	[[ -n ${probe[$t]:-} ]] || { echo "deps.sh: unknown tool '$t' (known: ${!probe[*]})" >&2; exit 2; }
	read -r cmd pkg <<<"${probe[$t]}"
	command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	# The driver includes libc headers; gcc alone does not guarantee them.
	if [[ $t == gcc && ! -e /usr/include/stdio.h ]]; then
		missing+=(libc6-dev)
	fi
done

[[ ${#missing[@]} -gt 0 ]] || exit 0

if [[ $(id -u) -ne 0 ]]; then
	echo "deps.sh: missing packages (${missing[*]}) and not root; install them or rerun as root" >&2
	exit 1
fi
command -v apt-get >/dev/null 2>&1 || {
	echo "deps.sh: missing packages (${missing[*]}) and no apt-get; install them by hand" >&2
	exit 1
}
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
	# A stale package index is the usual cause; refresh it once and retry.
	apt-get update >&2
	apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
