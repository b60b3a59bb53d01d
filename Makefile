# Mamori build and test targets. `make test` is what CI runs.
GO ?= go
MAMORI_TESTDATA ?= $(abspath ../shared/data)
export MAMORI_TESTDATA

.PHONY: all build deps test vet bench fuzz testdata clean

all: build

build:
	$(GO) build -o bin/mamori ./cmd/mamori

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal)" || (echo "gofmt needed:"; gofmt -l cmd internal; exit 1)

# All tests, including the SigmaHQ regression suite and corpus tests over $(MAMORI_TESTDATA).
# Test dependencies beyond Go (Debian's Chromium for the console's browser tests).
deps:
	sh scripts/install-test-deps.sh

test: vet deps
	@# One package at a time: the browser tests follow a live demo, and on a
	@# 2-core machine other packages' servers running beside them starve it.
	$(GO) test -count=1 -p 1 -timeout 20m ./...
	@# The SigmaHQ regression suite's case count, visible in every run.
	@$(GO) test -count=1 -run 'TestSigmaHQRegression' -v ./internal/sigma | grep -E 'SigmaHQ regression|^(FAIL|ok)'
	@$(GO) test -count=1 -run 'TestCrashLosesNothingAcknowledged' -v ./internal/app | grep -E 'batches acknowledged|^(FAIL|ok)'
	@$(GO) test -count=1 -run 'TestScaleOutLosesNothingAcknowledged' -v ./internal/app | grep -E 'scale-out:|^(FAIL|ok)'
	@# Whether the STIX export was validated against the official STIX 2.1 schemas (they come with `make testdata`).
	@$(GO) test -count=1 -run 'TestSchemasRejectBadObjects' -v ./internal/intel | grep -q 'NOT RUN' && \
		echo "STIX 2.1 schema validation: NOT RUN (schemas missing from $(MAMORI_TESTDATA)/stix2-json-schemas; run make testdata)" || \
		echo "STIX 2.1 schema validation: run against the official OASIS schemas"

# Benchmarks against the peers named in docs/BENCHMARKS.md (long: not part of `make test`).
bench:
	$(GO) test ./internal/sigma -run '^$$' -bench . -benchmem -benchtime 3x
	$(GO) test ./internal/evtx -run '^$$' -bench . -benchmem -benchtime 3x
	$(GO) test ./internal/store/replica -run '^$$' -bench StateLog -benchtime 2000x
	$(GO) test ./internal/app -run '^$$' -bench BenchmarkScaleOut -benchtime 5x -timeout 60m

# Short fuzzing runs of every parser (FUZZTIME per target).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/sigma -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/sigma -run '^$$' -fuzz '^FuzzCondition$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/evtx -run '^$$' -fuzz '^FuzzOpenDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x
	$(GO) test ./internal/ingest -run '^$$' -fuzz '^FuzzParseAction$$' -fuzztime $(FUZZTIME)
	@for f in FuzzJSON FuzzLines FuzzSyslog FuzzAccessLog FuzzSplitSyslogTCP FuzzZeekTSV; do \
		$(GO) test ./internal/normalize -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x || exit 1; \
	done
	@for f in FuzzSTIX FuzzMISP FuzzList FuzzPattern FuzzMatch; do \
		$(GO) test ./internal/ioc -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x || exit 1; \
	done
	@for f in FuzzPatternQuoting FuzzObjectsQuery; do \
		$(GO) test ./internal/intel -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done
	$(GO) test ./internal/rating -run '^$$' -fuzz '^FuzzRate$$' -fuzztime $(FUZZTIME)

# Download the public test data sets into ../shared/data (see docs/TESTDATA.md).
testdata:
	./scripts/testdata.sh "$(MAMORI_TESTDATA)"

clean:
	rm -rf bin
