#!/usr/bin/env bash
# Installs what the kernel matrix (make test-kernels, docs/kernels.md) needs
# on a fresh Debian machine: qemu (TCG), busybox-static and cpio for the
# initramfs, and the host programs the kernel tests run, which are copied
# into the image with their libraries. Idempotent; run as root.
set -euo pipefail

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
for pkg in qemu-system-x86 busybox-static cpio gcc gcc-multilib \
	python3 coreutils util-linux procps iproute2 bpftool curl openssl \
	openssh-server openssh-client; do
	have "$pkg" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
	echo "kernels/setup: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "kernels/setup: ok ($(qemu-system-x86_64 --version | head -1))"
