# jwtcache — the token cache. `make run` serves on :8080 with the in-memory
# store and the built-in development token service; `make test` runs every
# test with the race detector.

GO        ?= go
BIN       := bin/jwtcache
PKGS      := ./...
BENCHTIME ?= 1s
SOAK      ?= 8m
FUZZTIME  ?= 30s

export PATH := $(PATH):/usr/local/go/bin:$(shell $(GO) env GOPATH 2>/dev/null)/bin

.PHONY: all build run test test-short bench soak fuzz generate fmt vet check-generate clean

all: build test

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/jwtcache

# The development setup: memory store, and a built-in token service that
# signs real JWTs (it says so loudly in the log). Point JWT_TOKEN_SERVICE_URL
# at a real token service to use that one instead.
run: build
	./$(BIN) serve --dev

test: vet
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

# The same without the slow multi-process and cluster tests.
test-short:
	$(GO) test -race -short -count=1 $(PKGS)

# The benchmark report (about two minutes): every figure beside its baseline,
# measured in one run, written to BENCHMARKS.md; then the packages' Go
# benchmarks (in-process hit vs x/oauth2, REST handler vs bare Gin, ...).
bench:
	$(GO) run ./cmd/benchreport -out BENCHMARKS.md
	$(GO) test -run "^$$" -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

# Three replicas under load and scheduled faults for $(SOAK); it stops by
# itself. make test runs a 45 s version.
soak:
	JWTCACHE_SOAK=$(SOAK) $(GO) test -race -count=1 -v -run '^TestSoak$$' -timeout 10m ./cmd/jwtcache

# Each fuzz target for $(FUZZTIME); their seed corpora run in make test.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzServiceName$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./adapters/rest
	$(GO) test -run '^$$' -fuzz '^FuzzIssueResponse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./adapters/tokenservice
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./adapters/redisstore
	$(GO) test -run '^$$' -fuzz '^FuzzRoundTrip$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./adapters/redisstore
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./adapters/redisstore
	$(GO) test -run '^$$' -fuzz '^FuzzEnvValue$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./config
	$(GO) test -run '^$$' -fuzz '^FuzzClip$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/textclip

generate:
	$(GO) generate ./...

check-generate: generate
	git diff --exit-code -- mocks adapters

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)

clean:
	rm -rf bin
