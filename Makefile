# attestd — every developer and CI command. `make help` lists them.
#
# Tools are pinned in tools/*/go.mod and run through `go tool`, so nothing
# needs installing by hand beyond Go itself (and gcc for the race detector;
# .ci/deps installs or names what is missing).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
BUF := go tool -modfile=tools/buf/go.mod buf
FUZZTIME ?= 10s

.PHONY: help run test deps check gen gen-check lint breaking unit attack attack-short fuzz bench perf

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

run: ## run attestd (on the embedded Stytch emulator unless STYTCH_PROJECT_ID and STYTCH_SECRET are set)
	go run ./cmd/attestd

test: deps check unit attack-short fuzz ## the whole test suite: what CI runs
	@echo "make test: all checks and tests passed"

deps: ## install or name what the tests need
	@bash .ci/deps

check: lint gen-check breaking ## formatting, vet, buf lint/format, stale gen/, breaking changes
	@out=$$(gofmt -l cmd internal emulator tools clients examples perf attack); test -z "$$out" || { echo "$$out"; echo "gofmt: the files above need formatting"; exit 1; }
	go vet ./...

lint: ## buf lint and buf format (part of make check)
	$(BUF) lint
	$(BUF) format -d --exit-code proto

gen: ## regenerate everything under gen/ from proto/ (Go, gateway, OpenAPI, Python, TypeScript)
	$(BUF) format -w proto
	$(BUF) generate
	$(BUF) generate --template buf.gen.clients.yaml

gen-check: ## fail when gen/ is not what proto/ generates
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(BUF) generate -o "$$tmp"; \
	$(BUF) generate --template buf.gen.clients.yaml -o "$$tmp"; \
	diff -r "$$tmp/gen" gen >/dev/null || { diff -r "$$tmp/gen" gen | head -20; echo "gen/ is stale: run 'make gen' and commit the result"; exit 1; }; \
	echo "gen/ is up to date"

breaking: ## WIRE_JSON breaking-change check against the previous commit
	@bash .ci/breaking

unit: ## go test with the race detector (and TestSoak at full size)
	ATTESTD_SOAK_CALLS=4000 go test -race -count=1 -timeout 10m $$(go list ./... | grep -v /attack$$)

attack: ## the attack/chaos suite at full size, verbose (figures: RSS, durations, counts)
	go test -count=1 -timeout 30m -v ./attack -args -attack.full

attack-short: ## the attack/chaos suite at its short size (part of make test)
	go test -count=1 -timeout 10m ./attack

fuzz: ## run each fuzzer briefly (FUZZTIME=10s)
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    go test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=1s $$pkg; \
	  done; \
	done

perf: ## the harness: upstream alone, nginx, the Go floor, ReverseProxy, attestd REST and gRPC; medians of 3 runs (PERF_ARGS="-d 10s -c 1,16,64 -runs 3")
	@bash perf/deps
	go run ./perf $(PERF_ARGS)

bench: ## benchmarks in benchstat format (bench.txt)
	go test -run='^$$' -bench=. -benchmem -count=6 ./... | tee bench.txt

# --- Deploy: the container image and the Helm chart (see README "Deploy") ---

PODMAN ?= podman
# podman settings this machine needs (runc, explicit ulimits, host network).
export CONTAINERS_CONF ?= $(CURDIR)/deploy/podman/containers.conf
# The release version: the chart's appVersion. Stamped into the binary
# (internal/version, shown by `attestd --version`, the User-Agent and
# attestd_build_info) and used for the image tag and labels.
VERSION ?= $(shell sed -n 's/^appVersion: "\(.*\)"/\1/p' deploy/helm/attestd/Chart.yaml)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
STAMP := -X github.com/attestd/attestd/internal/version.version=$(VERSION) -X github.com/attestd/attestd/internal/version.commit=$(REVISION)
IMAGE ?= localhost/attestd:$(VERSION)
# The base under the binary: the local scratch + CA bundle + passwd one by default;
# any image with /etc/ssl/certs/ca-certificates.crt works (e.g. gcr.io/distroless/static:nonroot).
LOCAL_BASE := localhost/attestd-base:latest
BASE ?= $(LOCAL_BASE)
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
GOARCH_IMAGE ?= $(shell go env GOARCH)

.PHONY: build image image-base deploy-test

build: ## bin/attestd, version-stamped (bin/attestd --version)
	go build -trimpath -ldflags "$(STAMP)" -o bin/attestd ./cmd/attestd

image-base: ## the local base image (scratch + the host's CA bundle + uid 65532), built without any registry
	@test -s $(CA_BUNDLE) || { echo "image-base: $(CA_BUNDLE) is missing: apt-get install ca-certificates"; exit 1; }
	rm -rf bin/image-base && mkdir -p bin/image-base
	cp $(CA_BUNDLE) bin/image-base/ca-certificates.crt
	cp deploy/image/rootfs/passwd deploy/image/rootfs/group bin/image-base/
	$(PODMAN) build -q -f deploy/image/base.Containerfile -t $(LOCAL_BASE) bin/image-base

image: ## the container image (IMAGE=localhost/attestd:VERSION; BASE=… for another base image)
	@command -v $(PODMAN) >/dev/null || { echo "image: podman is missing (apt-get install podman buildah runc)"; exit 1; }
	@if [ "$(BASE)" = "$(LOCAL_BASE)" ]; then $(MAKE) --no-print-directory image-base; fi
	rm -rf bin/image && mkdir -p bin/image
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_IMAGE) go build -trimpath -ldflags "-s -w $(STAMP)" -o bin/image/attestd ./cmd/attestd
	$(PODMAN) build -f Containerfile -t $(IMAGE) \
	  --build-arg BASE=$(BASE) --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	  --build-arg CREATED=$$(git log -1 --format=%cI 2>/dev/null || date -u +%FT%TZ) \
	  bin/image
	@echo "image: built $(IMAGE)"

deploy-test: ## the Helm chart (lint, unit tests, kubeconform) and the image run with the chart's settings (podman)
	@bash deploy/test/run

# --- make e2e-k8s: the chart on a real Kubernetes control plane (slow; not in make test or .ci/run) ---

.PHONY: e2e-k8s

e2e-k8s: ## the chart on kube-apiserver + etcd + controller-manager + scheduler + kwok nodes: apply, helm install --wait, rolling upgrade, PDB-stopped drain (first run builds Kubernetes: ~25 min, ~3 GB)
	@bash deploy/e2e/run
