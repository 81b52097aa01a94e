# The two commands of the README:
#   make run    build and run the exporter on examples/quickstart.yml
#   make test   install what the tests need, then run every test
GO        ?= go
BINARY    ?= mailcluster_exporter
CONFIG    ?= examples/quickstart.yml
LISTEN    ?= 127.0.0.1:19025
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w \
	-X github.com/prometheus/common/version.Version=$(VERSION) \
	-X github.com/prometheus/common/version.Revision=$(REVISION) \
	-X github.com/prometheus/common/version.Branch=$(BRANCH)

.PHONY: all build docker promtool3 prometheus3 e2e-prom3 run deps go-deps test unit tools-test rules-test e2e demo demo-down bench bench-scale fuzz lint clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) .

# The container image (needs a Docker engine); the same version stamps as `make build`.
docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg BRANCH=$(BRANCH) -t mailcluster_exporter:$(VERSION) .

run: go-deps build
	@echo "make run: examples/quickstart.yml points at loopback addresses where nothing listens, so every node reads"
	@echo "offline and red. For a live cluster (keepalived + Postfix + Dovecot, Prometheus, alerts): sudo make demo"
	./$(BINARY) --config.file=$(CONFIG) --web.listen-address=$(LISTEN) --windows.file=.build/windows.json

# Prometheus 3's promtool, built from the prometheus module version pinned in tools/go.mod (go install
# pkg@version: that module's own go.mod and the checksum database pin its dependencies). make unit and
# make tools-test put scripts/promtool-both first on PATH, so every promtool rule test runs with
# Debian's promtool (2.42) and with this one.
PROM_MODULE_VERSION = $(shell cd tools && $(GO) list -m -f '{{.Version}}' github.com/prometheus/prometheus)
PROMTOOL3 := .build/prom3/promtool
BOTH_PROMTOOLS := PATH="$(CURDIR)/scripts/promtool-both:$$PATH" PROMTOOL3="$(CURDIR)/$(PROMTOOL3)"

promtool3: $(PROMTOOL3)

$(PROMTOOL3): tools/go.mod
	GOBIN="$(CURDIR)/.build/prom3" $(GO) install -ldflags '-X github.com/prometheus/common/version.Version=$(PROM_MODULE_VERSION)' \
		github.com/prometheus/prometheus/cmd/promtool@$(PROM_MODULE_VERSION)

# Prometheus 3's server, built the same way (without the web UI's assets: the end-to-end tests use its API).
PROMETHEUS3 := .build/prom3/prometheus

prometheus3: $(PROMETHEUS3)

$(PROMETHEUS3): tools/go.mod
	GOBIN="$(CURDIR)/.build/prom3" $(GO) install -ldflags '-X github.com/prometheus/common/version.Version=$(PROM_MODULE_VERSION)' \
		github.com/prometheus/prometheus/cmd/prometheus@$(PROM_MODULE_VERSION)

# Debian packages the tests use (promtool, amtool, crm_mon, Postfix,
# Dovecot, keepalived…); idempotent, a no-op when all are present.
deps: go-deps
	scripts/install-deps.sh

go-deps:
	scripts/ensure-go.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	cd tools && $(GO) vet ./...

unit: promtool3
	$(BOTH_PROMTOOLS) $(GO) test -race -count=1 ./...

tools-test: promtool3
	cd tools && $(BOTH_PROMTOOLS) $(GO) test -count=1 ./...

test: deps lint unit tools-test e2e e2e-prom3

# End-to-end scenarios on a real two-node mail cluster in network namespaces (root; e2e/README.md):
# testbed up, go test -tags e2e, testbed down (always). Needs the packages of `make deps`.
e2e: build
	e2e/run.sh

# The end-to-end scenarios that lean on rule evaluation over time (steady state, the script-driven
# update procedure, every dashboard query) once more, with Prometheus 3 as the testbed's server; the
# whole suite twice would not fit CI's time (docs/prometheus3.md). E2E_PROM3_RUN=. runs all of it.
E2E_PROM3_RUN ?= TestE2E/(1_|6_|7_)
e2e-prom3: build prometheus3
	PROMETHEUS_BIN="$(CURDIR)/$(PROMETHEUS3)" E2E_RUN='$(E2E_PROM3_RUN)' e2e/run.sh

# The same testbed left running for a look (URLs and commands are printed); stop it with `make demo-down`.
demo: build deps
	e2e/demo.sh

demo-down:
	e2e/testbed/down.sh

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./collector/... ./exporter/...

# Load and scale (root, minutes; not part of `make test`; docs/performance.md):
# (a) side by side with Debian's blackbox_exporter on the e2e testbed (takes the testbed lock),
# (b) 1,000 clusters against bench/fakemail in a private network namespace with a real Prometheus
#     and the bundled rules, (c) a soak of 10,000 /probe scrapes.
bench-scale:
	bench/sidebyside.sh
	bench/scale.sh

# A short run of every fuzz target (the long runs are for a developer's machine).
fuzz:
	scripts/fuzz-all.sh 10s

clean:
	rm -rf $(BINARY) .build
