# nsplay: build, test, check.
GO ?= go

.PHONY: all build test check bench install clean

all: build

build:
	$(GO) build -o bin/nsplay ./cmd/nsplay

# The whole suite; as root the kernel tests run inside a private sandbox.
test:
	NSPLAY_REQUIRE_ROOT=1 $(GO) test ./...

check:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...

install:
	$(GO) install ./cmd/nsplay

clean:
	rm -rf bin
