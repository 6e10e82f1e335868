#!/usr/bin/env bash
# make test-kernels: installs what the matrix needs (setup.sh), fetches the
# kernels (fetch.sh), builds the VM image from this tree (image.sh), then
# boots each kernel under qemu and prints the matrix (runner/). Run as
# root from anywhere in the repository; docs/kernels.md lists the
# environment variables (BANSHO_KERNELS="6.1 7.3", ...).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "test-kernels: run as root (qemu, mknod for the image, BPF on the host row)" >&2
	exit 1
fi
export PATH=$PATH:/usr/local/go/bin
export BANSHO_KERNEL_DIR=$here
out=${BANSHO_KERNEL_OUT:-$here/out}
mkdir -p "$out"

# Progress on stderr: stdout is the matrix.
bash "$here/setup.sh" >&2
bash "$here/fetch.sh" >&2
bash "$here/image.sh" "$out" >&2
(cd "$repo" && go build -o "$out/runner" ./test/kernels/runner) >&2
cd "$repo"
exec "$out/runner"
