"""`python -m harness bench`: is the load driver fast enough to show the server's speed?

For each config, on one server, in alternating order round after round (this machine is shared
and noisy, so arms are interleaved and medians compared): redis-benchmark's ceiling for the
session mix at the driver's shape (its connections, as many requests in flight on each:
harness.ceiling), the driver with its history recorded, and the driver
recording nothing. Prints driver/ceiling and the cost of recording, and writes
results/bench/latest.json.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.ceiling import driver_shape, measure_ceiling
from harness.configs import Config
from harness.server import Backend, ServerSpec, free_port
from harness.workload.driver import NullRecorder, SessionLoad, isolated_client_cost
from harness.workload.history import HistoryRecorder
from harness.workload.session import WorkloadParams

GOAL_RATIO = 0.8
GOAL_RECORDING_OVERHEAD = 0.10


@dataclass
class ConfigBench:
    config: str
    driver_ops_s: float  # medians over rounds
    driver_no_recording_ops_s: float
    ceiling_ops_s: float
    ratio: float  # driver_ops_s / ceiling_ops_s
    recording_overhead: float  # fraction of throughput recording costs (0.05 = 5% slower)
    recording_cpu_overhead: float  # extra driver CPU per operation with recording (0.05 = 5% more)
    rounds: list[dict] = field(default_factory=list)  # every measurement, for the spread


def drive(port: int, params: WorkloadParams, seconds: float, record: bool, seed: int) -> tuple[float, float]:
    """(replies per second, CPU microseconds of this process per reply) over `seconds` of steady
    load. CPU per operation is what recording adds to; unlike throughput it hardly moves when
    the shared machine steals time, so it shows the cost of recording through the noise."""
    load = SessionLoad("127.0.0.1", port, params, seed, HistoryRecorder() if record else NullRecorder())
    load.start()
    time.sleep(0.2)  # connections open and the pipeline fills
    began, cpu, before = time.perf_counter(), time.process_time(), load.replies
    time.sleep(seconds)
    done, elapsed, cpu_used = load.replies - before, time.perf_counter() - began, time.process_time() - cpu
    load.stop()
    return done / elapsed, cpu_used * 1e6 / max(done, 1)


def isolated_recording_overhead(params: WorkloadParams, rounds: int = 5) -> tuple[float, float, float]:
    """(us/op with recording, us/op without, overhead): medians over interleaved rounds."""
    with_rec, without = [], []
    for _ in range(rounds):
        with_rec.append(isolated_client_cost(params, True))
        without.append(isolated_client_cost(params, False))
    a, b = statistics.median(with_rec), statistics.median(without)
    return a, b, a / b - 1


def bench_config(backend: Backend, config: Config, params: WorkloadParams, rounds: int, seconds: float,
                 ceiling_requests: int, echo) -> ConfigBench:
    scratch = Path(tempfile.mkdtemp(prefix=f"crash-matrix-bench-{config.name}-"))
    spec = ServerSpec(f"bench-{config.name}", config.path, scratch / "data", scratch / "server.log", free_port())
    spec.data_dir.mkdir()
    measured: list[dict] = []
    server = backend.server(spec)
    try:
        server.start()
        client = server.client()
        arms = ["ceiling", "driver", "driver_no_recording"]
        for number in range(rounds):
            row = {}
            for arm in arms[number % 3:] + arms[:number % 3]:  # rotate the order every round
                client.flushall()
                if arm == "ceiling":
                    row[arm] = measure_ceiling(server.run_benchmark, server.port, params, ceiling_requests).ops_s
                else:
                    row[arm], row[f"{arm}_cpu_us_per_op"] = drive(server.port, params, seconds, arm == "driver",
                                                                  seed=number)
            echo(f"  {config.name} round {number + 1}/{rounds}: ceiling {row['ceiling']:,.0f} ops/s, driver "
                 f"{row['driver']:,.0f} (recording) / {row['driver_no_recording']:,.0f} (not recording)")
            measured.append(row)
    finally:
        server.remove()
        backend.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)
    driver = statistics.median(r["driver"] for r in measured)
    bare = statistics.median(r["driver_no_recording"] for r in measured)
    ceiling = statistics.median(r["ceiling"] for r in measured)
    # Per-round ratios, then the median: each round's arms ran back to back under the same noise.
    overhead = statistics.median(1 - r["driver"] / r["driver_no_recording"] for r in measured)
    cpu_overhead = statistics.median(r["driver_cpu_us_per_op"] / r["driver_no_recording_cpu_us_per_op"] - 1
                                     for r in measured)
    return ConfigBench(config.name, driver, bare, ceiling, driver / ceiling, overhead, cpu_overhead, measured)


def run_bench(backend: Backend, configs: list[Config], params: WorkloadParams, rounds: int, seconds: float,
              ceiling_requests: int, out_dir: Path, environment: dict, echo) -> tuple[list[ConfigBench], Path, float]:
    results = [bench_config(backend, config, params, rounds, seconds, ceiling_requests, echo) for config in configs]
    with_us, without_us, isolated = isolated_recording_overhead(params)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    document = {
        "created_at": stamp,
        "concurrency": params.concurrency,
        "connections": params.connections,
        "rounds": rounds,
        "seconds_per_arm": seconds,
        "ceiling_requests": ceiling_requests,
        "ceiling_shape": "-c %d -P %d" % driver_shape(params),
        "goals": {"ratio": GOAL_RATIO, "recording_overhead": GOAL_RECORDING_OVERHEAD},
        "isolated_client_us_per_op": {"recording": with_us, "not_recording": without_us,
                                      "recording_overhead": isolated},
        "environment": environment,
        "configs": {r.config: {k: v for k, v in asdict(r).items() if k != "config"} for r in results},
    }
    path = out_dir / f"bench-{stamp}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    latest = out_dir / "latest.json"
    latest.unlink(missing_ok=True)
    shutil.copyfile(path, latest)
    return results, latest, isolated
