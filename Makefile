# crash-matrix: `make crash-matrix` runs the matrix, `make test` tests the harness.
# Both create the Python environment (.venv) on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Matrix settings (see `python -m harness run --help` for all options)
CONFIGS  ?=
FAULTS   ?=
TRIALS   ?= 3
DURATION ?= 4
BACKEND  ?= auto
IMAGE    ?= redis:7.4
QUICK    ?=
ARGS     ?=
RUN      ?= results/latest
SIZES    ?= 10000 100000 1000000
REPEATS  ?= 1
SCENARIOS ?=
# make failover (see `python -m harness run --help`, the failover options)
FAILOVER_FAULTS ?= kill9 pause
ACK_MODES       ?= plain wait
CLIENT_MODES    ?= lookup subscribe
APP             ?= 1

.PHONY: crash-matrix failover test bench bench-powerfs recovery-curve report configs cleanup venv clean help

help:
	@echo "make crash-matrix   run the crash matrix and the failover part (SCENARIOS='crash-matrix failover' CONFIGS='a b' TRIALS=3 DURATION=6 BACKEND=auto IMAGE=redis:7.4 QUICK=1)"
	@echo "make failover       primary, replicas, Sentinels: kill9 and pause x plain and wait x lookup and subscribe, and redis-py (FAILOVER_FAULTS=... ACK_MODES=... CLIENT_MODES=...)"
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
	$(PY) -m harness run --trials $(TRIALS) --duration $(DURATION) --backend $(BACKEND) --image $(IMAGE) \
		$(if $(strip $(SCENARIOS)),--scenarios "$(SCENARIOS)") \
		$(if $(strip $(CONFIGS)),--configs "$(CONFIGS)") $(if $(strip $(FAULTS)),--faults "$(FAULTS)") \
		$(if $(filter 1 yes true,$(QUICK)),--quick) $(ARGS)

failover: $(STAMP)
	$(PY) -m harness run --scenarios failover --backend $(BACKEND) --image $(IMAGE) \
		--failover-faults "$(FAILOVER_FAULTS)" --ack-modes "$(ACK_MODES)" --client-modes "$(CLIENT_MODES)" \
		$(if $(filter 1 yes true,$(APP)),--app,--no-app) \
		$(if $(strip $(CONFIGS)),--failover-configs "$(CONFIGS)") $(if $(filter 1 yes true,$(QUICK)),--quick) $(ARGS)

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
