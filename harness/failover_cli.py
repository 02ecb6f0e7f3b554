"""The failover scenario's options on `python -m harness run` (`--scenarios failover`), and their
plan (harness.run_options.failover_plan, beside the other scenarios')."""

from __future__ import annotations


import click

from harness.topology.sentinel_setup import MIN_DOWN_AFTER_MS, PRODUCTION_DOWN_AFTER_MS
from harness.workload.acks import ACK_MODES
from scenarios.failover.options import (CLIENT_MODES, DEFAULT_ACK_MODES, DEFAULT_CLIENT_MODES, DEFAULT_CONFIGS,
                                        DEFAULT_FAULTS, DEFAULT_TIMELINE, FAILOVER_FAULTS, AppOptions)

FAILOVER_OPTIONS = [
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
