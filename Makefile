# driftd. `make demo` and `make test` do all the set-up a fresh machine needs.
GO        ?= go
BIN       := $(CURDIR)/bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The commit and its time (not the build's), so a commit builds the same binary.
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE      ?= $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
# The last MPL-licensed Terraform, built from source through the Go module
# proxy when no terraform is on PATH (the releases site may be unreachable).
TERRAFORM_FALLBACK := github.com/hashicorp/terraform@v1.5.7
export PATH := $(BIN):$(PATH)
# The Go release driftd is built and tested with (go.mod's toolchain line).
# The machine's own go fetches it through the module proxy; GOTOOLCHAIN is
# set explicitly because some machines pin GOTOOLCHAIN=local.
export GOTOOLCHAIN := go1.27.3

.PHONY: all build test test-short lint demo terraform browser postgres fuzz soak reliability clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/driftd ./cmd/driftd

# terraform: make sure a terraform binary is on PATH.
terraform:
	@command -v terraform >/dev/null 2>&1 || { \
		echo "terraform not found: installing $(TERRAFORM_FALLBACK) into $(BIN)"; \
		GOBIN=$(BIN) $(GO) install $(TERRAFORM_FALLBACK); }
	@# An empty CLI config: the version needs none, and a missing default one only warns.
	@TF_CLI_CONFIG_FILE=/dev/null terraform version | head -n 1

# browser: Debian's chromium for the status page's browser test (root only;
# elsewhere the test skips unless CI=true).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium for the browser test"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium not found and cannot install it: the browser test will skip"; fi; }

# postgres: Debian's PostgreSQL server for the pg state backend tests
# (internal/testbed/pgtest starts its own server per test; root only; elsewhere
# those tests skip unless CI=true).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || [ -n "$$DRIFTD_PG_BIN" ] || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing postgresql for the pg backend tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
		else echo "PostgreSQL not found and cannot install it: the pg backend tests will skip"; fi; }

# test also gives every fuzz target a short pass: a fixed number of inputs
# (corpus first), so the work done does not depend on the machine's speed.
test: terraform browser postgres
	$(GO) vet ./...
	$(GO) test -race -timeout 25m ./...
	$(GO) run ./internal/reliability/cmd/reliability fuzz -fuzztime 500x ./...
	$(MAKE) test-deploy

# test-deploy: the Dockerfile, Kubernetes manifests, Helm chart, GitHub
# Action, release config and Prometheus rules, each checked by its own
# tool's Go packages (deploy/test: a module of its own, so that helm,
# kustomize, actionlint, goreleaser, buildkit and Prometheus stay out of
# driftd's go.mod).
.PHONY: test-deploy
test-deploy: terraform
	cd deploy/test && $(GO) vet ./... && $(GO) test -timeout 15m ./...

# fuzz: every fuzz target in the repository for FUZZTIME each (a duration,
# or a number of inputs such as 100000x). A failing input is written to the
# package's testdata/fuzz, where plain go test replays it from then on.
FUZZTIME ?= 60s
fuzz:
	$(GO) run ./internal/reliability/cmd/reliability fuzz -fuzztime $(FUZZTIME) ./...

# soak: a daemon on a seconds-long schedule through SOAK_ROUNDS rounds of
# faults (killed and restarted, terraform and providers killed mid-plan, its
# state backend restarted, GitHub failing, a broken config reloaded) while
# drift comes and goes; every round checks reports, issues and state.
SOAK_ROUNDS ?= 24
soak: terraform postgres
	DRIFTD_SOAK_ROUNDS=$(SOAK_ROUNDS) $(GO) test -count=1 -run '^TestSoak$$' -timeout 120m ./cmd/driftd/

# reliability: the whole suite, the soak included, with its account kept.
# Every test and every fuzz target records what it exercised in
# $(RELIABILITY_LOG), and docs/reliability.md is rewritten from those rows,
# naming this command and its settings. By default every test runs;
# RELIABILITY_RUN narrows them (go test -run). The soak's rounds and each
# fuzz target's time are shorter than make soak's and make fuzz's, so that
# the whole account takes about twenty minutes. A failing test records
# nothing; the page is still written and make fails.
RELIABILITY_LOG := $(CURDIR)/.reliability/rows.jsonl
RELIABILITY_RUN ?= .
RELIABILITY_SOAK_ROUNDS ?= 8
RELIABILITY_FUZZTIME ?= 15s
reliability: terraform browser postgres
	rm -rf $(CURDIR)/.reliability && mkdir -p $(CURDIR)/.reliability
	status=0; \
	DRIFTD_RELIABILITY_LOG=$(RELIABILITY_LOG) DRIFTD_SOAK_ROUNDS=$(RELIABILITY_SOAK_ROUNDS) $(GO) test -count=1 -timeout 120m -run '$(RELIABILITY_RUN)' ./... || status=1; \
	DRIFTD_RELIABILITY_LOG=$(RELIABILITY_LOG) $(GO) run ./internal/reliability/cmd/reliability fuzz -fuzztime $(RELIABILITY_FUZZTIME) ./... || status=1; \
	$(GO) run ./internal/reliability/cmd/reliability table -log $(RELIABILITY_LOG) \
		-command "make reliability RELIABILITY_RUN='$(RELIABILITY_RUN)' RELIABILITY_SOAK_ROUNDS=$(RELIABILITY_SOAK_ROUNDS) RELIABILITY_FUZZTIME=$(RELIABILITY_FUZZTIME)" > docs/reliability.md.tmp && \
	mv docs/reliability.md.tmp docs/reliability.md; \
	exit $$status

test-short:
	$(GO) test -short ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(MAKE) --no-print-directory vulncheck

# vulncheck: govulncheck on every package, against Go's online vulnerability
# database when it answers, else against one built from the golang.org/x/vulndb
# module (its OSV reports, indexed by vulndb's own cmd/indexdb) through the
# module proxy. It fails on a vulnerability driftd's code can reach. To
# refresh the offline database, set VULNDB_VERSION to what
# `go list -m golang.org/x/vulndb@latest` prints.
GOVULNCHECK    := golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB_ONLINE  := https://vuln.go.dev
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB_OFFLINE := $(BIN)/vulndb-$(VULNDB_VERSION)
.PHONY: vulncheck
vulncheck:
	@if curl -fsS -m 15 -o /dev/null $(VULNDB_ONLINE)/index/db.json.gz 2>/dev/null; then \
		db=$(VULNDB_ONLINE); echo "govulncheck: online database $$db"; \
	else \
		$(MAKE) --no-print-directory $(VULNDB_OFFLINE)/index/modules.json || exit 1; \
		db=file://$(VULNDB_OFFLINE); \
		echo "govulncheck: $(VULNDB_ONLINE) unreachable: offline database from golang.org/x/vulndb@$(VULNDB_VERSION)"; \
	fi; \
	$(GO) run $(GOVULNCHECK) -db $$db ./...

$(VULNDB_OFFLINE)/index/modules.json:
	@echo "building the offline vulnerability database (golang.org/x/vulndb@$(VULNDB_VERSION))"
	$(GO) mod download golang.org/x/vulndb@$(VULNDB_VERSION)
	rm -rf $(VULNDB_OFFLINE).tmp
	$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) \
		-vulns $$($(GO) env GOMODCACHE)/golang.org/x/vulndb@$(VULNDB_VERSION)/data/osv -out $(VULNDB_OFFLINE).tmp
	rm -rf $(VULNDB_OFFLINE) && mv $(VULNDB_OFFLINE).tmp $(VULNDB_OFFLINE)

# demo: real example workspaces, applied with the test provider, changed out
# of band, then scanned. The demo keeps its own plugin cache: the test
# provider is rebuilt as the same version whenever its source changes, which
# a shared cache would rightly refuse. driftd exits 2 when it finds drift, which is the
# point of the demo.
demo: build terraform
	$(GO) run ./internal/testbed/cmd/testbed demo --dir $(CURDIR)/.demo
	$(BIN)/driftd scan --config $(CURDIR)/.demo/workspaces.yaml --cache-dir $(CURDIR)/.demo/cache; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 2 ]

clean:
	rm -rf $(BIN) .demo

# bench: the benchmark harness (internal/bench): driftd against bare
# terraform and a measured floor on a real testbed fleet, check overhead, a
# 20,000-resource plan, an idle daemon, one 5,000-resource workspace at two
# concurrencies, then the Go benchmarks of analysis and rendering. The
# defaults finish in about ten minutes on 2 cores; the target size is
#   make bench BENCH_ARGS="-workspaces 40 -resources 20 -latency 50ms"
# It reports and never fails on a slow figure (add -check to BENCH_ARGS for
# that). Results: bench/out/*.json.
BENCH_ARGS ?= -workspaces 12 -resources 10 -latency 50ms -plan-resources 1000 -repeats 3
.PHONY: bench
bench: terraform
	$(GO) run ./internal/bench/cmd/bench -out $(CURDIR)/bench/out $(BENCH_ARGS)
	$(GO) test -run '^$$' -bench . -benchtime 3x ./drift/ ./drift/render/
