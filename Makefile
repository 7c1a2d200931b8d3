# civicpay — the two commands are `make run` and `make test`.
SHELL := /bin/bash
PG := internal/testkit/devdb/pg.sh
GO ?= go
BENCH ?= all
FUZZTIME ?= 20s

.PHONY: run test bench fuzz build vet clean-db

build:
	$(GO) build -o bin/civicpay ./cmd/civicpay
	@if [ -d cmd/gatewaysim ]; then $(GO) build -o bin/gatewaysim ./cmd/gatewaysim; fi

# Everything up: PostgreSQL (found or started), migrations, demo data, the gateway
# simulator and the service. Prints what to try. Ctrl-C stops it all.
run: build
	@set -euo pipefail; \
	export DATABASE_URL="$$($(PG) url civicpay)"; \
	mkdir -p .run; \
	./bin/civicpay migrate; \
	CIVICPAY_ENV=$${CIVICPAY_ENV:-development} ./bin/civicpay demo > .run/demo.env; \
	RUN_DIR=.run ./internal/testkit/devdb/run.sh

# The whole test suite, against a real PostgreSQL.
test:
	@set -euo pipefail; \
	export DATABASE_URL="$$($(PG) url postgres)"; \
	echo "testing against $${DATABASE_URL%%\?*}"; \
	$(GO) vet ./...; \
	$(GO) test -count=1 -timeout 12m ./...

# Benchmarks print `bench <name> <value> <unit>` lines. BENCH=orders|ledger|pay|webhooks|recon|breaker|all,
# or BENCH=chaos: the fault suite (3–4 minutes; not part of all),
# or BENCH=console: the staff console's pages over 1,000,000 orders (about 5 minutes, 2 of them seeding; not part of all),
# or BENCH=year: revenue and as-of balances over a year of 1,000,000 ledger entries seeded by COPY, before and after
# the rollups (about 5 minutes; not part of all),
# or BENCH=scale: a year at national volume, 10,000,000 paid orders seeded by COPY, then revenue, as-of balances, order
# search, payments and a 1,000,000-line reconciliation beside it (not part of all; on the 2-core machine, quiet, 13–14
# minutes, about 8 of them seeding, and 44 GB of disk, in a private cluster that pg.sh starts in .pgdata-scale and stops
# at the end; BENCH_SCALE_VERIFY=1 adds ledger verify over the year, about 3 minutes; under load much longer;
# BENCH_SCALE_ORDERS=200000 for a short run).
bench:
	@set -euo pipefail; \
	export DATABASE_URL="$$($(PG) url postgres)"; \
	for g in $$( [ "$(BENCH)" = all ] && echo orders ledger pay webhooks recon breaker || echo "$(BENCH)" ); do \
	  if [ -d ./cmd/bench$$g ]; then echo "== bench $$g"; $(GO) run ./cmd/bench$$g; \
	  else echo "== bench $$g: not built yet (no ./cmd/bench$$g)"; fi; \
	done

# Every fuzz target for FUZZTIME each (those that drive the app, such as
# FuzzHTTPAPI, against the same PostgreSQL as make test).
fuzz:
	@set -euo pipefail; \
	export DATABASE_URL="$$($(PG) url postgres)"; \
	for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== fuzz $$pkg $$f"; $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

vet:
	$(GO) vet ./...

clean-db:
	$(PG) stop
