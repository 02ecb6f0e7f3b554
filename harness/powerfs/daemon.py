"""The filesystem daemon: `python -m harness.powerfs mount BACKING MOUNTPOINT ...`.

Runs in the foreground as its own process (so the FUSE server never shares a GIL with a load
generator), loads the durable state from BACKING, mounts at MOUNTPOINT, and serves a control
protocol on a Unix socket: one JSON object per line in each direction.

    {"cmd": "ping"}                         -> {"ok": true, "pid": ..., "kernel_cache": ...}
    {"cmd": "stats"}                        -> {"ok": true, "stats": {...}}
    {"cmd": "sync"}                         -> {"ok": true}   everything durable now
    {"cmd": "cut", "torn": false, "seed": 0} -> {"ok": true, "result": {...}}, then the daemon
                                               unmounts (lazily if busy) and exits
    {"cmd": "stop"}                         -> {"ok": true}, then a clean stop (as SIGTERM)
    {"cmd": "fault", "set": {...}}          -> {"ok": true, "faults": {...}}  a disk fault from now on
                                               (settings: harness/powerfs/faults.py)
    {"cmd": "clear"}                        -> {"ok": true}   no disk fault; stalled fsyncs run now

Errors answer {"ok": false, "error": "..."}. SIGTERM, SIGINT, SIGHUP, the death of the parent
process (with --exit-with-parent) and an unmount from outside all stop it cleanly: a clean stop
is a clean unmount, so every pending change becomes durable first (as umount syncs). Only `cut`
loses anything.

With the kernel's writeback cache on (the default, see __init__), a program's writes sit in the
kernel's page cache until the kernel hands them over; the daemon pulls them in (by opening and
closing each file: see pull_kernel_cache) on every writeback tick and before stats, sync and
cut, so writeback ages are right within a tick and counters exact.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import threading
import time

from harness.powerfs.mounts import is_mounted, unmount
from harness.powerfs.state import PowerState

log = logging.getLogger("powerfs")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def pull_kernel_cache(mountpoint: str, paths: list[str]) -> None:
    """Make the kernel hand its dirty pages of these files (paths relative to the mount) to the
    daemon. Not a durability point in the model: they arrive as ordinary writes.

    close() is the barrier: FUSE's flush writes the inode's dirty pages back and waits until
    the daemon has answered every WRITE. (syncfs is no barrier on FUSE: recent kernels do not
    wait for a FUSE server's writeback, so that a hung server cannot hang sync.)"""
    for rel in paths:
        try:
            fd = os.open(os.path.join(mountpoint, rel), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            os.close(fd)
        except OSError:
            pass


class Daemon:
    def __init__(self, args: argparse.Namespace) -> None:
        from harness.powerfs.fuse_ops import PowerOps  # noqa: PLC0415 - needs libfuse3 only here

        self.args = args
        self.mountpoint = os.path.realpath(args.mountpoint)
        self.state = PowerState(args.backing, store=args.store, metadata=args.metadata,
                                writeback_s=args.writeback, real_sync=args.real_sync)
        self.ops = PowerOps(self.state, kernel_cache=args.kernel_cache)
        self.ops.on_destroy = self._on_destroy
        self.stopping = threading.Event()
        self.parent = os.getppid()
        self.server: socket.socket | None = None

    def pull(self) -> None:
        """Bring what the kernel still caches for files with a name into the model (no lock held:
        the FUSE loop must serve the writes this causes)."""
        if not self.ops.kernel_cache_enabled or self.state.dead or not is_mounted(self.mountpoint):
            return
        with self.state.lock:
            paths = self.state.current_file_paths()
        pull_kernel_cache(self.mountpoint, paths)

    # -- stopping ---------------------------------------------------------------------------
    def _on_destroy(self) -> None:
        """libfuse is tearing down (unmounted from outside, or after our own unmount)."""
        with self.state.lock:
            if not self.state.dead:
                self.state.sync_all()
                log.info("unmounted: pending changes made durable (clean unmount)")

    def clean_stop(self, why: str) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        log.info("stopping (%s): making everything durable, unmounting", why)
        self.ops.release_stalls()  # a stalled fsync holds the kernel's inode lock: pull() would wait on it
        self.pull()
        with self.state.lock:
            if not self.state.dead:
                self.state.sync_all()
        self._unmount_and_exit()

    def _unmount_and_exit(self) -> None:
        # A plain unmount ends the FUSE loop (libfuse then returns from the main thread). A busy
        # mount is detached lazily instead: a process holding a file open keeps the connection
        # alive and the loop would never end, so the process ends itself shortly after; closing
        # /dev/fuse aborts the connection (the holder then gets ENOTCONN).
        lazy = not unmount(self.mountpoint)
        if lazy:
            unmount(self.mountpoint, lazy=True)
        grace_s = 0.3 if lazy else 5.0
        threading.Thread(target=self._exit_later, args=(grace_s,), daemon=True).start()

    def _exit_later(self, grace_s: float) -> None:
        time.sleep(grace_s)
        log.info("the FUSE loop did not end after unmount; exiting")
        self._final_cleanup()
        logging.shutdown()
        os._exit(0)

    def _final_cleanup(self) -> None:
        with self.state.lock:
            self.state.close()
        if self.server is not None:
            try:
                self.server.close()
                os.unlink(self.args.control)
            except OSError:
                pass

    # -- threads ------------------------------------------------------------------------------
    def _signals(self) -> None:
        sig = signal.sigwait(set(STOP_SIGNALS))
        self.clean_stop(signal.Signals(sig).name)

    def _watch_parent(self) -> None:
        while not self.stopping.is_set():
            if os.getppid() != self.parent:
                self.clean_stop("the parent process died")
                return
            time.sleep(0.5)

    def _ticker(self) -> None:
        period = self.state.writeback_s
        tick = min(0.5, max(0.02, period / 10))
        while not self.stopping.wait(tick):
            if self.state.dead:
                return
            self.pull()
            with self.state.lock:
                if self.state.dead:
                    return
                self.state.writeback_tick()

    def _serve_control(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            for line in stream:
                try:
                    request = json.loads(line)
                    reply, after = self._handle(request)
                except Exception as exc:  # the reply says what went wrong; the daemon lives on
                    reply, after = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}, None
                stream.write(json.dumps(reply).encode() + b"\n")
                stream.flush()
                if after is not None:
                    after()
                    return

    def _handle(self, request: dict):
        cmd = request.get("cmd")
        if cmd == "ping":
            return {"ok": True, "pid": os.getpid(), "kernel_cache": self.ops.kernel_cache_enabled,
                    "mounted": is_mounted(self.mountpoint)}, None
        if cmd == "stats":
            self.pull()  # count what programs wrote, not what the kernel kept
            with self.state.lock:
                return {"ok": True, "stats": self.state.stats()}, None
        if cmd == "sync":
            self.pull()
            with self.state.lock:
                self.state.sync_all()
            return {"ok": True}, None
        if cmd == "cut":
            torn = bool(request.get("torn", False))
            seed = int(request.get("seed", 0))
            if not self.ops.stalling:
                # What programs wrote is in the model before it is cut. Not during a stalled fsync:
                # the kernel holds that file's lock, so the pull would wait for the stall to end,
                # and whatever it would bring in was never fsynced anyway (lost either way).
                self.pull()
            with self.state.lock:
                result = self.state.cut(torn=torn, seed=seed)
            self.ops.unstalled.set()  # a stalled fsync wakes to a dead filesystem: EIO, nothing durable
            self.stopping.set()
            log.info("power cut (torn=%s seed=%s): %s bytes unsynced, %s metadata ops dropped",
                     torn, seed, result["unsynced_bytes_at_cut"], result["pending_metadata_ops_dropped"])
            # Nothing is served after a cut: a file still open gets ENOTCONN soon after.
            return {"ok": True, "result": result}, self._unmount_and_exit
        if cmd == "stop":
            return {"ok": True}, lambda: self.clean_stop("stop command")
        if cmd == "fault":
            faults = self.ops.set_faults(dict(request.get("set") or {}))
            log.info("disk fault set: %s", faults)
            return {"ok": True, "faults": faults}, None
        if cmd == "clear":
            self.ops.release_stalls()
            log.info("disk faults cleared")
            return {"ok": True}, None
        return {"ok": False, "error": f"unknown command {cmd!r}"}, None

    # -- main -------------------------------------------------------------------------------
    def run(self) -> int:
        from harness.powerfs.fuse_ops import PowerFUSE  # noqa: PLC0415

        control = self.args.control
        if os.path.exists(control):
            os.unlink(control)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(control)
        os.chmod(control, 0o600)
        self.server.listen(8)
        threading.Thread(target=self._serve_control, name="control", daemon=True).start()
        threading.Thread(target=self._signals, name="signals", daemon=True).start()
        if self.args.exit_with_parent:
            threading.Thread(target=self._watch_parent, name="parent", daemon=True).start()
        if self.state.writeback_s is not None:
            threading.Thread(target=self._ticker, name="writeback", daemon=True).start()
        log.info("serving %s at %s (metadata=%s, writeback=%s, kernel cache=%s)", self.state.backing,
                 self.mountpoint, self.state.metadata, self.state.writeback_s, self.args.kernel_cache)
        options = dict(foreground=True, allow_other=True, default_permissions=True, fsname="powerfs",
                       subtype="powerfs", nothreads=not self.args.multithreaded)
        try:
            PowerFUSE(self.ops, self.mountpoint, **options)
        except RuntimeError as exc:
            log.error("mount failed: %s", exc)
            self._final_cleanup()
            return 1
        finally:
            self.stopping.set()
        self._final_cleanup()
        return 0
