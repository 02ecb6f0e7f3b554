"""`python -m harness.powerfs mount|bench`: the daemon's command line, and the speed benchmark."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from harness.powerfs.daemon import STOP_SIGNALS, Daemon, log
from harness.powerfs.state import METADATA_MODES, parse_writeback


def writeback_argument(text: str) -> float | None:
    """--writeback for argparse: state.parse_writeback, its complaint as argparse's."""
    try:
        return parse_writeback(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.powerfs",
                                     description="A FUSE filesystem that forgets what was never fsynced.")
    sub = parser.add_subparsers(dest="command", required=True)
    mount = sub.add_parser("mount", help="serve BACKING at MOUNTPOINT in the foreground")
    mount.add_argument("backing", help="directory that holds exactly the durable state")
    mount.add_argument("mountpoint")
    mount.add_argument("--metadata", choices=METADATA_MODES, default="strict",
                       help="strict: a name is durable once its directory is fsynced; lenient: at once")
    mount.add_argument("--writeback", type=writeback_argument, default="kernel", metavar="SECONDS|off",
                       help="dirty data (and, strict, pending names) this old becomes durable; "
                            "default: vm.dirty_expire_centisecs/100")
    mount.add_argument("--control", required=True, help="Unix socket for the control protocol")
    mount.add_argument("--store", default=None, help="store for durable bytes (default: beside BACKING)")
    mount.add_argument("--no-kernel-cache", dest="kernel_cache", action="store_false",
                       help="no kernel writeback cache: every write() reaches the daemon")
    mount.add_argument("--real-sync", dest="real_sync", action="store_true", default=True,
                       help="an fsync also fdatasyncs the backing file, so it costs what a disk flush costs "
                            "(default)")
    mount.add_argument("--no-real-sync", dest="real_sync", action="store_false")
    mount.add_argument("--multithreaded", action="store_true",
                       help="libfuse's multithreaded loop (default: one thread, which measured faster: the "
                            "GIL serialises the handlers anyway and thread handoffs cost latency)")
    mount.add_argument("--exit-with-parent", action="store_true",
                       help="stop cleanly when the process that started the daemon dies")
    mount.add_argument("--debug", action="store_true")
    bench = sub.add_parser("bench", help="redis-benchmark through the filesystem vs a plain directory")
    bench.add_argument("--configs", default="aof-everysec,aof-always")
    bench.add_argument("--reps", type=int, default=3)
    bench.add_argument("--requests", type=int, default=200000)
    bench.add_argument("--clients", type=int, default=50)
    bench.add_argument("--size", type=int, default=300)
    bench.add_argument("--metadata", choices=METADATA_MODES, default="strict")
    bench.add_argument("--writeback", type=writeback_argument, default="kernel")
    bench.add_argument("--no-kernel-cache", dest="kernel_cache", action="store_false")
    bench.add_argument("--no-real-sync", dest="real_sync", action="store_false")
    bench.add_argument("--multithreaded", action="store_true")
    bench.add_argument("--workdir", default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "debug", False) else logging.INFO,
                        format="powerfs[%(process)d] %(levelname)s %(message)s", stream=sys.stderr)
    if args.command == "bench":
        from harness.powerfs.bench import main as bench_main  # noqa: PLC0415 - redis-benchmark only here

        return bench_main(args)
    # Stop signals are taken by one thread with sigwait; blocking them here, before any thread
    # exists, means libfuse's own threads inherit the mask and its handlers never run.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    if isinstance(args.writeback, str):
        args.writeback = writeback_argument(args.writeback)
    try:
        daemon = Daemon(args)
    except OSError as exc:
        log.error("cannot start: %s", exc)
        return 1
    return daemon.run()
