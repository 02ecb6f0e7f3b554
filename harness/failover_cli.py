"""The failover scenario's options on `python -m harness run` (`--scenarios failover`), and their
translation into scenarios.failover.FailoverOptions. Kept apart from cli.py, which holds the
options every scenario shares."""

from __future__ import annotations

from pathlib import Path

import click

from harness.spec import ServerChoice, Timeline
from harness.topology.sentinel_setup import MIN_DOWN_AFTER_MS, PRODUCTION_DOWN_AFTER_MS
from harness.workload.acks import ACK_MODES
from scenarios.failover.options import (CLIENT_MODES, DEFAULT_ACK_MODES, DEFAULT_CLIENT_MODES, DEFAULT_CONFIGS,
                                        DEFAULT_FAULTS, DEFAULT_TIMELINE, FAILOVER_FAULTS, REQUEST_TIMEOUT_S,
                                        AppOptions, FailoverOptions)

_OPTIONS = [
    click.option("--failover-configs", multiple=True, metavar="NAMES",
                 help=f"failover: persistence configs every data server runs. Default: {' '.join(DEFAULT_CONFIGS)}."),
    click.option("--failover-faults", multiple=True, metavar="NAMES",
                 help=f"failover: {', '.join(FAILOVER_FAULTS)}. Default: {' '.join(DEFAULT_FAULTS)}."),
    click.option("--ack-modes", multiple=True, metavar="NAMES",
                 help=f"failover: {', '.join(ACK_MODES)} (what acknowledges a write). Default: "
                      f"{' '.join(DEFAULT_ACK_MODES)}; waitaof is skipped, and said, where the server lacks it."),
    click.option("--client-modes", multiple=True, metavar="NAMES",
                 help=f"failover: how the load follows the primary: {', '.join(CLIENT_MODES)} (lookup: as redis-py's "
                      f"Sentinel client; subscribe: +switch-master, as Jedis and Lettuce). Default: "
                      f"{' '.join(DEFAULT_CLIENT_MODES)}."),
    click.option("--replicas", type=click.IntRange(0), default=1, show_default=True,
                 help="failover: replicas of the primary (at least 1)."),
    click.option("--down-after-ms", type=int, default=1000, show_default=True,
                 help=f"failover: Sentinel's down-after-milliseconds (production default {PRODUCTION_DOWN_AFTER_MS}; "
                      f"at least {MIN_DOWN_AFTER_MS})."),
    click.option("--failover-timeout-ms", type=int, default=10_000, show_default=True,
                 help="failover: Sentinel's failover-timeout (production default 180000)."),
    click.option("--ack-timeout-ms", type=int, default=1000, show_default=True,
                 help="failover: the timeout of WAIT / WAITAOF after each write."),
    click.option("--min-replicas-max-lag", type=click.IntRange(1), default=10, show_default=True,
                 help="failover: min-replicas-max-lag (seconds) in the min-replicas ack mode."),
    click.option("--failover-trials", type=click.IntRange(1), default=1, show_default=True,
                 help="failover: trials per config, fault, ack mode and client mode."),
    click.option("--failover-duration", type=click.FloatRange(0.5), default=DEFAULT_TIMELINE.duration_s,
                 show_default=True, help="failover: seconds of load before the fault window ends (the load goes on "
                                         "through the failover)."),
    click.option("--app/--no-app", default=False, show_default=True,
                 help="failover: also run the application load (redis-py defaults and configured) through a "
                      "restart and a failover (make failover does)."),
    click.option("--app-threads", type=click.IntRange(1), default=AppOptions.threads, show_default=True,
                 help="failover: application threads sharing one redis-py client."),
    click.option("--app-rate", type=click.FloatRange(1), default=AppOptions.rate_per_thread, show_default=True,
                 help="failover: requests per second per application thread."),
]


def failover_options(command):
    """Add the failover scenario's options to a click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def _names(values: tuple[str, ...]) -> list[str] | None:
    names = [name for value in values for name in value.replace(",", " ").split()]
    return names or None


def failover_from_cli(kw: dict, workload, server: ServerChoice, quick: bool) -> FailoverOptions:
    """FailoverOptions from `run`'s keyword arguments (the shared ones too: results, port, seed...)."""
    from dataclasses import replace  # noqa: PLC0415

    timeline = Timeline(duration_s=kw["failover_duration"], after_s=DEFAULT_TIMELINE.after_s, ceiling_requests=0)
    options = FailoverOptions(
        configs_dir=Path(kw["configs_dir"]), config_names=_names(kw["failover_configs"]),
        fault_names=_names(kw["failover_faults"]), ack_modes=_names(kw["ack_modes"]),
        client_modes=_names(kw["client_modes"]), replicas=kw["replicas"],
        down_after_ms=kw["down_after_ms"], failover_timeout_ms=kw["failover_timeout_ms"],
        min_replicas_max_lag_s=kw["min_replicas_max_lag"], ack_timeout_ms=kw["ack_timeout_ms"],
        fault_settings={"fs_metadata": kw["fs_metadata"], "fs_writeback": kw["fs_writeback"]},
        trials=kw["failover_trials"], timeline=timeline,
        workload=replace(workload, op_timeout_s=REQUEST_TIMEOUT_S),
        app=AppOptions(enabled=kw["app"] and not quick, threads=kw["app_threads"], rate_per_thread=kw["app_rate"]),
        server=server, keep_data=kw["keep_data"], port=kw["port"],
        **({"seed": kw["seed"]} if kw["seed"] is not None else {}))
    return options
