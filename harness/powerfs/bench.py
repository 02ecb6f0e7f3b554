"""Throughput of a real server on powerfs versus on a plain directory (redis-benchmark SET).

    python -m harness.powerfs bench [--configs aof-everysec,aof-always] [--reps 3] ...

or from Python: `run_benchmark(...)` returns one row per run and `summarize(rows)` the medians
and the powerfs / plain ratio per config. Each repetition runs every config on both targets,
alternating, so a noisy neighbour hurts both alike. The plain directory and the backing
directory are on the same filesystem (under `workdir`).
"""

from __future__ import annotations

import csv
import io
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from harness.errors import HarnessError
from harness.powerfs import DEFAULT_WRITEBACK_S, PowerFS
from harness.server.base import ServerSpec, free_port
from harness.server.process import ProcessBackend

ROOT = Path(__file__).resolve().parent.parent.parent
CONFIGS_DIR = ROOT / "configs"


def _benchmark_tool(backend: ProcessBackend) -> str:
    for tool in backend.binary.tools():
        if tool.name.endswith("-benchmark"):
            return str(tool)
    found = shutil.which("redis-benchmark") or shutil.which("valkey-benchmark")
    if not found:
        raise HarnessError("redis-benchmark not found (Debian package redis-tools)")
    return found


def _redis_benchmark(tool: str, port: int, requests: int, clients: int, size: int) -> dict:
    out = subprocess.run([tool, "-h", "127.0.0.1", "-p", str(port), "-t", "set", "-n", str(requests),
                          "-c", str(clients), "-d", str(size), "--csv"],
                         capture_output=True, text=True, timeout=600)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    if out.returncode != 0 or not rows:
        raise HarnessError(f"redis-benchmark failed: {(out.stderr or out.stdout).strip()[-300:]}")
    row = rows[0]
    return {"rps": float(row["rps"]), "p50_ms": float(row.get("p50_latency_ms", "nan")),
            "p99_ms": float(row.get("p99_latency_ms", "nan"))}


def _measure(backend: ProcessBackend, tool: str, run_dir: Path, config: str, target: str, name: str,
             requests: int, clients: int, size: int, fs_options: dict) -> dict:
    """One redis-benchmark run on a fresh server, its data on a plain directory or on powerfs."""
    data = run_dir / "data"
    data.mkdir(parents=True)
    fs = PowerFS(data, run_dir / "mnt", **fs_options).mount() if target == "powerfs" else None
    server = backend.server(ServerSpec(name=name, config_path=CONFIGS_DIR / f"{config}.conf",
                                       data_dir=fs.mountpoint if fs else data, log_path=run_dir / "server.log",
                                       port=free_port()))
    try:
        server.start()
        result = _redis_benchmark(tool, server.port, requests, clients, size)
        result["aof_delayed_fsync"] = server.client().info("persistence").get("aof_delayed_fsync")
        server.kill()
        if fs is not None:
            counters = fs.cut()
            result.update({k: counters[k] for k in ("writes", "bytes_written", "fsyncs", "dir_fsyncs",
                                                     "writeback_flushes", "unsynced_bytes_at_cut")})
    finally:
        server.remove()
        if fs is not None:
            fs.close()
    return result


def run_benchmark(
    configs: tuple[str, ...] = ("aof-everysec", "aof-always"),
    reps: int = 3,
    requests: int = 200_000,
    clients: int = 50,
    size: int = 300,
    metadata: str = "strict",
    writeback_s: float | None = DEFAULT_WRITEBACK_S,
    kernel_cache: bool = True,
    real_sync: bool = True,
    multithreaded: bool = False,
    workdir: str | Path | None = None,
    echo=print,
) -> list[dict]:
    """One row per (rep, config, target): rps, p50_ms, p99_ms, and powerfs counters."""
    backend = ProcessBackend()
    backend.prepare(echo)
    tool = _benchmark_tool(backend)
    own_workdir = workdir is None
    work = Path(workdir or tempfile.mkdtemp(prefix="powerfs-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    fs_options = dict(metadata=metadata, writeback_s=writeback_s, kernel_cache=kernel_cache, real_sync=real_sync,
                      multithreaded=multithreaded)
    rows: list[dict] = []
    try:
        for rep in range(1, reps + 1):
            for config in configs:
                for target in ("plain", "powerfs"):
                    run_dir = work / f"{config}-{target}-{rep}"
                    result = _measure(backend, tool, run_dir, config, target, f"bench-{config}-{target}-{rep}",
                                      requests, clients, size, fs_options)
                    row = {"rep": rep, "config": config, "target": target, **result}
                    rows.append(row)
                    echo(f"  rep {rep} {config:14s} {target:8s} {row['rps']:>10,.0f} ops/s  "
                         f"p50 {row['p50_ms']:.3f} ms  p99 {row['p99_ms']:.3f} ms")
                    shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        backend.cleanup()
        if own_workdir:
            shutil.rmtree(work, ignore_errors=True)
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Per config: median ops/s on each target, and powerfs / plain."""
    out = []
    for config in dict.fromkeys(row["config"] for row in rows):
        plain = [r["rps"] for r in rows if r["config"] == config and r["target"] == "plain"]
        power = [r["rps"] for r in rows if r["config"] == config and r["target"] == "powerfs"]
        if plain and power:
            out.append({"config": config, "plain_median": statistics.median(plain),
                        "powerfs_median": statistics.median(power),
                        "ratio": statistics.median(power) / statistics.median(plain),
                        "plain_runs": plain, "powerfs_runs": power})
    return out


def main(args) -> int:
    configs = tuple(c.strip() for c in args.configs.replace(",", " ").split() if c.strip())
    rows = run_benchmark(configs, reps=args.reps, requests=args.requests, clients=args.clients, size=args.size,
                         metadata=args.metadata, writeback_s=args.writeback, kernel_cache=args.kernel_cache,
                         real_sync=args.real_sync, multithreaded=args.multithreaded, workdir=args.workdir)
    print(f"\nredis-benchmark -t set -n {args.requests} -c {args.clients} -d {args.size}, "
          f"medians of {args.reps} (metadata={args.metadata}, writeback={args.writeback}, "
          f"kernel cache={'on' if args.kernel_cache else 'off'}, real sync={'on' if args.real_sync else 'off'})")
    for row in summarize(rows):
        runs = lambda xs: ", ".join(f"{x:,.0f}" for x in xs)  # noqa: E731
        print(f"  {row['config']:14s} plain {row['plain_median']:>9,.0f}  powerfs {row['powerfs_median']:>9,.0f}  "
              f"ratio {row['ratio']:.2f}   (plain: {runs(row['plain_runs'])}; powerfs: {runs(row['powerfs_runs'])})")
    return 0
