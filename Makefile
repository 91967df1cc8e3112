# nsplay: build, test, check.
GO ?= go

.PHONY: all build test check docs bench fuzz install man clean

all: build

# A static binary (no cgo: nsplay needs none) starts without the dynamic
# loader and libc, 3-4 ms sooner on every run and every exec_in.
export CGO_ENABLED ?= 0

build:
	$(GO) build -o bin/nsplay ./cmd/nsplay

# The whole suite; as root the kernel tests run inside a private sandbox.
test:
	NSPLAY_REQUIRE_ROOT=1 $(GO) test ./...

check:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...

# The table of builtins in docs/language.md, from builtins/reference.go.
docs:
	$(GO) generate ./builtins

# Build and tear down labs with nsplay and with one ip process per step, in
# the same run, and print how many times faster nsplay is; what a run
# costs with --sandbox, against the same run without it; what an empty
# playbook costs, plain and sandboxed, against Go programs that do nothing
# (bench/startfloor); and what a plan of
# the star lab costs per host (BenchmarkPlanStar*). Then the kernel
# backend's hot paths, and the star lab of bench/star.star with nsplay, a
# plain netlink program, ip -batch, one ip per step and Mininet, each in a
# sandbox, interleaved, with the medians per namespace (docs/bench.md).
# The Go benchmarks run with one processor (-cpu 1), as nsplay does.
# BENCH_N: the numbers of hosts (5000 runs nsplay and the floor only);
# BENCH_RUNS: runs of each; BENCH_SLOW=1: the ip scripts and Mininet at
# 1000 hosts too (minutes a run).
BENCH_N ?= 10,100,1000
BENCH_RUNS ?= 3
BENCH_SLOW ?=
bench:
	$(GO) test -run '^$$' -bench . -benchtime 10x -cpu 1 ./interp ./cmd/nsplay
	$(GO) test -run '^$$' -bench . -cpu 1 ./internal/kernel
	$(GO) run ./bench -n $(BENCH_N) -runs $(BENCH_RUNS) -slow=$(if $(filter 1,$(BENCH_SLOW)),true,false)

# Each fuzz target for FUZZTIME (its seeds run in every go test). As root
# the test binaries sandbox themselves, as in make test.
FUZZTIME ?= 10s
FUZZ = ./internal/model:FuzzValidLinkName ./internal/model:FuzzValidNetnsName \
	./internal/model:FuzzParseCIDR ./internal/model:FuzzCanonicalDst ./internal/model:FuzzParseTable \
	./builtins:FuzzDuration ./builtins:FuzzVar ./cmd/nsplay:FuzzDefines ./internal/lab:FuzzJournal
fuzz:
	@set -e; for t in $(FUZZ); do \
		echo "fuzz $${t#*:} in $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) $${t%%:*}; \
	done

install:
	$(GO) install ./cmd/nsplay

# Man pages from the command definitions, into $(MANDIR) (nsplay.1,
# nsplay-run.1, ...; install with cp $(MANDIR)/*.1 /usr/local/share/man/man1).
# cmd/nsplay's TestManPages writes them: the generator stays out of the
# nsplay binary, which every command a playbook runs starts first.
MANDIR ?= bin/man
man:
	NSPLAY_MAN_DIR=$(abspath $(MANDIR)) $(GO) test -count=1 -run '^TestManPages$$' ./cmd/nsplay

clean:
	rm -rf bin
