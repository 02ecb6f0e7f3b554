# crash-matrix: `make crash-matrix` runs the matrix, `make test` tests the harness.
# Both create the Python environment (.venv) on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Run settings (see `python -m harness run --help` for all options). TRIALS and DURATION left
# empty keep each scenario's own default (crash matrix: 3 trials of 4 s).
SCENARIOS ?=
CONFIGS  ?=
FAULTS   ?=
TRIALS   ?=
DURATION ?=
POLICIES ?=
MAXMEMORY ?=
DOWNTIME ?=
BACKEND  ?= auto
IMAGE    ?= redis:7.4
QUICK    ?=
ARGS     ?=
RUN      ?= results/latest
SIZES    ?= 10000 100000 1000000
REPEATS  ?= 1

.PHONY: crash-matrix eviction expiry pitfalls test bench bench-powerfs recovery-curve report configs cleanup venv clean help

# What every `python -m harness run` target passes on.
RUN_ARGS = --backend $(BACKEND) --image $(IMAGE) \
	$(if $(strip $(TRIALS)),--trials $(TRIALS)) $(if $(strip $(DURATION)),--duration $(DURATION)) \
	$(if $(strip $(CONFIGS)),--configs "$(CONFIGS)") $(if $(strip $(FAULTS)),--faults "$(FAULTS)") \
	$(if $(strip $(POLICIES)),--policies "$(POLICIES)") $(if $(strip $(MAXMEMORY)),--maxmemory $(MAXMEMORY)) \
	$(if $(strip $(DOWNTIME)),--downtime $(DOWNTIME)) $(if $(filter 1 yes true,$(QUICK)),--quick) $(ARGS)

help:
	@echo "make crash-matrix   the default run: crash matrix, eviction, expiry, pitfalls (SCENARIOS='crash-matrix eviction' CONFIGS='a b' TRIALS=3 DURATION=6 BACKEND=auto IMAGE=redis:7.4 QUICK=1)"
	@echo "make eviction       sessions evicted per maxmemory-policy beside other data (POLICIES='allkeys-lru volatile-lru' MAXMEMORY=16mb)"
	@echo "make expiry         session TTLs across a downtime, per persistence config (CONFIGS=... DOWNTIME=1.5)"
	@echo "make pitfalls       appendonly edited in vs the safe path, and a restart without the data volume"
	@echo "make test           run the tests"
	@echo "make bench          driver vs redis-benchmark ceiling, recording cost (CONFIGS=..., BACKEND=...)"
	@echo "make bench-powerfs  redis-benchmark through the power-loss filesystem vs a plain directory"
	@echo "make recovery-curve recovery time vs data size (SIZES=\"10000 100000 1000000\" REPEATS=1 CONFIGS=...)"
	@echo "make report         rebuild the report of RUN (default results/latest)"
	@echo "make configs        list the configs and check them against the server"
	@echo "make cleanup        remove crash-matrix containers left on the Docker engine"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

crash-matrix: $(STAMP)
	$(PY) -m harness run $(if $(strip $(SCENARIOS)),--scenarios "$(SCENARIOS)") $(RUN_ARGS)

eviction: $(STAMP)
	$(PY) -m harness run --scenarios eviction $(RUN_ARGS)

expiry: $(STAMP)
	$(PY) -m harness run --scenarios expiry $(RUN_ARGS)

pitfalls: $(STAMP)
	$(PY) -m harness run --scenarios pitfalls $(RUN_ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m harness bench --backend $(BACKEND) --image $(IMAGE) $(if $(strip $(CONFIGS)),--configs "$(CONFIGS)") $(ARGS)

bench-powerfs: $(STAMP)
	$(PY) -m harness.powerfs bench --reps 3 $(ARGS)

recovery-curve: $(STAMP)
	$(PY) -m harness recovery-curve --sizes "$(SIZES)" --repeats $(REPEATS) --backend $(BACKEND) --image $(IMAGE) \
		$(if $(strip $(CONFIGS)),--configs "$(CONFIGS)") $(ARGS)

report: $(STAMP)
	$(PY) -m harness report $(RUN)

configs: $(STAMP)
	$(PY) -m harness configs --check --backend $(BACKEND) --image $(IMAGE)

cleanup: $(STAMP)
	$(PY) -m harness cleanup

clean:
	rm -rf $(VENV) results/latest results/2*
