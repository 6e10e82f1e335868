#!/usr/bin/env bash
# Builds the kernel-matrix VM's root file system: OUT/root.cpio, an
# uncompressed newc initramfs (the cloud kernels load no modules, have no
# 9p, and virtio-blk only from 6.12, so everything the tests need is in it).
#
# It holds busybox (for /init), the host's own programs the kernel tests run
# (copied with the shared libraries ldd names, at the same paths, so an
# exec'd /usr/bin/cat is the same file the tests see on a server), Python's
# standard library, the test binaries of the packages the matrix runs and
# bin/bansho, all built from this tree. OUT defaults to test/kernels/out.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-${BANSHO_KERNEL_OUT:-$here/out}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export PATH=$PATH:/usr/local/go/bin
root=$out/root
t0=$(date +%s)

# --- the binaries under test -------------------------------------------
# Each package: name, import path (from the repository root), binary.
packages="sensor:./sensor enrich:./pipeline/enrich cmd:./cmd/bansho"
mkdir -p "$out/bin"
(
	cd "$repo"
	for p in $packages; do
		CGO_ENABLED=0 go test -c -ldflags='-s -w' -o "$out/bin/${p%%:*}.test" "${p#*:}"
	done
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -X main.version=kernel-matrix' -o "$out/bin/bansho" ./cmd/bansho
)

# --- the tests' C programs, compiled here (vm/gcc explains why) ----------
# Each line: the package directory and the gcc arguments its tests use.
PREBUILT='
sensor -m32 -static -O1 -Wall -o X testdata/compat32.c
sensor -static -no-pie -O1 -Wall -o X testdata/int80.c
'
rm -rf "$out/gcc-prebuilt"
echo "$PREBUILT" | while read -r dir args; do
	[ -n "$dir" ] || continue
	# shellcheck disable=SC2086 # the arguments are words
	(cd "$repo/$dir" && BKT_GCC_RECORD="$out/gcc-prebuilt" "$here/vm/gcc" ${args/ X / "$out/gcc-scratch" })
done
rm -f "$out/gcc-scratch"

# --- the root file system ------------------------------------------------
rm -rf "$root"
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib64,usr/lib/x86_64-linux-gnu,etc,dev,proc,sys,tmp,run,root,var/tmp,opt/bansho}
for d in bin sbin lib lib64; do
	ln -s "usr/$d" "$root/$d"
done
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

# add PATH...: copies a host file to the same path in the image; a symlink
# is kept as one and its target added; an ELF file brings the libraries ldd
# resolves. Directories on the way are taken by their real path (/bin is
# usr/bin on the host and in the image).
declare -A added
add() {
	local p real dir
	for p in "$@"; do
		dir=$(realpath -e "$(dirname "$p")") || { echo "image: $p: no such directory" >&2; return 1; }
		p="$dir/$(basename "$p")"
		[ -n "${added[$p]:-}" ] && continue
		added[$p]=1
		mkdir -p "$root$dir"
		if [ -L "$p" ]; then
			cp -P "$p" "$root$p"
			real=$(readlink "$p")
			case "$real" in /*) ;; *) real="$dir/$real" ;; esac
			add "$real"
		elif [ -f "$p" ]; then
			cp -p "$p" "$root$p"
			if head -c4 "$p" | grep -q $'\x7fELF'; then
				add $(ldd "$p" 2>/dev/null | grep -oE '/[^ ]+' || true)
			fi
		elif [ -d "$p" ]; then
			mkdir -p "$root$p"
		else
			echo "image: $p: not found on this host (test/kernels/setup.sh installs it)" >&2
			return 1
		fi
	done
}
# which NAME...: a program's path on the host.
which() {
	local n
	for n in "$@"; do
		PATH=/usr/sbin:/usr/bin:/sbin:/bin type -P "$n" || { echo "image: no $n on this host" >&2; return 1; }
	done
}

# The host's programs, not busybox's applets: the tests check executables
# and comm names (/usr/bin/dash as /bin/sh, cat, kill).
add $(dpkg -L coreutils | grep -E '^/usr/s?bin/|^/bin/' | sort -u)
add /bin/sh /usr/bin/dash /usr/bin/bash /usr/bin/python3 /usr/bin/python3.11
add $(which kill ps setpriv runuser unshare nsenter mount umount ip ss bpftool \
	openssl curl ssh ssh-keygen sshd timeout env id grep sed awk find xargs tar gzip)
add /usr/lib/openssh/sshd-session 2>/dev/null || true # sshd from 9.8 execs it

# busybox for /init, and for what no host program above provides.
cp /bin/busybox "$root/usr/bin/busybox"
for a in $("$root/usr/bin/busybox" --list); do
	[ -e "$root/usr/bin/$a" ] || [ -L "$root/usr/bin/$a" ] || ln -s busybox "$root/usr/bin/$a"
done

# Python's standard library without its tests, tools and the static
# library; compiled here so the VM does not compile it on every start.
py=/usr/lib/python3.11
mkdir -p "$root$py"
tar -C "$py" -cf - --exclude=__pycache__ --exclude=./test --exclude=./idlelib --exclude=./tkinter \
	--exclude=./turtledemo --exclude=./ensurepip --exclude=./lib2to3 --exclude=./pydoc_data \
	--exclude=./distutils --exclude='./config-*' --exclude='./lib-dynload/_test*' . | tar -C "$root$py" -xf -
for so in "$root$py"/lib-dynload/*.so; do
	add $(ldd "$so" 2>/dev/null | grep -oE '/[^ ]+' | grep -v "^$root" || true)
done
python3.11 -m compileall -q -j0 -s "$root" -p / "$root$py" >/dev/null || true

# PAM (sshd and runuser log in through it), OpenSSH's and OpenSSL's files.
sec=/usr/lib/x86_64-linux-gnu/security
add $sec/*.so
cp -a /etc/pam.d /etc/security "$root/etc/"
mkdir -p "$root/etc/ssh" "$root/etc/ssl" "$root/usr/lib/ssl"
cp -p /etc/ssh/moduli "$root/etc/ssh/" 2>/dev/null || true
cp -p /etc/ssl/openssl.cnf "$root/etc/ssl/"
add /usr/lib/ssl/openssl.cnf
touch "$root/etc/environment"
cp -pL /etc/os-release "$root/etc/os-release"
mkdir -p "$root/etc/default" && touch "$root/etc/default/locale"
add /usr/lib/x86_64-linux-gnu/libssl.so.3 # the TLS probes' target

# The tests, their data, and stand-ins for the tools the VM does not carry.
mkdir -p "$root/opt/bansho/bin" "$root/opt/bansho/src"
cp "$out"/bin/*.test "$out/bin/bansho" "$root/opt/bansho/bin/"
for p in $packages; do
	d=${p#*:}
	d=${d#./}
	mkdir -p "$root/opt/bansho/src/$d"
	[ -d "$repo/$d/testdata" ] && cp -a "$repo/$d/testdata" "$root/opt/bansho/src/$d/"
done
# What cmd/bansho's tests read from the tree (../../rules, ../../test/...).
cp -a "$repo/rules" "$root/opt/bansho/src/rules"
mkdir -p "$root/opt/bansho/src/test"
cp -a "$repo/test/selfprotect" "$root/opt/bansho/src/test/selfprotect"
cp -a "$out/gcc-prebuilt" "$root/opt/bansho/gcc-prebuilt"
install -m 755 "$here/vm/gcc" "$here/vm/go" "$root/usr/local/bin/" 2>/dev/null ||
	{ mkdir -p "$root/usr/local/bin" && install -m 755 "$here/vm/gcc" "$here/vm/go" "$root/usr/local/bin/"; }
install -m 755 "$here/vm/init" "$root/init"

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out/root.cpio.new"
mv "$out/root.cpio.new" "$out/root.cpio"
echo "image: $out/root.cpio $(du -m "$out/root.cpio" | cut -f1) MB, $(find "$root" | wc -l) files, built in $(($(date +%s) - t0)) s"
