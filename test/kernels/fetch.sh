#!/usr/bin/env bash
# Fetches the kernels of kernels.list (or of BANSHO_KERNELS="6.1 7.3") into
# the cache, BANSHO_KERNEL_CACHE (default /var/cache/bansho/kernels): one
# directory per kernel name holding its vmlinuz and a note of where it came
# from. A kernel already in the cache is not fetched again.
#
# The packages come from the Debian mirror this machine's apt uses, through
# a private apt configuration (its own sources list, lists and package
# cache in a temporary directory), so the system's apt state is untouched;
# the temporary directory goes away on exit, also on failure. Run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${BANSHO_KERNEL_CACHE:-/var/cache/bansho/kernels}
list=${BANSHO_KERNEL_LIST:-$here/kernels.list}
want=${BANSHO_KERNELS:-}

# The kernels asked for and not cached yet: "name suite package release".
todo=()
found=()
while read -r name suite pkg rel; do
	case "$name" in '' | '#'*) continue ;; esac
	if [ -n "$want" ] && ! [[ " $want " == *" $name "* ]]; then
		continue
	fi
	found+=("$name")
	if [ -s "$cache/$name/vmlinuz" ] && grep -qx "package=$pkg" "$cache/$name/source" 2>/dev/null; then
		continue
	fi
	todo+=("$name $suite $pkg $rel")
done <"$list"
for w in $want; do
	[[ " ${found[*]:-} " == *" $w "* ]] || { echo "fetch: no kernel named $w in $list" >&2; exit 2; }
done
if [ "${#todo[@]}" -eq 0 ]; then
	echo "fetch: all ${#found[@]} kernels cached in $cache"
	exit 0
fi

# The mirror hosts this machine uses (deb822 or one-line sources).
uris=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
	grep -v '^[[:space:]]*#' | grep -oE 'https?://[^ ]+' || true)
mirror=$(echo "$uris" | grep -E '/debian/?$' | head -1)
security=$(echo "$uris" | grep -E '/debian-security/?$' | head -1)
mirror=${mirror%/}
security=${security%/}
mirror=${mirror:-http://deb.debian.org/debian}
security=${security:-${mirror%/debian}/debian-security}

tmp=$(mktemp -d /tmp/bansho-kernels.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/etc/sources.list.d" "$tmp/lists/partial" "$tmp/archives/partial" "$tmp/deb"
# apt downloads as its sandbox user _apt where it can.
chmod 755 "$tmp"
if id _apt >/dev/null 2>&1; then
	chown -R _apt:root "$tmp/lists" "$tmp/archives" "$tmp/deb"
fi
: >"$tmp/etc/sources.list"
suites=$(printf '%s\n' "${todo[@]}" | awk '{print $2}' | sort -u)
for s in $suites; do
	case "$s" in
	*-security) uri=$security ;;
	*) uri=$mirror ;;
	esac
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $s main" >>"$tmp/etc/sources.list"
done
apt_opts=(
	-o "Dir::Etc::sourcelist=$tmp/etc/sources.list"
	-o "Dir::Etc::sourceparts=$tmp/etc/sources.list.d"
	-o "Dir::State::Lists=$tmp/lists"
	-o "Dir::Cache=$tmp/cache"
	-o "Dir::Cache::archives=$tmp/archives"
	-o "APT::Get::List-Cleanup=0"
)
echo "fetch: apt lists of $(echo $suites) from $mirror and $security (private apt state in $tmp)"
apt-get "${apt_opts[@]}" update -qq

for k in "${todo[@]}"; do
	read -r name suite pkg rel <<<"$k"
	echo "fetch: $name: $pkg ($suite)"
	(cd "$tmp/deb" && apt-get "${apt_opts[@]}" download -qq "$pkg")
	deb=$(ls "$tmp/deb/${pkg}"_*.deb)
	x="$tmp/x-$name"
	dpkg-deb -x "$deb" "$x"
	vmlinuz=""
	for c in "$x/boot/vmlinuz-$rel" "$x/usr/lib/modules/$rel/vmlinuz" "$x/lib/modules/$rel/vmlinuz"; do
		[ -f "$c" ] && { vmlinuz=$c; break; }
	done
	[ -n "$vmlinuz" ] || { echo "fetch: $name: no vmlinuz for $rel in $pkg" >&2; exit 1; }
	mkdir -p "$cache/$name"
	cp "$vmlinuz" "$cache/$name/vmlinuz.new"
	mv "$cache/$name/vmlinuz.new" "$cache/$name/vmlinuz"
	{
		echo "package=$pkg"
		echo "version=$(dpkg-deb -f "$deb" Version)"
		echo "suite=$suite"
		echo "release=$rel"
		echo "deb_sha256=$(sha256sum "$deb" | cut -d' ' -f1)"
	} >"$cache/$name/source"
	rm -rf "$x" "$deb"
	echo "fetch: $name: $(du -h "$cache/$name/vmlinuz" | cut -f1) in $cache/$name"
done
