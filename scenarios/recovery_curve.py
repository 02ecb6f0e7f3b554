"""The recovery curve: how restart time after a crash grows with the data, per persistence config.

One trial is one point (config, N sessions): start a fresh server on an empty data directory,
fill it with N sessions (harness.workload.fill), make them durable as a long-running server
would have them (a finished BGSAVE and/or BGREWRITEAOF), record the files on disk, kill -9 the
server, restart it on the same data and time restart-to-ready. The key count after the restart
must equal N; the server's own load time is read from its log.

Repeats kill and restart the same server again on the same files (nothing is written in
between), so they measure the spread of the recovery itself, not of the fill.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import faults, topology
from harness.configs import Config, description_of, read_check, write_config
from harness.errors import HarnessError, ServerExited
from harness.faults import FaultSession
from harness.record import NAN, Columns
from harness.results import RunDir, new_run_id
from harness.runner.context import TrialEnv
from harness.environment import peak_rss_mb
from harness.progress import EchoUI
from harness.runner.local import Plan, run_plan
from harness.runner.shard import HOST, RECORDS, Shard
from harness.server.base import Server, identify
from harness.server.logs import last_start, server_load_seconds
from harness.server.persistence import DiskUsage, disk_usage, persist_baseline  # noqa: F401 - re-exported
from harness.spec import ConfigSpec, ServerChoice, TrialSpec, trial_id
from harness.topology import ServerFactory, Topology
from harness.workload.fill import BATCH, CONNECTIONS, fill
from harness.workload.session import WorkloadParams

NAME = "recovery-curve"
PROJECT_CONFIGS = Path(__file__).resolve().parent.parent / "configs"
CONFIG_NAMES = ["rdb", "aof-everysec", "aof-everysec-no-preamble"]
NO_PREAMBLE = "aof-everysec-no-preamble"
TTL_S = 1800
VALUE_BYTES = 300
RESTART_TIMEOUT_S = 600.0  # a big AOF without preamble can take a while to load
RECOVERY_CSV = "recovery.csv"
LATEST_LINK = "recovery-latest"


@dataclass(frozen=True)
class RecoveryRow(Columns):
    """One kill and restart: a row of recovery.csv."""

    server: str = ""  # "redis 7.0.15"
    backend: str = ""
    config: str = ""
    sessions: int = 0
    repeat: int = 1
    fill_s: float = NAN  # time to write the N sessions (all acknowledged)
    fill_rate_s: float = NAN  # sessions per second during the fill
    persist_s: float = NAN  # BGSAVE and/or BGREWRITEAOF, started and waited for
    persisted_by: str = ""  # "bgsave", "bgrewriteaof", ...
    rdb_bytes: int = 0  # dump.rdb
    aof_base_bytes: int = 0  # appendonlydir/*.base.rdb or *.base.aof
    aof_incr_bytes: int = 0  # appendonlydir/*.incr.aof
    aof_base_format: str = ""  # "rdb" (preamble), "aof" (commands) or "" (no AOF)
    data_bytes: int = 0  # every file in the data directory (manifest included)
    recovery_s: float = NAN  # restart call to ready (PING answers and loading:0)
    server_load_s: float = NAN  # the server's own "DB loaded from ...: X seconds" (nan if not logged)
    keys_after: int = 0  # DBSIZE after the restart
    keys_ok: bool = False  # keys_after == sessions
    server_used_memory_mb: float = NAN  # INFO memory used_memory after the fill
    harness_peak_rss_mb: float = NAN  # this process's peak RSS so far (ru_maxrss)


COLUMNS = RecoveryRow.columns()


# -- input ------------------------------------------------------------------------------------

def check_sizes(sizes: Sequence[int]) -> list[int]:
    """Distinct sizes, ascending; each a whole number of sessions, at least 1."""
    if not sizes:
        raise HarnessError("no sizes given: name at least one number of sessions, e.g. 10000")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int):
            raise HarnessError(f"size {size!r} is not a whole number of sessions")
        if size < 1:
            raise HarnessError(f"size {size} is not allowed: a size is a number of sessions, at least 1")
    return sorted(set(sizes))


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


def compose_config(name: str, configs_dir: Path) -> ConfigSpec:
    """`rdb` and `aof-everysec` are the crash matrix's files as they are; the no-preamble one is
    aof-everysec plus `aof-use-rdb-preamble no`, composed here so configs/ stays the matrix's."""
    source_name = "aof-everysec" if name == NO_PREAMBLE else name
    source = configs_dir / f"{source_name}.conf"
    if not source.is_file():
        raise HarnessError(f"config file {source} not found (the recovery curve builds on the crash matrix's configs)")
    read_check(Config(source_name, source, ""))  # settings the harness owns, before any folder exists
    text = source.read_text()
    if name == NO_PREAMBLE:  # a first comment line of its own (the config's description), then the file verbatim
        text = (f"# {source_name} without the RDB preamble: the AOF base is written as commands, not RDB.\n"
                f"{text.rstrip()}\n# added by the recovery curve (Redis 7 defaults to yes):\naof-use-rdb-preamble no\n")
    return ConfigSpec(name, text, description_of(text))


# -- the plan ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CurveOptions:
    sizes: Sequence[int]
    configs: Sequence[str] | None = None
    repeats: int = 1
    server: ServerChoice = field(default_factory=ServerChoice)
    configs_dir: Path | None = None  # None: ./configs if there is one, else the project's
    keep_data: bool = False
    value_bytes: int = VALUE_BYTES


def plan(options: CurveOptions) -> Plan:
    """One trial per (config, size); everything that can be checked without a server is, here."""
    sizes, names = check_sizes(options.sizes), check_configs(options.configs)
    repeats = options.repeats
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise HarnessError(f"repeats must be a whole number, at least 1 (got {repeats!r})")
    if options.value_bytes < 50:
        raise HarnessError(f"value size {options.value_bytes} is too small: at least 50 bytes")
    configs_dir = options.configs_dir or (Path("configs") if Path("configs").is_dir() else PROJECT_CONFIGS)
    configs = [compose_config(name, Path(configs_dir)) for name in names]
    workload = WorkloadParams(ttl_s=TTL_S, value_bytes=options.value_bytes)
    fill_options = {"fill_connections": CONNECTIONS, "fill_batch": BATCH}
    # seed = size: every config at one size is filled with the same values.
    specs = [TrialSpec(scenario=NAME, trial_id=trial_id(config.name, n), trial=1, seed=n, config=config,
                       server=options.server, workload=workload, checkers=(), keep_data=options.keep_data,
                       scenario_options={"sessions": n, "repeats": repeats, **fill_options})
             for config in configs for n in sizes]
    environment = {"scenario": NAME, "configs": names, "sizes": sizes, "repeats": repeats,
                   "value_bytes": options.value_bytes, "ttl_s": TTL_S, **fill_options,
                   "value_padding": "random base64 characters (the crash matrix pads with 'x', which RDB "
                                    "compresses away)"}
    return Plan(specs, configs, environment)


# -- one point --------------------------------------------------------------------------------

def _fill_and_persist(spec: TrialSpec, server: Server, say: Callable[[str], None]) -> dict:
    """Fill the server, then make it durable; returns the row's fill and persist columns."""
    sessions, options = int(spec.scenario_options["sessions"]), spec.scenario_options
    fill_s = fill(server, sessions, spec.workload.value_bytes, spec.workload.ttl_s, spec.seed,
                  int(options["fill_connections"]), int(options["fill_batch"]))
    rate = sessions / fill_s if fill_s > 0 else NAN
    say(f"fill: {sessions:,} sessions in {fill_s:.2f} s ({rate:,.0f}/s)")
    client = server.client(timeout_s=60)
    try:
        used_mb = round(int(client.info("memory")["used_memory"]) / 2**20, 1)
        began = time.perf_counter()
        persisted = persist_baseline(client, timeout_s=RESTART_TIMEOUT_S)
        persist_s = time.perf_counter() - began
    finally:
        client.close()
    usage = disk_usage(server.spec.data_dir)
    say(f"persist: {' + '.join(persisted) or 'nothing to do'} in {persist_s:.2f} s; on disk "
        f"{usage.data_bytes / 1e6:,.1f} MB (rdb {usage.rdb_bytes / 1e6:,.1f}, "
        f"aof base {usage.aof_base_bytes / 1e6:,.1f} ({usage.aof_base_format or '-'}), "
        f"aof incr {usage.aof_incr_bytes / 1e6:,.1f})")
    return {"fill_s": round(fill_s, 4), "fill_rate_s": round(rate, 1), "persist_s": round(persist_s, 4),
            "persisted_by": "+".join(persisted), "server_used_memory_mb": used_mb}


def _crash_and_recover(broken: FaultSession, servers: Topology, sessions: int, tag: str) -> dict:
    """The fault (kill -9), then the restart on the same files; returns the row's restart columns."""
    server = servers.primary
    usage = disk_usage(server.spec.data_dir)
    broken.inject(servers, lambda: None)  # nothing runs while it is down: no load to switch
    try:
        recovery_s = server.restart()
    except ServerExited as exc:
        raise HarnessError(f"{tag} the server did not come back after kill -9: {exc}") from None
    client = server.client(timeout_s=60)
    try:
        keys_after = int(client.dbsize())
    finally:
        client.close()
    return {**asdict(usage), "recovery_s": round(recovery_s, 4), "keys_after": keys_after,
            "server_load_s": server_load_seconds(last_start(server.log_text())),
            "keys_ok": keys_after == sessions, "harness_peak_rss_mb": peak_rss_mb()}


def run(spec: TrialSpec, env: TrialEnv, shard: Shard) -> None:
    """One point: a fresh server filled and persisted, then killed and restarted `repeats` times."""
    sessions, repeats = int(spec.scenario_options["sessions"]), int(spec.scenario_options["repeats"])
    tag = f"[{spec.config.name} {sessions:,}]"
    backend, build = env.pool.get(spec.server)
    factory = ServerFactory(backend, build, write_config(spec.config, shard.configs_dir).path, shard.logs_dir)
    rows = []
    with ExitStack() as stack:  # unwound in reverse: the server goes first, then the data
        if not spec.keep_data:
            stack.callback(shutil.rmtree, shard.data_dir, ignore_errors=True)
        broken = stack.enter_context(faults.build(spec.fault).session(shard.data_dir, spec.seed))
        servers = stack.enter_context(topology.get(spec.topology.kind).create(
            factory, spec.trial_id, lambda role: broken.server_dir, spec.port))
        servers.primary.ready_timeout_s = RESTART_TIMEOUT_S
        env.step(f"{tag} starting a server on an empty data directory")
        servers.start()
        identity = identify(servers.primary.client())
        filled = _fill_and_persist(spec, servers.primary, lambda text: env.step(f"{tag} {text}"))
        for repeat in range(1, repeats + 1):
            row = RecoveryRow(server=identity.label, backend=backend.name, config=spec.config.name, sessions=sessions,
                              repeat=repeat, **filled, **_crash_and_recover(broken, servers, sessions, tag))
            rows.append(row.to_row())
            check = "" if row.keys_ok else f"; KEYS MISSING: {row.keys_after:,} of {sessions:,} came back"
            env.step(f"{tag} kill -9 + restart{f' #{repeat}' if repeats > 1 else ''}: ready in {row.recovery_s:.3f} s "
                     f"(server log: loaded in {row.server_load_s:.3f} s), {row.keys_after:,} keys{check}")
    shard.write_json(RECORDS, rows)
    server = {"label": identity.label, "name": identity.name, "version": identity.version, **backend.describe(build)}
    shard.write_json(HOST, {**env.host, "server": server})


def trial_line(row: dict) -> str:
    """The point's summary (run_plan passes its first row; each restart had its own line already)."""
    return (f"[{row['config']} {int(row['sessions']):,}] done: {int(row['data_bytes']) / 1e6:,.1f} MB on disk, "
            f"first restart ready in {float(row['recovery_s']):.3f} s")


# -- a whole curve, as the CLI runs it --------------------------------------------------------

def run_recovery_curve(sizes: list[int], configs: list[str] | None, backend: str, image: str,
                       server_bin: Path | None, results_root: Path, repeats: int,
                       echo: Callable[[str], None], *, configs_dir: Path | None = None,
                       keep_data: bool = False, value_bytes: int = VALUE_BYTES,
                       build_report: bool = True) -> Path:
    """Measure recovery time against data size; returns results/recovery-<run id>/.

    On any failure or Ctrl-C the points measured so far are kept (and reported), every server
    is removed (run_plan), and the exception propagates; a run that measured nothing leaves nothing.
    """
    began, rss_at_start = time.perf_counter(), peak_rss_mb()
    curve = plan(CurveOptions(sizes, configs, repeats, ServerChoice.of(backend, image, server_bin), configs_dir,
                              keep_data, value_bytes))
    curve.environment["harness_rss_at_start_mb"] = rss_at_start
    # resolved: the servers run with their data directory as working directory
    run = RunDir.create(Path(results_root).resolve(), run_id=f"recovery-{new_run_id()}", table=RECOVERY_CSV,
                        latest_link=LATEST_LINK, columns=lambda: COLUMNS)
    environment = curve.environment
    echo(f"recovery curve {run.run_id}: {len(environment['configs'])} config(s) x {len(environment['sizes'])} "
         f"size(s) ({', '.join(f'{s:,}' for s in environment['sizes'])} sessions) x {repeats} repeat(s)")
    try:
        run_plan(sys.modules[__name__], curve, run, EchoUI(echo))  # the scenario is this module
    finally:
        _finish(run, began, echo, build_report)
    echo(f"recovery curve done in {time.perf_counter() - began:.1f} s: {run.path}")
    return run.path


def _finish(run: RunDir, began: float, echo: Callable[[str], None], build_report: bool) -> None:
    """What every exit path does: nothing measured -> no folder; else the totals, the report, the link."""
    if not run.rows:
        shutil.rmtree(run.path, ignore_errors=True)
        return
    environment = run.environment()
    environment.update(finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), rows=len(run.rows),
                       wall_s=round(time.perf_counter() - began, 1), harness_peak_rss_mb=peak_rss_mb())
    run.write_environment(environment)
    if build_report:
        try:  # the import too: matplotlib only when needed, and a broken report never loses the rows
            from harness.report.recovery import build_recovery_report  # noqa: PLC0415

            paths = build_recovery_report(run.path)
            echo(f"report: {paths['recovery.html']} (also recovery.md, recovery.png, recovery.csv)")
        except Exception as exc:  # the measurements are kept even if the report cannot be drawn
            echo(f"the recovery report could not be built: {type(exc).__name__}: {exc}")
    run.mark_latest()
