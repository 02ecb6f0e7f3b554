"""The server's limits: redis-benchmark (shipped with the server) on the same server and mix.

Two figures, both on the trial's server before its load:

- the **ceiling**, at the driver's own shape: the same connections and, per connection, as many
  requests in flight as the driver pipelines on one (`-c <connections> -P <clients/connections>`:
  50 clients over 8 connections is `-c 8 -P 6`). The driver and redis-benchmark then ask the
  server for the same thing, so driver/ceiling says how close the driver came to what the
  server gives that shape (it used to be `-c 50` with no pipelining, a different shape, and the
  ratio went above 2);
- the **saturation**, a deep pipeline on the same connections (`-P 64`): what the server does
  when the client side costs nearly nothing; ceiling/saturation says how close that shape, and
  so the load, came to the server's own limit.

redis-benchmark runs one command per test, so the session mix is measured as four tests,
each with a share of the requests proportional to the mix weight; the mix's rate is then
total requests / total time, i.e. the weighted harmonic mean of the per-command rates, which
is what a client issuing that mix at each command's own speed would reach.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.record import NAN, Columns
from harness.workload.session import Kind, WorkloadParams

MIN_REQUESTS_PER_COMMAND = 500
SATURATION_PIPELINE = 64  # measured here: -P 64 was at or near the peak for SET and GET (-P 128 was lower)
SATURATION_REQUESTS_FACTOR = 4  # a deep pipeline runs fast: more requests keep the run long enough to time
MIN_PIPELINES_PER_CONNECTION = 8  # a test shorter than this many full pipelines per connection times little
BENCH_KEY = "session:bench:__rand_int__"  # redis-benchmark substitutes a random number in [0, -r)


@dataclass(frozen=True)
class CommandResult:
    command: str
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class Ceiling:
    ops_s: float
    p50_ms: float  # request-weighted means of the per-command percentiles (an approximation)
    p99_ms: float
    max_ms: float
    clients: int  # connections redis-benchmark opened (-c)
    tool: str
    commands: list[CommandResult] = field(default_factory=list)
    note: str = ""
    pipeline: int = 1  # requests in flight per connection (-P)

    @classmethod
    def unavailable(cls, note: str, clients: int, pipeline: int = 1) -> "Ceiling":
        nan = float("nan")
        return cls(nan, nan, nan, nan, clients, "", [], note, pipeline)


@dataclass(frozen=True)
class Limits:
    """The ceiling at the driver's shape and the saturation of a deep pipeline, on one server."""

    ceiling: Ceiling
    saturation: Ceiling

    @property
    def ops_s(self) -> float:
        return self.ceiling.ops_s

    @classmethod
    def unavailable(cls, note: str, params: WorkloadParams) -> "Limits":
        connections, depth = driver_shape(params)
        return cls(Ceiling.unavailable(note, connections, depth),
                   Ceiling.unavailable(note, connections, SATURATION_PIPELINE))

    def columns(self) -> "CeilingColumns":
        c, s = self.ceiling, self.saturation
        ratio = c.ops_s / s.ops_s if s.ops_s > 0 else NAN  # NaN > 0 is False: no ratio without both
        return CeilingColumns(round(c.ops_s, 1), round(c.p50_ms, 3), round(c.p99_ms, 3), c.clients, c.pipeline,
                              round(s.ops_s, 1), s.pipeline, round(ratio, 3))


@dataclass(frozen=True)
class CeilingColumns(Columns):
    """redis-benchmark on the trial's server before its load: at the driver's shape, and saturated."""

    ceiling_ops_s: float = NAN
    ceiling_p50_ms: float = NAN
    ceiling_p99_ms: float = NAN
    ceiling_connections: int = 0  # 0: not recorded (before the ceiling took the driver's shape: -c clients, -P 1)
    ceiling_pipeline: int = 0
    saturation_ops_s: float = NAN
    saturation_pipeline: int = 0
    ceiling_saturation_ratio: float = NAN  # how close the driver's shape comes to the server's own limit


def driver_shape(params: WorkloadParams) -> tuple[int, int]:
    """(connections, requests in flight per connection) of the load driver: its clients are spread
    over its connections, each client with one request in flight (harness.workload.driver)."""
    connections = min(params.connections, params.concurrency)
    return connections, max(1, round(params.concurrency / connections))


def command_lines(params: WorkloadParams) -> dict[Kind, list[str]]:
    value = "x" * params.value_bytes
    ttl = str(params.ttl_s)
    return {
        Kind.LOGIN: ["SET", BENCH_KEY, value, "EX", ttl],
        Kind.READ: ["GET", BENCH_KEY],
        Kind.REFRESH: ["EXPIRE", BENCH_KEY, ttl],
        Kind.LOGOUT: ["DEL", BENCH_KEY],
    }


def requests_per_command(params: WorkloadParams, total: int, minimum: int = MIN_REQUESTS_PER_COMMAND) -> dict[Kind, int]:
    weights = dict(zip(Kind, params.mix.weights()))
    whole = sum(weights.values())
    return {kind: max(minimum, round(total * w / whole)) for kind, w in weights.items() if w > 0}


def benchmark_args(port: int, params: WorkloadParams, kind: Kind, requests: int, connections: int | None = None,
                   pipeline: int = 1) -> list[str]:
    connections = connections or params.concurrency
    return ["-h", "127.0.0.1", "-p", str(port), "-c", str(connections), "-P", str(pipeline), "-n", str(requests),
            "-r", str(params.users), "--csv", *command_lines(params)[kind]]


def parse_csv(text: str) -> dict[str, float]:
    """The result row of `redis-benchmark --csv` (one test)."""
    rows = [row for row in csv.DictReader(io.StringIO(text.strip())) if row.get("rps")]
    if not rows:
        raise ValueError(f"no result in redis-benchmark output: {text.strip()[:200]!r}")
    row = rows[-1]
    return {name: float(row[column]) for name, column in
            (("rps", "rps"), ("p50_ms", "p50_latency_ms"), ("p95_ms", "p95_latency_ms"),
             ("p99_ms", "p99_latency_ms"), ("max_ms", "max_latency_ms")) if column in row}


def combine(results: list[CommandResult], clients: int, tool: str, pipeline: int = 1) -> Ceiling:
    """The mix's rate from per-command runs: all requests over the time they took together."""
    total = sum(r.requests for r in results)
    seconds = sum(r.requests / r.rps for r in results if r.rps > 0)
    if total == 0 or seconds == 0:
        return Ceiling.unavailable("redis-benchmark reported no throughput", clients, pipeline)

    def weighted(name: str) -> float:
        return sum(getattr(r, name) * r.requests for r in results) / total

    return Ceiling(total / seconds, weighted("p50_ms"), weighted("p99_ms"), max(r.max_ms for r in results), clients,
                   tool, results, pipeline=pipeline)


BenchmarkRunner = Callable[[list[str]], tuple[str, str]]  # args -> (tool used, stdout)


def measure_ceiling(run_benchmark: BenchmarkRunner, port: int, params: WorkloadParams,
                    total_requests: int, pipeline: int | None = None) -> Ceiling:
    """Run the four tests through `run_benchmark` (the backend knows where the tool lives) on the
    driver's connections, `pipeline` requests in flight on each (None: the driver's own depth)."""
    connections, depth = driver_shape(params)
    pipeline = pipeline or depth
    minimum = max(MIN_REQUESTS_PER_COMMAND, connections * pipeline * MIN_PIPELINES_PER_CONNECTION)
    results = []
    tool = ""
    for kind, requests in requests_per_command(params, total_requests, minimum).items():
        tool, out = run_benchmark(benchmark_args(port, params, kind, requests, connections, pipeline))
        row = parse_csv(out)
        results.append(CommandResult(kind.name.lower(), requests, row["rps"], row.get("p50_ms", math.nan),
                                     row.get("p95_ms", math.nan), row.get("p99_ms", math.nan),
                                     row.get("max_ms", math.nan)))
    return combine(results, connections, tool, pipeline)


def measure_limits(run_benchmark: BenchmarkRunner, port: int, params: WorkloadParams,
                   total_requests: int) -> Limits:
    """The ceiling at the driver's shape, then the saturation (a deep pipeline, more requests)."""
    ceiling = measure_ceiling(run_benchmark, port, params, total_requests)
    saturation = measure_ceiling(run_benchmark, port, params, total_requests * SATURATION_REQUESTS_FACTOR,
                                 SATURATION_PIPELINE)
    return Limits(ceiling, saturation)
