# Parley — common tasks. `make help` lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin
PROTOS := proto/parley/device/v1/device.proto \
          plugins/sdk/internal/proto/parley/backend/v1/backend.proto
CMDS := parleyd parleyctl parley parley-bench \
        parley-backend-memory parley-backend-groupwise parley-backend-sametime \
        parley-fake-groupwise parley-fake-sametime
FUZZTIME ?= 60s

.PHONY: help build test demo run fuzz bench proto proto-check check clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build every binary into bin/ (plugins into bin/plugins/)
	@mkdir -p $(BIN)/plugins
	@for c in $(CMDS); do \
	  [ -d cmd/$$c ] || continue; \
	  case $$c in parley-backend-*) out=$(BIN)/plugins/$$c;; *) out=$(BIN)/$$c;; esac; \
	  $(GO) build -o $$out ./cmd/$$c || exit 1; \
	done
	@chmod 755 $(BIN)/plugins/* 2>/dev/null || true

test: ## run every test (end-to-end included); services that are absent are skipped with a message
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

demo: build ## start parleyd with the fake IM servers and run a scripted conversation
	@bash scripts/demo.sh

run: build ## run parleyd in the foreground on the embedded default config
	$(BIN)/parleyd -data-dir .data -plugin-dir $(BIN)/plugins

fuzz: ## run every fuzz target for FUZZTIME each (default 60s)
	@bash scripts/fuzz.sh $(FUZZTIME)

bench: build ## short benchmarks and load run (about a minute); BENCH_ALL=1: every target (< 15 minutes)
	@bash scripts/bench.sh

proto: ## regenerate the protobuf/gRPC code from the .proto files
	@mkdir -p $(BIN)/tools
	$(GO) build -o $(BIN)/tools/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	$(GO) build -o $(BIN)/tools/protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc
	protoc --plugin=protoc-gen-go=$(BIN)/tools/protoc-gen-go \
	       --plugin=protoc-gen-go-grpc=$(BIN)/tools/protoc-gen-go-grpc \
	       -I proto -I plugins/sdk/internal/proto \
	       --go_out=. --go_opt=module=github.com/parleygw/parley \
	       --go-grpc_out=. --go-grpc_opt=module=github.com/parleygw/parley \
	       $(PROTOS)

proto-check: proto ## fail if the committed generated code is stale
	@git diff --exit-code -- '*.pb.go' || { echo "generated code is stale: run 'make proto' and commit"; exit 1; }

check: ## formatting, vet and the generated-code check
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'); exit 1; }
	$(GO) vet ./...
	$(MAKE) proto-check

clean: ## remove build output
	rm -rf $(BIN) .data
