# bansho: see README.md. Kernel tests load BPF programs and need root.
GO        ?= go
BIN       := bin/bansho
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CONFIG    ?=

.PHONY: all build generate check-generated test test-unit test-bpf test-faults test-kernels bench bench-memory bench-store bench-export bench-throughput run setup fmt vet clean \
	backends-up backends-down install uninstall deploy-check k8s-rules kibana-objects

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/bansho

# Regenerate the committed bpf2go output from bpf/*.c (needs clang).
generate:
	cd sensor && $(GO) generate ./...
	cd pipeline/proctree && $(GO) generate ./...

# Fail when the committed bpf2go output does not match the sources.
check-generated: generate
	@git diff --exit-code --stat -- 'sensor/*_bpfel.go' 'sensor/*_bpfel.o' \
		'pipeline/proctree/*_bpfel.go' 'pipeline/proctree/*_bpfel.o' || \
		{ echo "committed bpf2go output is stale: run 'make generate' and commit it" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- 'sensor/*_bpfel.*' 'pipeline/proctree/*_bpfel.*')" || \
		{ echo "bpf2go output not committed: $$(git status --porcelain -- 'sensor/*_bpfel.*' 'pipeline/proctree/*_bpfel.*')" >&2; exit 1; }

# The whole suite: unit tests, the kernel tests (as root, never skipped:
# BANSHO_REQUIRE_BPF=1) and the staleness check of the generated objects,
# then the kernel matrix on one kernel of each series servers run (5.10,
# 6.1, 6.12, 7.x; the host's kernel was just tested, so no host row; the
# sensor and cmd binaries, about 12 minutes). `make test-kernels` runs
# every kernel listed and the enrichment tests too.
test: setup check-generated vet deploy-check
	$(SUDO) env "PATH=$$PATH" BANSHO_REQUIRE_BPF=1 $(GO) test -count=1 -p 1 -timeout 15m $$($(GO) list ./... | grep -v /test/faults)
	$(MAKE) test-faults
	$(MAKE) test-kernels BANSHO_KERNELS="$(or $(BANSHO_KERNELS),5.10 6.1 6.12 7.3)" BANSHO_KERNEL_HOST=0 \
		BANSHO_KERNEL_PACKAGES="$(or $(BANSHO_KERNEL_PACKAGES),sensor cmd)"

# The standing fault and bad-input suite (docs/faults.md): store damage,
# exporter outages against the real back ends, hostile input to every
# command. Prints the table of cases and verdicts, also kept in
# $(FAULTS_TABLE).
FAULTS_TABLE ?= test/faults/out/table.md
test-faults:
	@mkdir -p $(dir $(FAULTS_TABLE))
	$(SUDO) env "PATH=$$PATH" BANSHO_REQUIRE_BPF=1 BANSHO_FAULTS_TABLE=$(CURDIR)/$(FAULTS_TABLE) \
		$(GO) test -count=1 -timeout 15m ./test/faults/
	@cat $(FAULTS_TABLE)

test-unit:
	$(GO) test -short -count=1 ./...

test-bpf:
	$(SUDO) env "PATH=$$PATH" BANSHO_REQUIRE_BPF=1 $(GO) test -count=1 -p 1 -v ./sensor/...

# Boot Debian's kernels (5.10 to 7.x) under qemu and run the kernel tests
# in each: a matrix kernel x package (docs/kernels.md). As root; about 10
# minutes. BANSHO_KERNELS="6.1 7.3" picks kernels, BANSHO_KERNEL_RUN_SENSOR
# a -test.run filter.
test-kernels:
	$(SUDO) $(if $(SUDO),--preserve-env) env "PATH=$$PATH" \
		$(if $(BANSHO_KERNELS),BANSHO_KERNELS="$(BANSHO_KERNELS)") \
		$(if $(BANSHO_KERNEL_HOST),BANSHO_KERNEL_HOST=$(BANSHO_KERNEL_HOST)) \
		$(if $(BANSHO_KERNEL_PACKAGES),BANSHO_KERNEL_PACKAGES="$(BANSHO_KERNEL_PACKAGES)") bash test/kernels/run.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed" >&2; exit 1; }

bench: build
	$(SUDO) env "PATH=$$PATH" BANSHO=$(CURDIR)/$(BIN) bash bench/run.sh
	$(MAKE) bench-export

# The whole sensor's RSS with BENCH_PROCS (10,000) live processes, and its
# CPU and peak RSS under a load of protected-file work: docs/benchmarks.md.
bench-memory: build
	$(SUDO) env "PATH=$$PATH" BANSHO_BIN=$(CURDIR)/$(BIN) bash bench/memory.sh

# The whole sensor under a driven load stepped up until something is lost:
# documents/s offered and written, CPU per document (user space and kernel
# programs), loss by cause, RSS, with 1, 100 and 10,000 live processes and
# with the exporters; auditd on the same load; the plot. About 10 minutes:
# docs/benchmarks.md. BENCH_RATES, BENCH_PROCS, BENCH_STEP_SECONDS,
# BENCH_EXPORTERS=0, BENCH_AUDITD=0 narrow it.
bench-throughput: build
	$(SUDO) bash bench/deps.sh auditd
	$(GO) build -o bin/throughput ./bench/throughput
	$(SUDO) env "PATH=$$PATH" BANSHO_BIN=$(CURDIR)/$(BIN) bin/throughput

# Events/s from the store to Kafka and to the Elasticsearch bulk API
# (starts its own back ends): see docs/exporters.md.
bench-export:
	bash bench/export.sh

# Store write/read throughput and `bansho timeline` over a day of recorded
# events (BANSHO_BENCH_DAY_DOCS documents, default 2,000,000; about 200 MB
# in a temporary directory, removed afterwards): see docs/store.md.
bench-store:
	$(GO) test -run XXX -bench 'Write|Read' -benchtime 3s ./internal/store/
	$(GO) test -run XXX -bench TimelineDay -benchtime 3x -timeout 30m ./internal/store/timeline/

# Run the sensor on the embedded default (protects /srv/mynumber, which is
# created if missing; JSON lines to stdout and /var/lib/bansho/events.json),
# or on CONFIG=path/to/config.yaml.
run: build
	$(SUDO) mkdir -p /srv/mynumber
	$(SUDO) $(BIN) run $(if $(CONFIG),--config $(CONFIG))

setup:
	$(SUDO) bash test/setup.sh

# Local Kafka-protocol broker (kfake) and Elasticsearch bulk API
# (VictoriaLogs) on loopback, for the exporters: see docs/backends.md.
backends-up:
	bash test/backends/up.sh

backends-down:
	bash test/backends/down.sh

# Install for systemd (docs/deployment.md). DESTDIR and PREFIX are honoured;
# an existing configuration or environment file is never overwritten.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DOCDIR     ?= $(PREFIX)/share/doc/bansho
SYSCONFDIR ?= /etc
UNITDIR    ?= /etc/systemd/system
DESTDIR    ?=

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/bansho
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	sed -e 's|/usr/local/bin/bansho|$(BINDIR)/bansho|' -e 's|/usr/local/share/doc/bansho|$(DOCDIR)|' \
		-e 's|/etc/bansho/|$(SYSCONFDIR)/bansho/|g' deploy/systemd/bansho.service > $(DESTDIR)$(UNITDIR)/bansho.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/bansho.service
	install -m 0644 docs/deployment.md $(DESTDIR)$(DOCDIR)/deployment.md
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/bansho/rules
	test -e $(DESTDIR)$(SYSCONFDIR)/bansho/bansho.yaml || \
		install -m 0600 deploy/systemd/bansho.yaml $(DESTDIR)$(SYSCONFDIR)/bansho/bansho.yaml
	test -e $(DESTDIR)$(SYSCONFDIR)/bansho/bansho.env || \
		install -m 0600 deploy/systemd/bansho.env.example $(DESTDIR)$(SYSCONFDIR)/bansho/bansho.env
	# The default rule pack is the project's: its files are replaced on
	# upgrade; keep local rules in files of other names.
	if [ -d rules ]; then for f in rules/*.yaml; do [ -f "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(SYSCONFDIR)/bansho/rules/; done; fi; true
	@echo "installed; next: systemctl daemon-reload && systemctl enable --now bansho"

# Removes the program and the unit; the configuration, the rules and the
# recorded data (/var/lib/bansho) stay, since they are the operator's.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/bansho $(DESTDIR)$(UNITDIR)/bansho.service $(DESTDIR)$(DOCDIR)/deployment.md
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null
	@echo "removed; kept $(SYSCONFDIR)/bansho and /var/lib/bansho"

# Kubernetes manifests (kustomize + kubeconform), the systemd unit
# (systemd-analyze), the image definition and the capability set, checked
# as in CI: see test/deploy-check.sh.
deploy-check:
	bash test/deploy-check.sh

# Copy rules/ into the Kubernetes base after a rule pack change.
k8s-rules:
	bash deploy/kubernetes/sync-rules.sh

# Regenerate deploy/kibana/bansho.ndjson (a saved search per rule).
kibana-objects:
	BANSHO_UPDATE_DOCS=1 $(GO) test -count=1 -run TestNDJSONUpToDate ./deploy/kibana

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

# Compile the rule pack and run its fixtures (docs/rules.md).
.PHONY: rules-check
rules-check: build
	$(BIN) rules check rules
	$(BIN) rules test rules
