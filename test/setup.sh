#!/usr/bin/env bash
# Installs what building and testing bansho needs on a fresh Debian machine:
# clang/llvm and libbpf headers (make generate), bpftool, the real programs
# the kernel tests run (python3, coreutils, gcc-multilib for the static
# 32-bit programs of the ia32 tests, openssh-server for a real SSH
# login), kcat (the exporter tests read Kafka back with it), chromium
# and a Japanese font (the incident report's HTML is opened in a headless
# browser), and mounts tracefs. Idempotent;
# run as root. Go itself is expected at /usr/local/go or on PATH.
set -euo pipefail

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
for pkg in clang llvm libbpf-dev bpftool gcc gcc-multilib python3 coreutils iproute2 curl jq kcat openssh-server openssh-client chromium fonts-noto-cjk; do
	have "$pkg" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
	echo "setup: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! mountpoint -q /sys/kernel/tracing 2>/dev/null; then
	mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
if [ ! -e /sys/kernel/btf/vmlinux ]; then
	echo "setup: this kernel has no BTF (/sys/kernel/btf/vmlinux); bansho cannot run here" >&2
	exit 1
fi
echo "setup: ok ($(uname -r), $(clang --version | head -1))"
