# jwtcache — the token cache. `make run` serves on :8080 with the in-memory
# store and the built-in development token service; `make test` runs every
# test with the race detector.

GO        ?= go
BIN       := bin/jwtcache
PKGS      := ./...
BENCHTIME ?= 1s
SOAK      ?= 8m
FUZZTIME  ?= 30s
# The version stamped into the binary; empty outside a git checkout, where
# the binary reports what the go command recorded instead.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS   := -X main.version=$(VERSION)
# The image: jwtcache:<version>, built by docker when a daemon answers,
# else by podman. IMAGE_CTX is the build context make image fills.
IMAGE     ?= jwtcache:$(or $(VERSION),devel)
IMAGE_CTX ?= bin/image
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
CONTAINER_ENGINE ?= $(shell if docker info >/dev/null 2>&1; then echo docker; elif command -v podman >/dev/null 2>&1; then echo podman; fi)
# staticcheck, pinned: `go run` fetches this exact version into the module
# cache once, without adding it to go.mod.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

export PATH := $(PATH):/usr/local/go/bin:$(shell $(GO) env GOPATH 2>/dev/null)/bin

# The OTLP/HTTP trace exporter imports gRPC (open-telemetry/opentelemetry-go
# #2579), whose x/net/trace defeats the linker's dead-code elimination:
# 37 MB instead of 24 MB stripped. jwtcache uses no gRPC, so nothing is lost.
export GOFLAGS += -tags=grpcnotrace

.PHONY: all build run test test-short bench soak fuzz generate fmt vet lint image check-generate clean

all: build test

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/jwtcache

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

# The benchmark report (about six minutes, four of them the fleet-scale
# section): every figure beside its baseline, measured in one run, written
# to BENCHMARKS.md with its SVG charts in docs/bench/; then the packages'
# Go benchmarks (in-process hit vs x/oauth2, REST handler vs bare Gin, ...).
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

# A static binary (no libc, so it runs on the empty base) with the CA bundle,
# FROM scratch, as a numeric non-root user; see deploy/image/Dockerfile.
image:
	@test -n "$(CONTAINER_ENGINE)" || { echo "make image: no docker daemon answers and podman is not installed"; exit 1; }
	@test -r "$(CA_BUNDLE)" || { echo "make image: no CA bundle at $(CA_BUNDLE) (install ca-certificates, or set CA_BUNDLE)"; exit 1; }
	rm -rf $(IMAGE_CTX) && mkdir -p $(IMAGE_CTX)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(IMAGE_CTX)/jwtcache ./cmd/jwtcache
	cp $(CA_BUNDLE) $(IMAGE_CTX)/ca-certificates.crt
	$(CONTAINER_ENGINE) build $(if $(filter podman,$(CONTAINER_ENGINE)),--layers=false) --build-arg VERSION=$(or $(VERSION),devel) -f deploy/image/Dockerfile -t $(IMAGE) $(IMAGE_CTX)
	@echo "make image: built $(IMAGE) with $(CONTAINER_ENGINE)"

# staticcheck's default checks, clean on the whole tree; a finding that is
# wrong in one place is silenced there with a //lint:ignore and its reason.
lint:
	$(GO) run $(STATICCHECK) $(PKGS)

clean:
	rm -rf bin
