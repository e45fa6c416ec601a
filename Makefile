# ccserver — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
export GOTOOLCHAIN := local
BIN := $(CURDIR)/bin
FUZZTIME ?= 10s

.PHONY: all build test check vet lint vuln unit fuzz e2e e2e-bench run demo bench bench-smoke clean

# Pinned tools, installed into bin/tools on first use.
TOOLS := $(BIN)/tools
STATICCHECK := $(TOOLS)/staticcheck
GOVULNCHECK := $(TOOLS)/govulncheck
# The offline Go vulnerability database (no network in CI).
VULNDB ?= ../shared/vulndb/osv.tgz
# The product's modules: the core, the fabric-chaincode-go adapter and the
# contract-api example. e2e/ and bench/ have their own targets.
MODULES := . fabricshim examples/contractapi
# Test-only modules: heavy CA servers (step-ca, cfssl with SQLite) the core
# go.mod must not list; vetted, linted and tested, not vuln-scanned (they
# never ship).
TEST_MODULES := pkitest

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@set -e; for m in $(MODULES) $(TEST_MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...); done

unit:
	@set -e; for m in $(MODULES) $(TEST_MODULES); do echo "go test -race ($$m)"; (cd $$m && $(GO) test -race -count=1 -timeout 20m ./...); done
	cd bench && $(GO) test -count=1 ./compat/

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

$(GOVULNCHECK):
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@v1.9.0

# staticcheck over every module of the repository.
lint: $(STATICCHECK)
	@set -e; for m in $(MODULES) $(TEST_MODULES) e2e bench; do echo "staticcheck ($$m)"; (cd $$m && $(STATICCHECK) ./...); done

# govulncheck against the offline database: exit 3 means a vulnerable
# symbol our code reaches.
vuln: $(GOVULNCHECK)
	@if [ ! -f "$(VULNDB)" ]; then echo "vuln: no offline vulnerability database at $(VULNDB); set VULNDB=path/to/osv.tgz"; exit 1; fi
	@db=$$(mktemp -d) && trap 'rm -rf "$$db"' EXIT && tar -xzf "$(VULNDB)" -C "$$db" && \
	  for m in $(MODULES); do echo "govulncheck ($$m)"; (cd $$m && $(GOVULNCHECK) -db "file://$$db/osv" ./...) || exit $$?; done

# Short fuzz runs of every fuzz target; the seed corpus also runs in `unit`.
fuzz:
	@set -e; for m in $(MODULES); do (cd $$m && for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    GO=$(GO) $(CURDIR)/scripts/fuzz.sh $$pkg $$f $(FUZZTIME); \
	  done; \
	done); done

test: vet lint unit fuzz vuln

# The quick loop while developing: format, vet, staticcheck, tests in short
# mode (no soaks, no child processes), without the race detector or fuzzing.
check: vet lint
	@set -e; for m in $(MODULES); do echo "go test -short ($$m)"; (cd $$m && $(GO) test -short -count=1 -timeout 10m ./...); done

# Tests against a real Fabric network (the e2e module; -p 1: one package's
# network at a time, so no two pick the same free loopback port): every scenario on
# Fabric 2.5.16, the stub-area and parity tests again on 3.1.5. Binaries come from
# FABRIC_BIN, or are unpacked once from ../shared/fabric into the user cache.
E2E_VERSIONS_ALL ?= 2.5.16
E2E_VERSIONS_STUB ?= 3.1.5
e2e:
	cd e2e && $(GO) vet ./... && \
	for v in $(E2E_VERSIONS_ALL); do FABRIC_VERSION=$$v $(GO) test -p 1 -count=1 -timeout 20m ./... || exit 1; done && \
	for v in $(E2E_VERSIONS_STUB); do FABRIC_VERSION=$$v $(GO) test -p 1 -count=1 -timeout 10m -run 'TestStubAreas|TestPeerParity|TestContractAPI|TestStartStop' ./... || exit 1; done

# The end-to-end benchmark (e2e/cmd/peerbench, docs/performance.md): the same
# chaincode on our shim and on fabric-chaincode-go through the real peer and
# the gateway client, alternating; tx/s, p50/p99, CPU per transaction of the
# chaincode server, peer and orderer. About 2 minutes per Fabric version on
# 2 cores with the defaults (3 rounds x 5 s, 16 workers); more with e.g.
# PEERBENCH_FLAGS='-rounds 5 -duration 10s -workers 32'. `make e2e` only
# compiles it and smoke-runs it for a few seconds (TestPeerBenchSmoke).
E2E_BENCH_VERSIONS ?= 2.5.16 3.1.5
PEERBENCH_FLAGS ?=
e2e-bench:
	cd e2e && $(GO) build -o $(BIN)/e2e/ ./cmd/peerbench ./cmd/benchcc && \
	for v in $(E2E_BENCH_VERSIONS); do FABRIC_VERSION=$$v $(BIN)/e2e/peerbench -benchcc $(BIN)/e2e/benchcc $(PEERBENCH_FLAGS) || exit 1; done

# Dev PKI under certs/ (if none), then ccserver with mTLS in the foreground.
run: build
	BIN=$(BIN) scripts/run.sh

# The whole round trip, unattended: server, invokes/queries, renewal under
# load with zero errors, clean stop.
demo: build
	BIN=$(BIN) scripts/demo.sh

# The comparison module (its own go.mod): builds the three servers and runs
# each under the real load generator briefly; no timing is asserted.
bench-smoke:
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...

# The full comparison of docs/performance.md (about 12 minutes on 2 cores).
bench:
	bench/run.sh

clean:
	rm -rf $(BIN)

# Chaos scenarios against real ccserver/ccpeer processes (internal/chaostest),
# the long version; CI runs `go test -short ./internal/chaostest/` in unit.
.PHONY: chaos
chaos:
	CCSERVER_CHAOS=1 $(GO) test -count=1 -v -timeout 30m ./internal/chaostest/
