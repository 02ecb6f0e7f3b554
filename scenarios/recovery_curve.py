"""The recovery curve: how restart time after a crash grows with the data, per persistence config.

For each (config, size): start a fresh server on an empty data directory, fill it with N
sessions (`SET session:<id> <~300-byte JSON> EX 1800`, pipelined), make them durable as a
long-running server would have them (a finished BGSAVE and/or BGREWRITEAOF), record the files
on disk, SIGKILL the server, restart it on the same data and time restart-to-ready. The key
count after the restart must equal N; the server's own load time is read from its log.

Repeats kill and restart the same server again on the same files (nothing is written in
between), so they measure the spread of the recovery itself, not of the fill.

The harness never holds the data set: values are generated a batch at a time and a bounded
number of requests is in flight, so its memory stays flat whatever N is.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import os
import random
import re
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from harness import configs as config_files
from harness.environment import describe_machine
from harness.errors import HarnessError, ServerExited
from harness.results import ResultsFolder, new_run_id
from harness.server import ServerSpec, choose_backend, free_port, identify
from harness.server.base import Server
from harness.server.persistence import persist_baseline
from harness.workload.resp import ConnectionLost, RespConnection
from harness.workload.session import SessionValues, login_command, session_key

PROJECT_CONFIGS = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_SIZES = [10_000, 100_000, 1_000_000]
CONFIG_NAMES = ["rdb", "aof-everysec", "aof-everysec-no-preamble"]
NO_PREAMBLE = "aof-everysec-no-preamble"
TTL_S = 1800
VALUE_BYTES = 300
FILL_CONNECTIONS = 2  # pipelines at once: the server works on one batch while Python builds the next
FILL_BATCH = 1000  # commands per pipeline round trip: at most CONNECTIONS x BATCH requests in flight
RESTART_TIMEOUT_S = 600.0  # a big AOF without preamble can take a while to load

RECOVERY_CSV = "recovery.csv"
LATEST_LINK = "recovery-latest"


@dataclass(frozen=True)
class RecoveryRow:
    """One kill and restart: a row of recovery.csv."""

    server: str  # "redis 7.0.15"
    backend: str
    config: str
    sessions: int
    repeat: int
    fill_s: float  # time to write the N sessions (all acknowledged)
    fill_rate_s: float  # sessions per second during the fill
    persist_s: float  # BGSAVE and/or BGREWRITEAOF, started and waited for
    persisted_by: str  # "bgsave", "bgrewriteaof", ...
    rdb_bytes: int  # dump.rdb
    aof_base_bytes: int  # appendonlydir/*.base.rdb or *.base.aof
    aof_incr_bytes: int  # appendonlydir/*.incr.aof
    aof_base_format: str  # "rdb" (preamble), "aof" (commands) or "" (no AOF)
    data_bytes: int  # every file in the data directory (manifest included)
    recovery_s: float  # restart call to ready (PING answers and loading:0)
    server_load_s: float  # the server's own "DB loaded from ...: X seconds" (nan if not logged)
    keys_after: int  # DBSIZE after the restart
    keys_ok: bool  # keys_after == sessions
    server_used_memory_mb: float  # INFO memory used_memory after the fill
    harness_peak_rss_mb: float  # this process's peak RSS so far (ru_maxrss)


COLUMNS = [f.name for f in fields(RecoveryRow)]


# -- input ------------------------------------------------------------------------------------

def check_sizes(sizes: Sequence[int]) -> list[int]:
    """Distinct sizes, ascending; each a whole number of sessions, at least 1."""
    if not sizes:
        raise HarnessError("no sizes given: name at least one number of sessions, e.g. 10000")
    checked = []
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int):
            raise HarnessError(f"size {size!r} is not a whole number of sessions")
        if size < 1:
            raise HarnessError(f"size {size} is not allowed: a size is a number of sessions, at least 1")
        checked.append(size)
    return sorted(set(checked))


_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000}


def parse_sizes(text: str) -> list[int]:
    """'10000 100000 1000000', '10k,100k,1M' or '1_000_000' -> sizes (checked, ascending)."""
    sizes = []
    for word in text.replace(",", " ").split():
        number, suffix = word.rstrip("kKmM").replace("_", ""), word[len(word.rstrip("kKmM")):].lower()
        if not number.isdigit() or suffix not in _SUFFIX:
            raise HarnessError(f"size {word!r} is not a number of sessions (e.g. 10000, 100k, 1M)")
        sizes.append(int(number) * _SUFFIX[suffix])
    return check_sizes(sizes)


def check_configs(configs: Sequence[str] | None) -> list[str]:
    if not configs:
        return list(CONFIG_NAMES)
    unknown = [name for name in configs if name not in CONFIG_NAMES]
    if unknown:
        raise HarnessError(f"unknown config {', '.join(repr(n) for n in unknown)} for the recovery curve: "
                           f"choose from {', '.join(CONFIG_NAMES)}")
    return list(dict.fromkeys(configs))


def compose_configs(names: list[str], configs_dir: Path, into: Path) -> list[config_files.Config]:
    """The config files this run uses, written into the run folder (the copy every run keeps).

    `rdb` and `aof-everysec` are the crash matrix's files as they are; the no-preamble one is
    aof-everysec plus `aof-use-rdb-preamble no`, composed here so configs/ stays the matrix's.
    """
    into.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        source_name = "aof-everysec" if name == NO_PREAMBLE else name
        source = configs_dir / f"{source_name}.conf"
        if not source.is_file():
            raise HarnessError(f"config file {source} not found (the recovery curve builds on the crash matrix's "
                               f"configs)")
        text = source.read_text()
        if name == NO_PREAMBLE:
            # A first comment line of its own (the config's description), then the file verbatim.
            text = (f"# {source_name} without the RDB preamble: the AOF base is written as commands, not RDB.\n"
                    f"{text.rstrip()}\n"
                    f"# added by the recovery curve (Redis 7 defaults to yes):\n"
                    f"aof-use-rdb-preamble no\n")
        target = into / f"{name}.conf"
        target.write_text(text)
        config = config_files.Config(name, target.resolve(), _first_comment(text))
        config_files.read_check(config)
        out.append(config)
    return out


def _first_comment(text: str) -> str:
    """A config's description: its first line, when that is a comment (as configs/ has it)."""
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    return first.lstrip("#").strip() if first.startswith("#") else ""


# -- the results folder ---------------------------------------------------------------------

class RecoveryRun(ResultsFolder):
    """results/recovery-<run id>/: recovery.csv rewritten after every row, logs, configs, data."""

    LATEST_LINK = LATEST_LINK

    def __init__(self, root: Path, run_id: str) -> None:
        super().__init__(root, run_id)
        self.rows: list[RecoveryRow] = []

    @classmethod
    def create(cls, root: Path, run_id: str | None = None) -> "RecoveryRun":
        return super().create(root, run_id or f"recovery-{new_run_id()}")

    def add(self, row: RecoveryRow) -> None:
        self.rows.append(row)
        tmp = self.path / f".{RECOVERY_CSV}.tmp"
        with open(tmp, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            for each in self.rows:
                writer.writerow(asdict(each))
        os.replace(tmp, self.path / RECOVERY_CSV)


# -- measuring --------------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass(frozen=True)
class DiskUsage:
    rdb_bytes: int
    aof_base_bytes: int
    aof_incr_bytes: int
    aof_base_format: str
    data_bytes: int


def disk_usage(data_dir: Path) -> DiskUsage:
    """Sizes of the persistence files: dump.rdb, the AOF base and incr files, and everything."""
    rdb = aof_base = aof_incr = total = 0
    base_format = ""
    for path in data_dir.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        name = path.name
        if path.parent == data_dir and name.endswith(".rdb"):
            rdb += size
        elif path.parent.name == "appendonlydir":
            if ".base." in name:
                aof_base += size
                base_format = "rdb" if name.endswith(".rdb") else "aof"
            elif name.endswith(".incr.aof"):
                aof_incr += size
    return DiskUsage(rdb, aof_base, aof_incr, base_format, total)


_LOADED = re.compile(r"DB loaded from (?:append only file|disk): ([0-9.]+) seconds")


def server_load_seconds(log: str) -> float:
    """The server's own figure for the last load in `log` ("DB loaded from ...: X seconds")."""
    found = _LOADED.findall(log)
    return float(found[-1]) if found else float("nan")


def session_values(seed: int, value_bytes: int, writer: int) -> SessionValues:
    """The crash matrix's session documents, with the padding made of random base64 characters.

    SessionValues pads with a run of "x", which the RDB's per-value LZF compression all but
    erases (about 30% of a 300-byte value); a real session's extra fields do not compress like
    that, so bytes per session on disk would be understated for RDB and the preamble AOF only.
    """
    rng = random.Random(seed * 1009 + writer)
    values = SessionValues(rng, value_bytes, writer)
    pad = getattr(values, "pad", None)
    if isinstance(pad, bytes) and pad:
        values.pad = base64.b64encode(rng.randbytes(len(pad)))[:len(pad)].replace(b"/", b"_").replace(b"+", b"-")
    return values


async def _fill_async(host: str, port: int, sessions: int, value_bytes: int, ttl_s: int, seed: int,
                      connections: int, batch: int) -> None:
    """SET session:0..N-1, pipelined: each connection sends a batch, then waits for its replies.

    At most connections x batch requests are in flight; nothing else is kept.
    """
    next_id = 0

    async def writer(number: int) -> None:
        nonlocal next_id
        values = session_values(seed, value_bytes, number)
        conn = await RespConnection.open(host, port, timeout_s=5.0)
        waiters: list[asyncio.Future] = []
        try:
            while next_id < sessions:
                first, last = next_id, min(next_id + batch, sessions)
                next_id = last
                waiters = [conn.send(login_command(session_key(i), values.next(i), ttl_s))
                           for i in range(first, last)]
                await waiters[-1]  # replies come in order: the last one done means all are
                for waiter in waiters:
                    reply = waiter.result()
                    if reply != b"OK":
                        raise HarnessError(f"the server refused a session write while filling: {reply!r}")
        finally:
            for waiter in waiters:  # interrupted or broken: nobody will read these replies
                if not waiter.done():
                    waiter.cancel()
                elif not waiter.cancelled():
                    waiter.exception()  # retrieved: no "exception was never retrieved" per request
            conn.close()

    await asyncio.gather(*(writer(n) for n in range(connections)))


def fill(server: Server, sessions: int, value_bytes: int = VALUE_BYTES, ttl_s: int = TTL_S, seed: int = 0,
         connections: int = FILL_CONNECTIONS, batch: int = FILL_BATCH) -> float:
    """Write `sessions` session values; returns the seconds it took (every write acknowledged)."""
    began = time.perf_counter()
    try:
        asyncio.run(_fill_async(server.host, server.port, sessions, value_bytes, ttl_s, seed,
                                min(connections, max(1, sessions // batch + 1)), batch))
    except (ConnectionLost, OSError, TimeoutError) as exc:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if not server.is_running():
            what = f"the server exited ({what}); its log: {server.spec.log_path}"
        raise HarnessError(f"filling server {server.spec.name} failed: {what}") from None
    return time.perf_counter() - began


# -- the scenario -----------------------------------------------------------------------------

def _point_id(config: str, sessions: int) -> str:
    return f"{config}__{sessions}"


def _measure_point(backend, run: RecoveryRun, config: config_files.Config, sessions: int, repeats: int,
                   keep_data: bool, value_bytes: int, echo: Callable[[str], None]) -> list[RecoveryRow]:
    point = _point_id(config.name, sessions)
    tag = f"[{config.name} {sessions:,}]"
    data_dir = run.data_dir(point)
    spec = ServerSpec(point, config.path, data_dir, run.log_path(point), free_port())
    server = backend.server(spec)
    server.ready_timeout_s = RESTART_TIMEOUT_S
    rows = []
    try:
        echo(f"{tag} starting a server on an empty data directory")
        server.start()
        identity = identify(server.client())
        fill_s = fill(server, sessions, value_bytes=value_bytes, seed=sessions)
        rate = sessions / fill_s if fill_s > 0 else float("nan")
        echo(f"{tag} fill: {sessions:,} sessions in {fill_s:.2f} s ({rate:,.0f}/s)")
        client = server.client(timeout_s=60)
        used_mb = round(int(client.info("memory")["used_memory"]) / 2**20, 1)
        began = time.perf_counter()
        persisted = persist_baseline(client, timeout_s=RESTART_TIMEOUT_S)
        persist_s = time.perf_counter() - began
        client.close()
        for repeat in range(1, repeats + 1):
            usage = disk_usage(data_dir)
            if repeat == 1:
                echo(f"{tag} persist: {' + '.join(persisted) or 'nothing to do'} in {persist_s:.2f} s; "
                     f"on disk {usage.data_bytes / 1e6:,.1f} MB (rdb {usage.rdb_bytes / 1e6:,.1f}, "
                     f"aof base {usage.aof_base_bytes / 1e6:,.1f} ({usage.aof_base_format or '-'}), "
                     f"aof incr {usage.aof_incr_bytes / 1e6:,.1f})")
            server.kill()
            log_before = len(server.log_text())
            try:
                recovery_s = server.restart()
            except ServerExited as exc:
                raise HarnessError(f"{tag} the server did not come back after kill -9: {exc}") from None
            load_s = server_load_seconds(server.log_text()[log_before:])
            client = server.client(timeout_s=60)
            keys_after = int(client.dbsize())
            client.close()
            row = RecoveryRow(
                server=identity.label, backend=backend.name, config=config.name, sessions=sessions,
                repeat=repeat, fill_s=round(fill_s, 4), fill_rate_s=round(rate, 1), persist_s=round(persist_s, 4),
                persisted_by="+".join(persisted), rdb_bytes=usage.rdb_bytes, aof_base_bytes=usage.aof_base_bytes,
                aof_incr_bytes=usage.aof_incr_bytes, aof_base_format=usage.aof_base_format,
                data_bytes=usage.data_bytes, recovery_s=round(recovery_s, 4), server_load_s=load_s,
                keys_after=keys_after, keys_ok=keys_after == sessions, server_used_memory_mb=used_mb,
                harness_peak_rss_mb=peak_rss_mb(),
            )
            rows.append(row)
            run.add(row)
            run.mark_latest()
            check = "" if row.keys_ok else f"; KEYS MISSING: {keys_after:,} of {sessions:,} came back"
            echo(f"{tag} kill -9 + restart{f' #{repeat}' if repeats > 1 else ''}: ready in {recovery_s:.3f} s "
                 f"(server log: loaded in {load_s:.3f} s), {keys_after:,} keys{check}")
    finally:
        server.save_log()
        server.remove()
        if not keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def run_recovery_curve(sizes: list[int], configs: list[str] | None, backend: str, image: str,
                       server_bin: Path | None, results_root: Path, repeats: int,
                       echo: Callable[[str], None], *, configs_dir: Path | None = None,
                       keep_data: bool = False, value_bytes: int = VALUE_BYTES,
                       build_report: bool = True) -> Path:
    """Measure recovery time against data size; returns results/recovery-<run id>/.

    Rows are written as they are measured; on any failure or Ctrl-C the rows so far are kept
    (and reported), every server is removed, and the exception propagates.
    """
    sizes = check_sizes(sizes)
    names = check_configs(configs)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise HarnessError(f"repeats must be a whole number, at least 1 (got {repeats!r})")
    if value_bytes < 50:
        raise HarnessError(f"value size {value_bytes} is too small: at least 50 bytes")
    if configs_dir is None:
        configs_dir = Path("configs") if Path("configs").is_dir() else PROJECT_CONFIGS
    began = time.perf_counter()
    rss_at_start = peak_rss_mb()
    run = RecoveryRun.create(Path(results_root).resolve())  # servers run with their data dir as cwd
    chosen = None
    environment: dict = {}
    try:
        selected = compose_configs(names, configs_dir, run.path / "configs")
        chosen = choose_backend(backend, image, run.run_id, server_bin, echo)
        chosen.prepare(echo)
        echo(f"recovery curve {run.run_id}: {len(selected)} config(s) x {len(sizes)} size(s) "
             f"({', '.join(f'{s:,}' for s in sizes)} sessions) x {repeats} repeat(s)")
        config_files.check_all(chosen, selected)
        environment = {
            "scenario": "recovery-curve",
            "run_id": run.run_id,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **describe_machine(run.path),
            **chosen.describe(),
            "configs": [c.name for c in selected],
            "sizes": sizes,
            "repeats": repeats,
            "value_bytes": value_bytes,
            "ttl_s": TTL_S,
            "fill_connections": FILL_CONNECTIONS,
            "fill_batch": FILL_BATCH,
            "value_padding": "random base64 characters (the crash matrix pads with 'x', which RDB compresses away)",
            "harness_rss_at_start_mb": rss_at_start,
        }
        run.write_environment(environment)
        for config in selected:
            for sessions in sizes:
                rows = _measure_point(chosen, run, config, sessions, repeats, keep_data, value_bytes, echo)
                if "server" not in environment:
                    name, _, version = rows[0].server.partition(" ")
                    environment.update(server=name, server_version=version)
    finally:
        try:
            if chosen is not None:
                chosen.cleanup()
        finally:
            run.remove_empty_data_dir()
            if run.rows:
                environment.update(finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                   wall_s=round(time.perf_counter() - began, 1),
                                   rows=len(run.rows), harness_peak_rss_mb=peak_rss_mb())
                run.write_environment(environment)
                if build_report:
                    _report(run, echo)
                run.mark_latest()
            elif not any(p for p in run.path.rglob("*") if p.is_file() and p.parent.name != "configs"):
                shutil.rmtree(run.path, ignore_errors=True)  # nothing measured: leave nothing behind
    echo(f"recovery curve done in {time.perf_counter() - began:.1f} s: {run.path}")
    return run.path


def _report(run: RecoveryRun, echo: Callable[[str], None]) -> None:
    from harness.report.recovery import build_recovery_report  # noqa: PLC0415 - matplotlib only when needed

    try:
        paths = build_recovery_report(run.path)
        echo(f"report: {paths['recovery.html']} (also recovery.md, recovery.png, recovery.csv)")
    except Exception as exc:  # the measurements are kept even if the report cannot be drawn
        echo(f"the recovery report could not be built: {type(exc).__name__}: {exc}")
