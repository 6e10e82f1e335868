#!/usr/bin/env bash
# Builds VictoriaLogs (the Elasticsearch bulk API test target) once and caches
# the binary. VictoriaMetrics code never enters this repository: the build
# happens in a throwaway module under the cache directory.
#
# Usage: build-victorialogs.sh [--force]
# Prints the path of the binary on stdout; progress goes to stderr.
#
# Environment:
#   BANSHO_CACHE  cache root (default $HOME/.cache/bansho)
set -euo pipefail

# Pinned: the module proxy here does not always resolve @latest, and a moving
# target would make test results depend on the day of the build.
readonly VL_MODULE=github.com/VictoriaMetrics/VictoriaMetrics
readonly VL_VERSION=v1.110.0
readonly VL_PKG=${VL_MODULE}/app/victoria-logs

cache_root=${BANSHO_CACHE:-${HOME:?HOME is not set}/.cache/bansho}
work=${cache_root}/victoria-logs
bin=${work}/bin/victoria-logs-${VL_VERSION}

force=0
case ${1:-} in
'') ;;
--force) force=1 ;;
*)
	echo "build-victorialogs.sh: unknown argument '$1' (want --force or nothing)" >&2
	exit 2
	;;
esac

log() { echo "build-victorialogs: $*" >&2; }

mkdir -p "${work}/bin"
# Two concurrent up.sh runs must not build into the same module at once.
exec 9>"${work}/.lock"
flock 9

if [[ ${force} == 0 && -x ${bin} ]]; then
	echo "${bin}"
	exit 0
fi

command -v go >/dev/null || {
	log "go not found in PATH (need Go >= 1.23; /usr/local/go/bin?)"
	exit 1
}

src=${work}/src
rm -rf "${src}"
mkdir -p "${src}"
cd "${src}"

# GOTOOLCHAIN=local: never try to download a toolchain through the proxy.
# CGO_ENABLED=0: a static binary, as VictoriaMetrics ships it, and no C
# compiler in the build.
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+${GOFLAGS} }-mod=mod"

log "building ${VL_PKG}@${VL_VERSION} in ${src} (first build takes minutes)"
start=${SECONDS}
go mod init bansho.local/victoria-logs-build >/dev/null 2>&1
# go get with a package path at a version adds the module and the go.sum
# lines of exactly that package's imports.
if ! go get "${VL_PKG}@${VL_VERSION}" 2>"${work}/go-get.log"; then
	log "go get ${VL_PKG}@${VL_VERSION} failed; see ${work}/go-get.log:"
	tail -n 20 "${work}/go-get.log" >&2
	exit 1
fi
tmp=$(mktemp "${work}/bin/.victoria-logs.XXXXXX")
trap 'rm -f "${tmp}"' EXIT
if ! go build -trimpath \
	-ldflags "-s -w -X ${VL_MODULE}/lib/buildinfo.Version=victoria-logs-${VL_VERSION}-bansho-test" \
	-o "${tmp}" "${VL_PKG}" 2>"${work}/go-build.log"; then
	log "go build ${VL_PKG} failed; see ${work}/go-build.log:"
	tail -n 20 "${work}/go-build.log" >&2
	exit 1
fi
chmod 0755 "${tmp}"
mv -f "${tmp}" "${bin}"
trap - EXIT
log "built ${bin} in $((SECONDS - start)) s"
echo "${bin}"
