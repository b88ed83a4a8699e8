# make test  — the checks CI runs: installs what the tests need (memcached, etcd, PHP's
#              memcached client), then formatting, vet, staticcheck, and every test under -race.
#              bench/ and examples/repository/ are modules of their own (so that their
#              dependencies stay out of ours): each is vetted and tested here too.
# make bench — the peer comparison in bench/ (its own module), summarised by benchstat.
# make lint  — formatting, vet and staticcheck.

GO        ?= go
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHTIME ?= 300ms
COUNT     ?= 6

.PHONY: test deps lint fmt-check vet staticcheck bench

# Debian packages the tests need: real memcached and etcd servers, and PHP's libmemcached
# client to check ketama placement against. Installed only when absent.
DEBS = memcached etcd-server php-cli php-memcached

test: deps lint
	$(GO) test -race -count=1 ./...
	cd bench && $(GO) vet ./... && $(GO) test -race -count=1 -run . -bench . -benchtime 1x ./...
	cd examples/repository && $(GO) vet ./... && $(GO) test -race -count=1 ./...

deps:
	@missing=""; \
	command -v memcached >/dev/null || missing="$$missing memcached"; \
	command -v etcd >/dev/null || missing="$$missing etcd-server"; \
	command -v php >/dev/null || missing="$$missing php-cli"; \
	(command -v php >/dev/null && php -m 2>/dev/null | grep -qx memcached) || missing="$$missing php-memcached"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEBS) >/dev/null; \
	fi

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...
	cd examples/repository && $(STATICCHECK) ./...

bench:
	cd bench && $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count $(COUNT) | tee bench.txt
	cd bench && $(BENCHSTAT) bench.txt
