#!/usr/bin/env bash
# Checks the deployment artefacts as CI does (make deploy-check, part of
# make test):
#   kubernetes  the rule copy is current; kustomize renders the base and the
#               example overlay; kubeconform validates both, strict, against
#               the Kubernetes API's own OpenAPI schemas (a misspelt field
#               must be rejected, which proves the schemas bite)
#   systemd     make install/uninstall into a DESTDIR; systemd-analyze verify
#               prints nothing; the offline security review stays at or
#               below 4.0
#   image       BuildKit's Dockerfile lint; the build stage runs make build;
#               the binary is static
#   runtime     (root, BPF) the sensor runs with exactly the DaemonSet's
#               capabilities and fails without CAP_PERFMON; every syscall it
#               makes is inside the unit's SystemCallFilter
#
# Tools are built once from the Go module proxy at pinned versions and
# cached under $BANSHO_CACHE/deploy (default ~/.cache/bansho/deploy); apt
# packages (systemd, strace, util-linux) are installed when missing and we
# are root. Nothing else is fetched: base images, schemas from web sites.
#
# Environment: BANSHO_CACHE; BANSHO_REQUIRE_BPF=1 fails instead of skipping
# the runtime checks when they cannot run.
set -euo pipefail

# Pinned: the module proxy does not always resolve @latest, and a moving
# target would make the result depend on the day.
readonly KUBECONFORM_VERSION=v0.7.0
readonly KUSTOMIZE_VERSION=v5.7.1
readonly K8S_VERSION=1.34.3 # k8s.io/kubernetes module holding swagger.json
readonly SECURITY_THRESHOLD=40 # systemd-analyze: 4.0 on its 0-10 scale

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${repo}"
export PATH="/usr/local/go/bin:${PATH}"
export GOTOOLCHAIN=local
cache=${BANSHO_CACHE:-${HOME:?HOME is not set}/.cache/bansho}/deploy
mkdir -p "${cache}"
tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT

passed=0 failed=0 skipped=0
ok() {
	echo "ok    $*"
	passed=$((passed + 1))
}
bad() {
	echo "FAIL  $*"
	failed=$((failed + 1))
}
skip() {
	if [[ ${BANSHO_REQUIRE_BPF:-0} == 1 ]]; then
		bad "$* (BANSHO_REQUIRE_BPF=1: may not skip)"
	else
		echo "skip  $*"
		skipped=$((skipped + 1))
	fi
}
log() { echo "deploy-check: $*" >&2; }

# need_cmd CMD PACKAGE: install the Debian package when CMD is missing.
need_cmd() {
	command -v "$1" >/dev/null && return 0
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		log "installing $2 for $1"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1; } || true
	fi
	command -v "$1" >/dev/null
}

# go_tool NAME PKG VERSION: build PKG@VERSION once in a throwaway module.
go_tool() {
	local name=$1 pkg=$2 version=$3
	local bin=${cache}/bin/${name}-${version} work=${cache}/src/${name}
	if [[ ! -x ${bin} ]]; then
		log "building ${pkg}@${version} (once)"
		rm -rf "${work}" && mkdir -p "${work}" "${cache}/bin"
		(cd "${work}" && go mod init "bansho.local/${name}-build" >/dev/null 2>&1 &&
			GOFLAGS=-mod=mod go get "${pkg}@${version}" >"${work}/build.log" 2>&1 &&
			CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "${bin}.tmp" "${pkg}" >>"${work}/build.log" 2>&1) ||
			{ log "build of ${pkg}@${version} failed:"; tail -n 20 "${work}/build.log" >&2; return 1; }
		mv "${bin}.tmp" "${bin}"
	fi
	echo "${bin}"
}

# Two runs at once must not build into the same cache.
exec 9>"${cache}/.lock"
flock 9

# --- kubernetes -------------------------------------------------------------
k8s_schemas() {
	local dir=${cache}/schemas/v${K8S_VERSION}-standalone-strict
	# Rebuilt when the converter changes, not only the version.
	local stamp
	stamp=$(sha256sum deploy/tools/k8sschema/main.go | cut -d' ' -f1)
	if [[ $(cat "${dir}/.complete" 2>/dev/null) != "${stamp}" ]]; then
		log "converting the OpenAPI document of k8s.io/kubernetes v${K8S_VERSION} (once)"
		local info src
		info=$(cd "${tmp}" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}") ||
			{ log "go mod download k8s.io/kubernetes@v${K8S_VERSION} failed"; return 1; }
		src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"${info}")/api/openapi-spec/swagger.json
		[[ -f ${src} ]] || { log "no ${src}"; return 1; }
		rm -rf "${dir}"
		go run ./deploy/tools/k8sschema -strict -in "${src}" -out "${dir}" >&2 || return 1
		echo "${stamp}" >"${dir}/.complete"
	fi
	echo "${cache}/schemas"
}

check_kubernetes() {
	if bash deploy/kubernetes/sync-rules.sh --check; then
		ok "kubernetes: base/rules matches rules/"
	else
		bad "kubernetes: base/rules is stale (make k8s-rules)"
	fi
	local kustomize kubeconform schemas
	kustomize=$(go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "${KUSTOMIZE_VERSION}") || { bad "kubernetes: cannot build kustomize"; return; }
	kubeconform=$(go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "${KUBECONFORM_VERSION}") || { bad "kubernetes: cannot build kubeconform"; return; }
	schemas=$(k8s_schemas) || { bad "kubernetes: no schemas"; return; }
	local kc=("${kubeconform}" -strict -summary -kubernetes-version "${K8S_VERSION}"
		-schema-location "${schemas}/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json")
	local k out
	for k in base overlays/example; do
		out=${tmp}/$(tr / - <<<"${k}").yaml
		if ! "${kustomize}" build "deploy/kubernetes/${k}" >"${out}" 2>"${tmp}/kustomize.err"; then
			bad "kubernetes: kustomize build ${k}: $(cat "${tmp}/kustomize.err")"
			continue
		fi
		if "${kc[@]}" "${out}" >"${tmp}/kc.out" 2>&1; then
			ok "kubernetes: ${k} renders and is valid ($(tail -n 1 "${tmp}/kc.out"))"
		else
			bad "kubernetes: ${k} is not valid:"
			cat "${tmp}/kc.out"
		fi
	done
	# Each component, rendered on the base from a scratch overlay
	# (kustomize takes only relative paths), validated, and checked for
	# what it is for.
	local comp name
	for comp in deploy/kubernetes/components/*/; do
		name=$(basename "${comp}")
		mkdir -p "${tmp}/comp-${name}"
		printf 'resources: [%s]\ncomponents: [%s]\n' \
			"$(realpath --relative-to="${tmp}/comp-${name}" deploy/kubernetes/base)" \
			"$(realpath --relative-to="${tmp}/comp-${name}" "${comp}")" >"${tmp}/comp-${name}/kustomization.yaml"
		out=${tmp}/comp-${name}.yaml
		if ! "${kustomize}" build "${tmp}/comp-${name}" >"${out}" 2>"${tmp}/kustomize.err" || ! "${kc[@]}" "${out}" >"${tmp}/kc.out" 2>&1; then
			bad "kubernetes: components/${name} does not render or validate: $(cat "${tmp}/kustomize.err" "${tmp}/kc.out")"
			continue
		fi
		local does=0
		case ${name} in
		without-tls-plaintext)
			! grep -q -- '- SYS_ADMIN' "${out}" && grep -q -- '- PERFMON' "${out}" && grep -q -- '- SYS_ADMIN' "${tmp}/base.yaml" && does=1 ;;
		kubelet-nodes-proxy)
			grep -q 'nodes/proxy' "${out}" && ! grep -q 'nodes/proxy' "${tmp}/base.yaml" && does=1 ;;
		*)
			bad "kubernetes: components/${name}: no check for it in test/deploy-check.sh"
			continue
			;;
		esac
		if [[ ${does} == 1 ]]; then
			ok "kubernetes: components/${name} renders, validates and does what it says"
		else
			bad "kubernetes: components/${name} does not do what it says"
		fi
	done
	local kind
	for kind in Namespace ServiceAccount ClusterRole ClusterRoleBinding PriorityClass ConfigMap Secret DaemonSet Service; do
		grep -q "^kind: ${kind}$" "${tmp}/overlays-example.yaml" || bad "kubernetes: the example overlay has no ${kind}"
	done
	# The schemas must reject what the API server would: a misspelt field
	# and a wrong type in the rendered DaemonSet.
	sed 's/^\(  *\)hostPID: true/\1hostPid: true/' "${tmp}/base.yaml" >"${tmp}/bad1.yaml"
	sed 's/^\(  *\)terminationGracePeriodSeconds: .*/\1terminationGracePeriodSeconds: soon/' "${tmp}/base.yaml" >"${tmp}/bad2.yaml"
	if ! cmp -s "${tmp}/base.yaml" "${tmp}/bad1.yaml" && ! "${kc[@]}" "${tmp}/bad1.yaml" >/dev/null 2>&1 &&
		! cmp -s "${tmp}/base.yaml" "${tmp}/bad2.yaml" && ! "${kc[@]}" "${tmp}/bad2.yaml" >/dev/null 2>&1; then
		ok "kubernetes: kubeconform rejects a misspelt field and a wrong type"
	else
		bad "kubernetes: kubeconform accepted a broken DaemonSet: the schemas are not strict"
	fi
}

# --- systemd -----------------------------------------------------------------
check_systemd() {
	need_cmd systemd-analyze systemd || { bad "systemd: systemd-analyze missing (apt-get install systemd)"; return; }
	local root=${tmp}/root
	if ! make -s install DESTDIR="${root}" >"${tmp}/install.log" 2>&1; then
		bad "systemd: make install failed:"
		cat "${tmp}/install.log"
		return
	fi
	local f missing=0
	for f in usr/local/bin/bansho etc/systemd/system/bansho.service etc/bansho/bansho.yaml etc/bansho/bansho.env \
		etc/bansho/rules usr/local/share/doc/bansho/deployment.md; do
		[[ -e ${root}/${f} ]] || { bad "systemd: make install did not create /${f}"; missing=1; }
	done
	[[ $(stat -c %a "${root}/etc/bansho/bansho.env") == 600 ]] || bad "systemd: bansho.env is not 0600"
	echo "# edited by the operator" >>"${root}/etc/bansho/bansho.yaml"
	make -s install DESTDIR="${root}" >/dev/null 2>&1
	grep -q "edited by the operator" "${root}/etc/bansho/bansho.yaml" || bad "systemd: make install overwrote an existing bansho.yaml"
	make -s install DESTDIR="${root}/opt" PREFIX=/opt/bansho >/dev/null 2>&1
	if ! grep -q '^ExecStart=/opt/bansho/bin/bansho ' "${root}/opt/etc/systemd/system/bansho.service" || [[ ! -x ${root}/opt/opt/bansho/bin/bansho ]]; then
		bad "systemd: PREFIX=/opt/bansho not honoured in the unit"
	fi
	local want got
	want=$(find rules -maxdepth 1 -name '*.yaml' | wc -l)
	got=$(find "${root}/etc/bansho/rules" -maxdepth 1 -name '*.yaml' | wc -l)
	[[ ${want} -gt 0 && ${got} == "${want}" ]] || bad "systemd: make install put ${got} rule files in /etc/bansho/rules, rules/ has ${want}"
	make -s uninstall DESTDIR="${root}" >/dev/null 2>&1
	[[ ! -e ${root}/usr/local/bin/bansho && ! -e ${root}/etc/systemd/system/bansho.service && -e ${root}/etc/bansho/bansho.yaml ]] ||
		bad "systemd: make uninstall must remove the binary and unit and keep /etc/bansho"
	[[ ${missing} == 0 ]] && ok "systemd: make install/uninstall (DESTDIR, PREFIX, no overwrite of the configuration)"

	# verify checks the ExecStart binary exists: point it at ours. It exits
	# 0 on unknown keys and bad values, so any output is a failure.
	local unit=${tmp}/bansho.service
	sed "s|^ExecStart=/usr/local/bin/bansho|ExecStart=${repo}/bin/bansho|" deploy/systemd/bansho.service >"${unit}"
	if systemd-analyze verify "${unit}" >"${tmp}/verify.out" 2>&1 && [[ ! -s ${tmp}/verify.out ]]; then
		ok "systemd: systemd-analyze verify bansho.service is clean"
	else
		bad "systemd: systemd-analyze verify:"
		sed "s|${tmp}/||" "${tmp}/verify.out"
	fi
	sed 's/^ProtectSystem=strict/ProtectSytem=strict/' "${unit}" >"${tmp}/typo.service"
	systemd-analyze verify "${tmp}/typo.service" 2>&1 | grep -q "Unknown key" ||
		bad "systemd: a misspelt key went unnoticed by the check"
	local score
	score=$(systemd-analyze security --offline=yes "${unit}" 2>/dev/null | sed -n 's/.*Overall exposure level for bansho.service: \([0-9.]*\).*/\1/p')
	if systemd-analyze security --offline=yes --threshold="${SECURITY_THRESHOLD}" "${unit}" >/dev/null 2>&1; then
		ok "systemd: offline security exposure ${score} (at most 4.0)"
	else
		bad "systemd: offline security exposure ${score:-unknown} is above 4.0"
	fi
}

# --- image ---------------------------------------------------------------------
check_image() {
	local lint=${cache}/bin/dockerlint
	if [[ ! -x ${lint} || deploy/tools/dockerlint/main.go -nt ${lint} || deploy/tools/dockerlint/go.mod -nt ${lint} ]]; then
		log "building deploy/tools/dockerlint (once)"
		mkdir -p "${cache}/bin"
		(cd deploy/tools/dockerlint && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "${lint}" .) >"${tmp}/lint-build.log" 2>&1 ||
			{ bad "image: cannot build dockerlint:"; tail -n 20 "${tmp}/lint-build.log"; return; }
	fi
	if "${lint}" deploy/Dockerfile >"${tmp}/lint.out" 2>&1; then
		ok "image: deploy/Dockerfile passes BuildKit's lint"
	else
		bad "image: deploy/Dockerfile:"
		cat "${tmp}/lint.out"
	fi
	printf 'from debian AS Build\nCMD echo hi\n' >"${tmp}/Bad.Dockerfile"
	"${lint}" "${tmp}/Bad.Dockerfile" >/dev/null 2>&1 && bad "image: the lint accepted a Dockerfile with three faults"
	# The image must hold what make build makes, not a second recipe.
	# shellcheck disable=SC2016 # $(GO) is the Makefile's text, not an expansion
	if grep -q '^RUN make build VERSION=' deploy/Dockerfile && grep -q '^COPY --from=build /src/bin/bansho ' deploy/Dockerfile &&
		grep -q '^	CGO_ENABLED=0 $(GO) build -trimpath' Makefile; then
		ok "image: the build stage runs make build (CGO_ENABLED=0, -trimpath)"
	else
		bad "image: the Dockerfile's build stage no longer runs the Makefile's build"
	fi
	make -s build >/dev/null
	if go version -m bin/bansho | grep -q 'CGO_ENABLED=0' && ! grep -q 'ld-linux' <(head -c 4096 bin/bansho | tr -d '\0'); then
		ok "image: bin/bansho is static (CGO_ENABLED=0, no ELF interpreter) for distroless/static"
	else
		bad "image: bin/bansho is not a static binary"
	fi
}

# --- runtime -------------------------------------------------------------------
# The capabilities the DaemonSet adds, as setpriv names them (+bpf,...).
daemonset_caps() {
	awk '/capabilities:/ { c=1 } c && /add:/ { a=1; next } a && /^ *- [A-Z_]+ *$/ { print $2; next } a && /^ *[a-z]/ { exit }' \
		deploy/kubernetes/base/daemonset.yaml
}

check_runtime() {
	if [[ $(id -u) != 0 ]]; then
		skip "runtime: not root"
		return
	fi
	need_cmd setpriv util-linux || { skip "runtime: no setpriv"; return; }
	local caps unitcaps
	caps=$(daemonset_caps | tr '\n' ' ' | sed 's/ $//')
	unitcaps=$(sed -n 's/^CapabilityBoundingSet=//p' deploy/systemd/bansho.service | sed 's/CAP_//g')
	if [[ ${caps} == "${unitcaps}" && -n ${caps} ]]; then
		ok "runtime: the DaemonSet and the unit grant the same capabilities (${caps})"
	else
		bad "runtime: DaemonSet capabilities '${caps}' differ from the unit's '${unitcaps}'"
	fi
	local set=-all
	for c in ${caps}; do set+=",+${c,,}"; done
	mkdir -p "${tmp}/prot" "${tmp}/out"
	cat >"${tmp}/run.yaml" <<EOF
protect: {paths: ["${tmp}/prot"]}
outputs: {stdout: {enabled: false}, file: {path: "${tmp}/out/events.json"}}
content: {hash_key: "deploy-check-key-not-a-secret-0123456789"}
store: {dir: "${tmp}/store"}
EOF
	# run NAME BOUNDING-SET [WRAPPER...]: the sensor, as uid 0 with only
	# the bounding set's capabilities, until it has started (loading takes
	# seconds on a busy machine; at most 60 s) or exited, then 2 s more and
	# SIGTERM.
	run() {
		local name=$1 bset=$2 pid i target wrapped=$(($# > 2))
		shift 2
		rm -f "${tmp}/out/events.json"
		setpriv --inh-caps=-all --ambient-caps=-all --bounding-set="${bset}" -- \
			"$@" "${repo}/bin/bansho" run --config "${tmp}/run.yaml" >"${tmp}/${name}.log" 2>&1 &
		pid=$!
		for ((i = 0; i < 600; i++)); do
			grep -q '"sensor-started"' "${tmp}/out/events.json" 2>/dev/null && break
			kill -0 "${pid}" 2>/dev/null || break
			sleep 0.1
		done
		sleep 2
		# Under a wrapper (strace) the sensor is its child: stop the sensor,
		# so it shuts down as it would under SIGTERM from systemd.
		target=${pid}
		[[ ${wrapped} == 1 ]] && target=$(pgrep -P "${pid}" | head -n 1)
		kill -TERM "${target:-${pid}}" 2>/dev/null || true
		for ((i = 0; i < 300; i++)); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "${pid}" 2>/dev/null || true
		wait "${pid}" 2>/dev/null || true
	}
	run full "${set}"
	if grep -q '"sensor-started"' "${tmp}/out/events.json" 2>/dev/null; then
		ok "runtime: the sensor runs with exactly the DaemonSet's capabilities"
	elif grep -qi "bpf\|btf" "${tmp}/full.log" && [[ ${BANSHO_REQUIRE_BPF:-0} != 1 ]]; then
		skip "runtime: BPF unavailable here: $(tail -n 1 "${tmp}/full.log")"
		return
	else
		bad "runtime: the sensor did not start with ${caps}: $(tail -n 1 "${tmp}/full.log")"
	fi
	# CAP_SYS_ADMIN covers CAP_BPF and CAP_PERFMON, so minimality is shown
	# on the set without it (components/without-tls-plaintext): it runs,
	# and it fails once CAP_PERFMON goes too.
	local notls=${set/,+sys_admin/}
	run notls "${notls}"
	if grep -q '"sensor-started"' "${tmp}/out/events.json" 2>/dev/null; then
		ok "runtime: without CAP_SYS_ADMIN the sensor still runs"
	else
		bad "runtime: without CAP_SYS_ADMIN the sensor does not start: $(tail -n 1 "${tmp}/notls.log")"
	fi
	run noperfmon "${notls/,+perfmon/}"
	if grep -q "operation not permitted" "${tmp}/noperfmon.log" && ! grep -q '"sensor-started"' "${tmp}/out/events.json" 2>/dev/null; then
		ok "runtime: without CAP_SYS_ADMIN and CAP_PERFMON the sensor refuses to start"
	else
		bad "runtime: the sensor started without CAP_PERFMON and CAP_SYS_ADMIN: is the list still minimal?"
	fi
	# With a libssl on this host, CAP_SYS_ADMIN is what attaches its probe.
	if compgen -G '/usr/lib/x86_64-linux-gnu/libssl.so.*' >/dev/null; then
		if grep -q 'TLS plaintext probes attached.*libssl' "${tmp}/full.log" && grep -q 'cannot probe TLS library' "${tmp}/notls.log"; then
			ok "runtime: the SSL_write probe attaches with CAP_SYS_ADMIN and not without"
		else
			bad "runtime: CAP_SYS_ADMIN is not what the SSL_write probe needs (see the logs): revisit the capability list"
		fi
	else
		skip "runtime: no libssl here to show what CAP_SYS_ADMIN is for"
	fi
	check_pod_view "${set}"
	check_notify "${set}"
	if ! need_cmd strace strace; then
		skip "runtime: no strace for the syscall filter check"
		return
	fi
	run strace "${set}" strace -f -qq -o "${tmp}/strace.out"
	awk '{ sub(/^[0-9]+ +/, ""); if (match($0, /^[a-z0-9_]+\(/)) print substr($0, 1, RLENGTH - 1) }' "${tmp}/strace.out" |
		sort -u | grep -vx 'execve' >"${tmp}/used"
	local filter
	filter=$(sed -n 's/^SystemCallFilter=//p' deploy/systemd/bansho.service)
	systemd-analyze syscall-filter >"${tmp}/groups"
	awk -v want="${filter}" '
		/^@/ { g = $1; next }
		/^ +[@a-z0-9_-]+$/ { gsub(/ /, ""); m[g] = m[g] " " $0 }
		END {
			n = split(want, w, " "); for (i = 1; i <= n; i++) q[w[i]] = 1
			do { more = 0
				for (x in q) if (x ~ /^@/ && !(x in done)) {
					done[x] = 1; k = split(m[x], a, " ")
					for (j = 1; j <= k; j++) if (!(a[j] in q)) { q[a[j]] = 1; more = 1 }
				}
			} while (more)
			for (x in q) if (x !~ /^@/) print x
		}' "${tmp}/groups" | sort -u >"${tmp}/allowed"
	local outside
	outside=$(comm -23 "${tmp}/used" "${tmp}/allowed" | tr '\n' ' ')
	if [[ -s ${tmp}/used ]] && [[ -z ${outside} ]] && grep -q '"sensor-started"' "${tmp}/out/events.json" 2>/dev/null; then
		ok "runtime: all $(wc -l <"${tmp}/used") syscalls of a run are inside the unit's SystemCallFilter"
	else
		bad "runtime: syscalls outside SystemCallFilter=${filter}: ${outside:-none traced}"
	fi
}

# check_pod_view BOUNDING-SET: the base ConfigMap's configuration, run the
# way the DaemonSet runs it: in its own mount namespace where the node's
# protected directory and /usr are read-only bind mounts at the container
# paths (prefixed by a scratch root here), with only the DaemonSet's
# capabilities. A file the node opens through its own path must be reported
# as protected (identity survives the bind mount), a file beside it must
# not, and the node's libssl must get the SSL_write probe via /host/usr.
check_pod_view() {
	local bset=$1
	need_cmd unshare util-linux || { skip "runtime: no unshare"; return; }
	local node=${tmp}/node ctr=${tmp}/ctr pid i
	mkdir -p "${node}/srv/mynumber" "${node}/srv/other" "${ctr}/srv/mynumber" "${ctr}/host/usr" "${ctr}/etc/bansho/rules" \
		"${ctr}/var/lib/bansho" "${tmp}/out"
	cp deploy/kubernetes/base/rules/*.yaml "${ctr}/etc/bansho/rules/"
	rm -f "${ctr}/etc/bansho/rules/kustomization.yaml"
	sed -e "s|/srv/mynumber|${ctr}/srv/mynumber|" -e "s|/host/usr/|${ctr}/host/usr/|" \
		-e "s|/etc/bansho/rules|${ctr}/etc/bansho/rules|" -e "s|/var/lib/bansho/store|${ctr}/var/lib/bansho/store|" \
		-e "s|^    path: \"\"|    path: \"${tmp}/out/pod.json\"|" deploy/kubernetes/base/config/bansho.yaml >"${tmp}/pod.yaml"
	# shellcheck disable=SC2016 # expanded by the inner shell, from its arguments
	BANSHO_CONTENT_HASH_KEY=deploy-check-key-not-a-secret-0123456789 \
		unshare -m --propagation private sh -c '
			mount --bind -o ro "$1/srv/mynumber" "$2/srv/mynumber" &&
			mount --bind -o ro /usr "$2/host/usr" &&
			exec setpriv --inh-caps=-all --ambient-caps=-all --bounding-set="$3" -- "$4" run --config "$5"' \
		sh "${node}" "${ctr}" "${bset}" "${repo}/bin/bansho" "${tmp}/pod.yaml" >"${tmp}/pod.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '"sensor-started"' "${tmp}/out/pod.json" 2>/dev/null && break
		kill -0 "${pid}" 2>/dev/null || break
		sleep 0.1
	done
	# The node writes and reads its data by the node's own path.
	echo "氏名,個人番号" >"${node}/srv/mynumber/roster.csv"
	cat "${node}/srv/mynumber/roster.csv" >/dev/null
	echo "not protected" >"${node}/srv/other/notes.txt"
	for ((i = 0; i < 50; i++)); do
		grep -q 'roster.csv' "${tmp}/out/pod.json" 2>/dev/null && break
		sleep 0.1
	done
	sleep 1
	kill -TERM "${pid}" 2>/dev/null || true
	wait "${pid}" 2>/dev/null || true
	if grep -q 'roster.csv.*"protected":true' "${tmp}/out/pod.json" 2>/dev/null &&
		! grep -q 'notes.txt' "${tmp}/out/pod.json"; then
		ok "runtime: base configuration in a pod-like mount namespace: the node's access to its protected file is recorded, the file beside it is not"
	else
		bad "runtime: pod-like run: roster.csv protected: $(grep -c 'roster.csv.*"protected":true' "${tmp}/out/pod.json" 2>/dev/null), notes.txt seen: $(grep -c notes.txt "${tmp}/out/pod.json" 2>/dev/null); $(tail -n 1 "${tmp}/pod.log")"
	fi
	if compgen -G '/usr/lib/x86_64-linux-gnu/libssl.so.*' >/dev/null; then
		if grep -q "TLS plaintext probes attached.*${ctr}/host/usr/lib/x86_64-linux-gnu/libssl" "${tmp}/pod.log"; then
			ok "runtime: the node's libssl gets the SSL_write probe through /host/usr"
		else
			bad "runtime: the node's libssl was not probed through /host/usr: $(grep -m1 TLS "${tmp}/pod.log")"
		fi
	fi
}

# check_notify BOUNDING-SET: what bansho.service (Type=notify, WatchdogSec)
# and the DaemonSet's probes rely on, with the DaemonSet's capabilities:
# READY=1 on $NOTIFY_SOCKET, WATCHDOG=1 at half of $WATCHDOG_USEC,
# STOPPING=1 at SIGTERM, /healthz and /readyz answering 200. Runs once the
# sensor has sd_notify and metrics.listen (the ops work).
check_notify() {
	local bset=$1
	if ! grep -q NOTIFY_SOCKET cmd/bansho/*.go || ! grep -q '"metrics.listen"' internal/config/*.go; then
		echo "note  runtime: this tree has no sd_notify or metrics.listen yet: bansho.service's Type=notify and the probes need them"
		return
	fi
	if ! need_cmd python3 python3 || ! need_cmd curl curl; then
		skip "runtime: no python3 or curl for the sd_notify check"
		return
	fi
	local sock=${tmp}/notify.sock port=19464 pid i
	python3 - "${sock}" 40 "${tmp}/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(float(sys.argv[2]))
t0 = time.time()
with open(sys.argv[3], "w", buffering=1) as out:
    while time.time() - t0 < float(sys.argv[2]):
        try:
            msg = s.recv(4096).decode(errors="replace")
        except socket.timeout:
            break
        out.write("%.1f %s\n" % (time.time() - t0, msg))
        if "STOPPING=1" in msg:
            break
PY
	local rx=$!
	for ((i = 0; i < 50; i++)); do [[ -S ${sock} ]] && break; sleep 0.1; done
	{ cat "${tmp}/run.yaml"; echo "metrics: {listen: \"127.0.0.1:${port}\"}"; } >"${tmp}/notify.yaml"
	rm -f "${tmp}/out/events.json"
	NOTIFY_SOCKET=${sock} WATCHDOG_USEC=4000000 setpriv --inh-caps=-all --ambient-caps=-all --bounding-set="${bset}" -- \
		"${repo}/bin/bansho" run --config "${tmp}/notify.yaml" >"${tmp}/notify-run.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		grep -q READY=1 "${tmp}/notify.log" 2>/dev/null && break
		kill -0 "${pid}" 2>/dev/null || break
		sleep 0.1
	done
	sleep 5 # two watchdog intervals
	local healthz readyz
	healthz=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port}/healthz" || true)
	readyz=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port}/readyz" || true)
	kill -TERM "${pid}" 2>/dev/null || true
	wait "${pid}" 2>/dev/null || true
	wait "${rx}" 2>/dev/null || true
	if grep -q READY=1 "${tmp}/notify.log" && [[ $(grep -c WATCHDOG=1 "${tmp}/notify.log") -ge 2 ]] && grep -q STOPPING=1 "${tmp}/notify.log"; then
		ok "runtime: READY=1, WATCHDOG=1 every 2 s of WATCHDOG_USEC=4 s, STOPPING=1 at SIGTERM (Type=notify, WatchdogSec hold)"
	else
		bad "runtime: sd_notify messages: $(tr '\n' ' ' <"${tmp}/notify.log" 2>/dev/null): $(tail -n 1 "${tmp}/notify-run.log")"
	fi
	if [[ ${healthz} == 200 && ${readyz} == 200 ]]; then
		ok "runtime: /healthz and /readyz answer 200 with the DaemonSet's capabilities"
	else
		bad "runtime: /healthz ${healthz:-none}, /readyz ${readyz:-none} (want 200 for the probes)"
	fi
}

check_kubernetes
check_systemd
check_image
check_runtime
echo "deploy-check: ${passed} passed, ${failed} failed, ${skipped} skipped"
[[ ${failed} == 0 ]]
