"""The server's ceiling: redis-benchmark (shipped with the server) on the same server and mix.

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
    clients: int
    tool: str
    commands: list[CommandResult] = field(default_factory=list)
    note: str = ""

    @classmethod
    def unavailable(cls, note: str, clients: int) -> "Ceiling":
        nan = float("nan")
        return cls(nan, nan, nan, nan, clients, "", [], note)

    def columns(self) -> "CeilingColumns":
        return CeilingColumns(round(self.ops_s, 1), round(self.p50_ms, 3), round(self.p99_ms, 3))


@dataclass(frozen=True)
class CeilingColumns(Columns):
    """redis-benchmark on the trial's server before its load."""

    ceiling_ops_s: float = NAN
    ceiling_p50_ms: float = NAN
    ceiling_p99_ms: float = NAN


def command_lines(params: WorkloadParams) -> dict[Kind, list[str]]:
    value = "x" * params.value_bytes
    ttl = str(params.ttl_s)
    return {
        Kind.LOGIN: ["SET", BENCH_KEY, value, "EX", ttl],
        Kind.READ: ["GET", BENCH_KEY],
        Kind.REFRESH: ["EXPIRE", BENCH_KEY, ttl],
        Kind.LOGOUT: ["DEL", BENCH_KEY],
    }


def requests_per_command(params: WorkloadParams, total: int) -> dict[Kind, int]:
    weights = dict(zip(Kind, params.mix.weights()))
    whole = sum(weights.values())
    return {kind: max(MIN_REQUESTS_PER_COMMAND, round(total * w / whole)) for kind, w in weights.items() if w > 0}


def benchmark_args(port: int, params: WorkloadParams, kind: Kind, requests: int) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(port), "-c", str(params.concurrency), "-n", str(requests),
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


def combine(results: list[CommandResult], clients: int, tool: str) -> Ceiling:
    """The mix's rate from per-command runs: all requests over the time they took together."""
    total = sum(r.requests for r in results)
    seconds = sum(r.requests / r.rps for r in results if r.rps > 0)
    if total == 0 or seconds == 0:
        return Ceiling.unavailable("redis-benchmark reported no throughput", clients)

    def weighted(name: str) -> float:
        return sum(getattr(r, name) * r.requests for r in results) / total

    return Ceiling(total / seconds, weighted("p50_ms"), weighted("p99_ms"), max(r.max_ms for r in results), clients,
                   tool, results)


BenchmarkRunner = Callable[[list[str]], tuple[str, str]]  # args -> (tool used, stdout)


def measure_ceiling(run_benchmark: BenchmarkRunner, port: int, params: WorkloadParams,
                    total_requests: int) -> Ceiling:
    """Run the four tests through `run_benchmark` (the backend knows where the tool lives)."""
    results = []
    tool = ""
    for kind, requests in requests_per_command(params, total_requests).items():
        tool, out = run_benchmark(benchmark_args(port, params, kind, requests))
        row = parse_csv(out)
        results.append(CommandResult(kind.name.lower(), requests, row["rps"], row.get("p50_ms", math.nan),
                                     row.get("p95_ms", math.nan), row.get("p99_ms", math.nan),
                                     row.get("max_ms", math.nan)))
    return combine(results, params.concurrency, tool)
