# Keel's developer tasks. `make help` lists them. Plain POSIX make: no GNU
# extensions, so any make runs it.

.POSIX:

GO = go
# golangci-lint is pinned in tools/go.mod, a module of its own, so the main
# module's go.mod carries no tool dependencies.
LINT = $(GO) tool -modfile=tools/go.mod golangci-lint
FUZZTIME = 10s
FUZZTIME_SHORT = 5s
COUNT = 5

.PHONY: help test test-short race fmt fmt-check vet lint vet-sh fuzz fuzz-short bench bench-check bench-proxy cover clean

help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  %-12s %s\n", $$1, $$2 }' Makefile

test: fmt-check vet lint vet-sh race fuzz-short bench-check ## everything CI runs: gofmt, vet, lint, house rules, race tests, short fuzz, bench smoke
	@echo "make test: all checks passed"

test-short: ## quick tests: go test -short, no race detector
	$(GO) test -short -count=1 -timeout=$(TEST_TIMEOUT) ./...

# A package's tests take seconds; -timeout turns a hang into a failure with a
# goroutine dump long before CI's own limit.
TEST_TIMEOUT = 5m

race: ## all tests with the race detector
	$(GO) test -race -count=1 -timeout=$(TEST_TIMEOUT) ./...

fmt: ## format the code (gofmt -s)
	gofmt -s -w .

fmt-check: ## fail if any file needs gofmt
	@out="$$(gofmt -s -l .)"; if [ -n "$$out" ]; then echo "gofmt -s would change:"; echo "$$out"; exit 1; fi

vet: ## go vet, in the main module and in bench/
	$(GO) vet ./...
	cd bench && $(GO) vet ./...

lint: ## golangci-lint (config in .golangci.yml), in the main module and in bench/
	$(LINT) run ./...
	cd bench && $(GO) tool -modfile=../tools/go.mod golangci-lint run --config ../.golangci.yml ./...

vet-sh: ## house rules that linters do not know (scripts/vet.sh)
	./scripts/vet.sh

fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

fuzz-short: ## run every fuzz target for FUZZTIME_SHORT each (default 5s)
	FUZZTIME=$(FUZZTIME_SHORT) ./scripts/fuzz.sh

bench: ## compare Keel with other libraries; prints a markdown table (COUNT runs, default 5)
	COUNT=$(COUNT) ./bench/run.sh

bench-proxy: ## Keel's gateway against nginx, HAProxy, Caddy and httputil.ReverseProxy (needs wrk nginx haproxy caddy; ROUNDS=3 for medians)
	bash bench/proxy/run.sh

bench-check: ## run bench/ tests and every comparison benchmark once (a smoke test, not a measurement)
	cd bench && $(GO) test -count=1 -run=. -bench=. -benchtime=1x ./...

cover: ## tests with coverage; writes cover.out and prints the total
	$(GO) test -count=1 -covermode=atomic -coverprofile=cover.out ./...
	$(GO) tool cover -func=cover.out | tail -n 1

clean: ## remove build, coverage and benchmark output
	rm -rf bin dist cover.out bench/results
