# crash-matrix: `make crash-matrix` runs the default run (the crash matrix and the scenarios of
# sessions lost without a crash), `make test` tests the harness. Both create the Python
# environment (.venv) on first use.

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
SERVERS  ?=
EXPECT   ?=
RESUME   ?=
QUICK    ?=
ARGS     ?=
RUN      ?= results/latest
CLUSTER  ?=
PULL     ?=
WORKERS  ?= 2
SIZES    ?= 10000 100000 1000000
REPEATS  ?= 1
# make disk-faults: the disk faults on the two AOF configs that fsync (CONFIGS= and FAULTS= override)
DISK_CONFIGS ?= aof-everysec aof-always
DISK_FAULTS  ?= slow-fsync slow-fsync+kill9 slow-fsync+power-loss eio-write eio-fsync enospc bitflip crash-mid-save
# make failover (see `python -m harness run --help`, the failover options)
FAILOVER_FAULTS ?= kill9 pause
ACK_MODES       ?= plain wait
CLIENT_MODES    ?= lookup subscribe
APP             ?= 1

# PULL=never: build absent server images offline at once, never ask a registry (CRASH_MATRIX_PULL)
ifneq ($(strip $(PULL)),)
export CRASH_MATRIX_PULL := $(PULL)
endif

.PHONY: crash-matrix eviction expiry pitfalls disk-faults failover cluster-demo test bench bench-powerfs recovery-curve \
	report configs cleanup venv clean help

# What every `python -m harness run` target passes on.
RUN_ARGS = --backend $(BACKEND) $(if $(strip $(SERVERS)),--servers "$(SERVERS)",--image $(IMAGE)) \
	$(if $(strip $(TRIALS)),--trials $(TRIALS)) $(if $(strip $(DURATION)),--duration $(DURATION)) \
	$(if $(strip $(CONFIGS)),--configs "$(CONFIGS)") $(if $(strip $(FAULTS)),--faults "$(FAULTS)") \
	$(if $(strip $(POLICIES)),--policies "$(POLICIES)") $(if $(strip $(MAXMEMORY)),--maxmemory $(MAXMEMORY)) \
	$(if $(strip $(DOWNTIME)),--downtime $(DOWNTIME)) $(if $(strip $(EXPECT)),--expect "$(EXPECT)") \
	$(if $(strip $(CLUSTER)),--cluster $(CLUSTER)) $(if $(filter 1 yes true,$(QUICK)),--quick) $(ARGS)

help:
	@echo "make crash-matrix   the default run: crash matrix, failover, eviction, expiry, pitfalls (SCENARIOS='crash-matrix eviction' CONFIGS='a b' TRIALS=3 DURATION=6 BACKEND=auto IMAGE=redis:7.4 QUICK=1)"
	@echo "                    SERVERS='local' or 'redis:7.4,valkey/valkey:8' compares servers; EXPECT=expectations/claims.toml"
	@echo "                    checks claims (exit status 4 if one fails); RESUME=results/<run> continues a run"
	@echo "make crash-matrix CLUSTER=tcp://HOST:8786   the same, its trials on a Dask cluster's workers"
	@echo "make cluster-demo   a Dask scheduler and WORKERS=2 workers on 127.0.0.1, a small matrix through them"
	@echo "make eviction       sessions evicted per maxmemory-policy beside other data (POLICIES='allkeys-lru volatile-lru' MAXMEMORY=16mb)"
	@echo "make expiry         session TTLs across a downtime, per persistence config (CONFIGS=... DOWNTIME=1.5)"
	@echo "make pitfalls       appendonly edited in vs the safe path, and a restart without the data volume"
	@echo "make disk-faults    the disk faults (slow fsync, EIO, full disk, bit flips, crash mid-save) on aof-everysec and aof-always"
	@echo "make failover       primary, replicas, Sentinels: kill9 and pause x plain and wait x lookup and subscribe, and redis-py (FAILOVER_FAULTS=... ACK_MODES=... CLIENT_MODES=...)"
	@echo "make test           run the tests"
	@echo "make bench          driver vs redis-benchmark ceiling, recording cost (CONFIGS=..., BACKEND=...)"
	@echo "make bench-powerfs  redis-benchmark through the power-loss filesystem vs a plain directory"
	@echo "make recovery-curve recovery time vs data size (SIZES=\"10000 100000 1000000\" REPEATS=1 CONFIGS=...)"
	@echo "make report         rebuild the report of RUN (default results/latest)"
	@echo "make configs        list the configs and check them against the server"
	@echo "make cleanup        remove crash-matrix containers left on the Docker engine"
	@echo "PULL=never          never ask a registry for an absent image (build it offline at once)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# RESUME takes the run's own options: only EXPECT and ARGS (--plain) go with it.
crash-matrix: $(STAMP)
ifneq ($(strip $(RESUME)),)
	$(PY) -m harness run --resume "$(RESUME)" $(if $(strip $(EXPECT)),--expect "$(EXPECT)") $(ARGS)
else
	$(PY) -m harness run $(if $(strip $(SCENARIOS)),--scenarios "$(SCENARIOS)") $(RUN_ARGS)
endif

eviction: $(STAMP)
	$(PY) -m harness run --scenarios eviction $(RUN_ARGS)

expiry: $(STAMP)
	$(PY) -m harness run --scenarios expiry $(RUN_ARGS)

pitfalls: $(STAMP)
	$(PY) -m harness run --scenarios pitfalls $(RUN_ARGS)

# The disk faults alone (not in the default run: about 8 minutes for 48 trials here).
disk-faults: $(STAMP)
	$(PY) -m harness run --scenarios crash-matrix --backend $(BACKEND) --image $(IMAGE) \
		$(if $(strip $(TRIALS)),--trials $(TRIALS)) $(if $(strip $(DURATION)),--duration $(DURATION)) \
		--configs "$(or $(strip $(CONFIGS)),$(DISK_CONFIGS))" --faults "$(or $(strip $(FAULTS)),$(DISK_FAULTS))" \
		$(if $(filter 1 yes true,$(QUICK)),--quick) $(ARGS)

# A small matrix (3 configs x kill9 x TRIALS) through a scheduler and WORKERS workers started on
# 127.0.0.1 for it, and stopped after it; CONFIGS, FAULTS, TRIALS, DURATION, BACKEND, ARGS as above.
cluster-demo: $(STAMP)
	$(PY) -m harness cluster-demo --workers $(WORKERS) -- --scenarios crash-matrix --trials $(or $(strip $(TRIALS)),1) \
		--duration $(or $(strip $(DURATION)),3) --backend $(BACKEND) --image $(IMAGE) \
		--configs "$(or $(strip $(CONFIGS)),none aof-everysec aof-always)" \
		--faults "$(or $(strip $(FAULTS)),kill9)" $(if $(filter 1 yes true,$(QUICK)),--quick) $(ARGS)

# Primary, replicas and Sentinels: FAILOVER_FAULTS x ACK_MODES x CLIENT_MODES, and redis-py (APP=0: without).
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
