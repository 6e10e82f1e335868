# bansho: see README.md. Kernel tests load BPF programs and need root.
GO        ?= go
BIN       := bin/bansho
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CONFIG    ?=

.PHONY: all build generate check-generated test test-unit test-bpf bench bench-export bench-store run setup fmt vet clean backends-up backends-down

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/bansho

# Regenerate the committed bpf2go output from bpf/*.c (needs clang).
generate:
	cd sensor && $(GO) generate ./...

# Fail when the committed bpf2go output does not match the sources.
check-generated: generate
	@git diff --exit-code --stat -- sensor/bansho_bpfel.go sensor/bansho_bpfel.o || \
		{ echo "committed bpf2go output is stale: run 'make generate' and commit it" >&2; exit 1; }

# The whole suite: unit tests, the kernel tests (as root, never skipped:
# BANSHO_REQUIRE_BPF=1) and the staleness check of the generated objects.
test: setup check-generated vet
	$(SUDO) env "PATH=$$PATH" BANSHO_REQUIRE_BPF=1 $(GO) test -count=1 -p 1 -timeout 15m ./...

test-unit:
	$(GO) test -short -count=1 ./...

test-bpf:
	$(SUDO) env "PATH=$$PATH" BANSHO_REQUIRE_BPF=1 $(GO) test -count=1 -p 1 -v ./sensor/...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed" >&2; exit 1; }

bench: build
	$(SUDO) env "PATH=$$PATH" BANSHO=$(CURDIR)/$(BIN) bash bench/run.sh
	$(MAKE) bench-export

# Events/s from the store to Kafka and to the Elasticsearch bulk API
# (starts its own back ends): see docs/exporters.md.
bench-export:
	bash bench/export.sh

# Store write/read throughput and `bansho timeline` over a day of recorded
# events (BANSHO_BENCH_DAY_DOCS documents, default 2,000,000; about 3.5 GB
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

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
