# make test  — the checks CI runs: formatting, vet, and every test under the race detector.
# make bench — the peer comparison in bench/ (its own module), summarised by benchstat.
# make lint  — formatting, vet and staticcheck.

GO        ?= go
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHTIME ?= 300ms
COUNT     ?= 6

.PHONY: test lint fmt-check vet staticcheck bench

test: lint
	$(GO) test -race -count=1 ./...
	cd bench && $(GO) vet ./... && $(GO) test -race -count=1 -run . -bench . -benchtime 1x ./...

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

bench:
	cd bench && $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count $(COUNT) | tee bench.txt
	cd bench && $(BENCHSTAT) bench.txt
