"""powerfs: a FUSE filesystem that simulates power loss by forgetting what was never fsynced.

Under kill -9 the page cache survives, so every `appendfsync` setting keeps what Redis wrote.
powerfs sits between the server and a *backing directory* that always holds exactly the durable
state; what is not yet durable lives in the daemon's memory, and a power cut drops it (or, torn,
keeps a seeded page-aligned part of it). The rules (fsync, strict/lenient names, writeback,
torn cuts) are in `harness/powerfs/state.py`'s docstring.

Harness side::

    with PowerFS(backing, mountpoint, metadata="strict", writeback_s=None) as fs:
        fs.mount()                 # daemon started, mount live (in /proc/mounts)
        ... run the server with its dir inside `mountpoint`, kill it ...
        counters = fs.cut(torn=False, seed=0)   # drop the unsynced state; daemon gone, unmounted
        fs.remount()               # a fresh daemon on the same backing dir: the durable state
        ... restart the server, read back ...
    # leaving the block unmounts (a clean unmount: pending changes become durable)

The daemon (`python -m harness.powerfs mount ...`, see daemon.py) is its own process.

Why mfusepy (ctypes, libfuse3 high-level API) and not pyfuse3, by measurement here (Debian 12,
2 cores, kernel 6.18, libfuse 3.14; a minimal in-memory filesystem in each binding):

* per request, no kernel cache, `dd bs=1k` (one FUSE write per 1 KiB): mfusepy 25-38k writes/s,
  pyfuse3 15-30k writes/s (three runs each; the machine is noisy): no gain from pyfuse3;
* redis-benchmark SET (200k requests, 50 clients, 300 B) through each, no kernel cache:
  aof-everysec mfusepy 63-72k ops/s, pyfuse3 45-67k; aof-always mfusepy 55-69k, pyfuse3 38-41k;
* install: mfusepy is a pure-Python wheel needing only libfuse3.so.3 at run time (Debian's
  `fuse3`, which also brings fusermount3); pyfuse3 is an sdist that compiles against
  libfuse3-dev with a C compiler and pkg-config (41 s here) and pulls in trio.

Speed (`python -m harness.powerfs bench`, harness/powerfs/bench.py: redis-benchmark -t set
-n 200000 -c 50 -d 300 against a process-backend Redis 7.0.15 whose dir is the mount, versus a
plain directory on the same disk; medians of 3 runs each, 2026-12-01; the machine is shared and
plain-directory figures moved by 2x between sessions, so compare within a row):

    config        metadata  plain ops/s  powerfs ops/s  ratio
    aof-everysec  strict        133,690        122,775   0.92   (a second session: 102,775 / 96,852 = 0.94)
    aof-everysec  lenient       132,100        128,783   0.97
    aof-no        lenient       136,986        127,714   0.93
    aof-always    strict         71,429         42,589   0.60   (a second session: 46,458 / 34,941 = 0.75)
    aof-always    lenient        72,701         42,571   0.59

What gets it there:
* unsynced data stays in the daemon's memory (dirty 4 KiB pages): a write costs no disk I/O;
  only an fsync (or writeback) writes, one pwritev per run of pages into the store file;
* the kernel's FUSE writeback cache (on by default; `kernel_cache=False` turns it off): a
  program's small write() calls land in the page cache and reach the daemon as large
  page-aligned writes. fsync still sends every dirty page to the daemon before the fsync itself,
  close() flushes them, and the daemon pulls them in (it opens and closes each file: FUSE's
  flush on close waits for them) on every writeback tick and before stats, sync and cuts, so
  the model stays exact. Without it, aof-everysec measured 0.76;
* libfuse's single-threaded loop (`multithreaded=True` for the other): the GIL serialises the
  handlers anyway, and thread handoffs cost latency: aof-always 0.5 multithreaded, 0.6 single;
* `always` pays two FUSE round trips per event-loop turn (the kernel's WRITE, then FSYNC) plus
  the real fdatasync of the backing file (`real_sync`, on by default, so an fsync costs what a
  disk flush costs and the matrix's speed figures stay comparable with plain runs). With
  `real_sync=False` an fsync is free and aof-always ran at 1.04 of plain: faster than a disk.
Counters count what reaches the daemon: with the kernel cache, `writes` are the kernel's
page-cache flushes, not the program's write() calls; `fsyncs` and `dir_fsyncs` are exact.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.errors import HarnessError
from harness.powerfs.mounts import is_mounted, unmount
from harness.powerfs.state import PAGE, PowerState, default_writeback_s

__all__ = ["PowerFS", "PowerFSError", "PowerState", "PAGE", "DEFAULT_WRITEBACK_S", "default_writeback_s",
           "is_mounted", "fuse_available"]

DEFAULT_WRITEBACK_S = default_writeback_s()
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent
_LIVE: set["PowerFS"] = set()


class PowerFSError(HarnessError):
    """powerfs could not start, answer, or stop."""


def fuse_available() -> str | None:
    """None if FUSE can be used here, else why not (for skips and error messages)."""
    device = os.environ.get("CRASH_MATRIX_FUSE_DEVICE", "/dev/fuse")  # tests point it elsewhere
    if not os.path.exists(device):
        return f"{device} does not exist (no FUSE in this kernel or container)"
    if not os.access(device, os.R_OK | os.W_OK):
        return f"{device} is not readable and writable by this user"
    try:
        import harness.powerfs.fuse_ops  # noqa: F401, PLC0415 - loads mfusepy on libfuse3
    except (ImportError, OSError) as exc:
        return f"the FUSE binding cannot load ({exc}); install Debian's fuse3 (libfuse3) and pip's mfusepy"
    if os.geteuid() != 0 and not shutil.which("fusermount3"):
        return "fusermount3 is missing (Debian package fuse3)"
    return None


class PowerFS:
    """One powerfs mount: a daemon process serving `backing` at `mountpoint`.

    metadata: "strict" (a name is durable once its directory is fsynced) or "lenient" (at once).
    writeback_s: age in seconds at which unsynced data (and, strict, pending names) becomes
        durable, as the kernel flusher does; None turns writeback off. Default: this machine's
        vm.dirty_expire_centisecs / 100.
    kernel_cache: let the kernel cache writes (FUSE writeback cache) for speed.
    real_sync: an fsync also flushes the backing file to disk, so it costs what it costs.
    multithreaded: libfuse's multithreaded loop instead of one thread.
    """

    def __init__(
        self,
        backing: str | os.PathLike,
        mountpoint: str | os.PathLike,
        metadata: str = "strict",
        writeback_s: float | None = DEFAULT_WRITEBACK_S,
        *,
        kernel_cache: bool = True,
        real_sync: bool = True,
        multithreaded: bool = False,
        log_path: str | os.PathLike | None = None,
        start_timeout_s: float = 20.0,
    ) -> None:
        if metadata not in ("strict", "lenient"):
            raise ValueError(f"metadata must be 'strict' or 'lenient', not {metadata!r}")
        self.backing = Path(backing).resolve()
        self.mountpoint = Path(mountpoint).resolve()
        self.metadata = metadata
        self.writeback_s = writeback_s
        self.kernel_cache = kernel_cache
        self.real_sync = real_sync
        self.multithreaded = multithreaded
        self.start_timeout_s = start_timeout_s
        self._given_log = Path(log_path) if log_path else None
        self._tmp: Path | None = None  # holds the control socket (and the log unless given)
        self._proc: subprocess.Popen | None = None
        self.last_cut: dict | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def control(self) -> Path | None:
        """The daemon's control socket (None before the first mount)."""
        return self._tmp / "control.sock" if self._tmp else None

    @property
    def log_path(self) -> Path | None:
        """The daemon's log (its output over every start; None before the first mount unless given)."""
        return self._given_log or (self._tmp / "daemon.log" if self._tmp else None)

    @property
    def mounted(self) -> bool:
        return is_mounted(self.mountpoint)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def mount(self) -> "PowerFS":
        """Start the daemon and return once the mount is live and the daemon answers."""
        if self._proc is not None and self._proc.poll() is None:
            raise PowerFSError(f"powerfs is already mounted at {self.mountpoint}")
        why = fuse_available()
        if why:
            raise PowerFSError(f"powerfs cannot mount: {why}")
        if not self.backing.is_dir():
            raise PowerFSError(f"powerfs backing directory {self.backing} does not exist")
        if is_mounted(self.mountpoint):
            raise PowerFSError(f"{self.mountpoint} is already a FUSE mount; unmount it first")
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="powerfs-"))
        command = [
            sys.executable, "-m", "harness.powerfs", "mount", str(self.backing), str(self.mountpoint),
            "--metadata", self.metadata,
            "--writeback", "off" if self.writeback_s is None else repr(float(self.writeback_s)),
            "--control", str(self.control), "--exit-with-parent",
            *([] if self.kernel_cache else ["--no-kernel-cache"]),
            "--real-sync" if self.real_sync else "--no-real-sync",
            *(["--multithreaded"] if self.multithreaded else []),
        ]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # Its own session: a Ctrl-C at the terminal reaches the harness, which unmounts;
            # the daemon itself stops cleanly if the harness dies (--exit-with-parent).
            self._proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          env=env, start_new_session=True)
        _LIVE.add(self)
        try:
            self._wait_live()
        except BaseException:
            self.unmount()
            raise
        return self

    def _wait_live(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self._proc.poll() is not None:
                raise PowerFSError(f"powerfs daemon exited ({self._proc.returncode}) before mounting "
                                   f"{self.mountpoint}: {self._log_tail()}")
            if self.control.exists() and is_mounted(self.mountpoint):
                try:
                    if self._request({"cmd": "ping"}, timeout_s=2.0).get("mounted"):
                        return
                except PowerFSError:
                    pass
            if time.monotonic() > deadline:
                raise PowerFSError(f"powerfs did not mount {self.mountpoint} within {self.start_timeout_s:.0f} s: "
                                   f"{self._log_tail()}")
            time.sleep(0.02)

    def unmount(self) -> None:
        """Stop the daemon (a clean unmount: pending changes become durable) and make sure no
        mount is left behind, whatever state the daemon is in. Idempotent."""
        proc = self._proc
        try:
            if proc is not None and proc.poll() is None:
                try:
                    self._request({"cmd": "stop"}, timeout_s=10.0)
                except PowerFSError:
                    pass
                if not _wait(proc, 15.0):
                    proc.send_signal(signal.SIGTERM)
                    if not _wait(proc, 10.0):
                        proc.kill()
                        proc.wait()
        finally:
            self._force_unmount()
            _LIVE.discard(self)

    def _force_unmount(self) -> None:
        if self._proc is None:
            return  # never started a daemon: a mount there (if any) is someone else's
        for lazy in (False, True):
            if not is_mounted(self.mountpoint):
                break
            unmount(str(self.mountpoint), lazy=lazy)
        if is_mounted(self.mountpoint):
            raise PowerFSError(f"could not unmount {self.mountpoint}")

    def remount(self) -> "PowerFS":
        """Unmount if mounted, then mount a fresh daemon on the same backing directory."""
        self.unmount()
        return self.mount()

    def close(self) -> None:
        """Unmount and remove the temporary control directory."""
        try:
            self.unmount()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)  # the control socket (and the log, if it is there)
                self._tmp = None

    def __enter__(self) -> "PowerFS":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- control ------------------------------------------------------------------------------
    def stats(self) -> dict:
        """Counters so far: writes, bytes_written, fsyncs, dir_fsyncs, writeback_flushes,
        unsynced_bytes, pending_metadata_ops, ..."""
        return self._request({"cmd": "stats"})["stats"]

    def sync(self) -> None:
        """Make everything durable now (like sync(1))."""
        self._request({"cmd": "sync"})

    def set_faults(self, **settings) -> dict:
        """A disk fault from now on (stall_fsync_s, eio_write, eio_fsync, free_bytes, files, for_s:
        harness/powerfs/faults.py); returns what is set. A stall needs `multithreaded=True`: on one
        thread the stalled fsync would hold up every other call too."""
        if settings.get("stall_fsync_s") and not self.multithreaded:
            raise PowerFSError("an fsync stall needs the multithreaded daemon (PowerFS(multithreaded=True))")
        return self._request({"cmd": "fault", "set": settings})["faults"]

    def clear_faults(self) -> None:
        """No disk fault from now on; a stalled fsync runs at once."""
        self._request({"cmd": "clear"})

    def cut(self, torn: bool = False, seed: int = 0) -> dict:
        """Power cut: every change not durable is lost (torn: a seeded page-aligned part of each
        file's unsynced writes is kept). The daemon exits and the mount is gone afterwards.

        Returns the counters at the cut: unsynced_bytes_at_cut, pending_metadata_ops_dropped,
        torn_bytes_kept (torn), writes, bytes_written, fsyncs, dir_fsyncs, writeback_flushes..."""
        if self._proc is None or self._proc.poll() is not None:
            raise PowerFSError("powerfs is not mounted: nothing to cut")
        reply = self._request({"cmd": "cut", "torn": bool(torn), "seed": int(seed)}, timeout_s=60.0)
        self.last_cut = reply["result"]
        if not _wait(self._proc, 15.0):
            self._proc.kill()
            self._proc.wait()
        self._force_unmount()
        _LIVE.discard(self)
        return self.last_cut

    def _request(self, request: dict, timeout_s: float = 30.0) -> dict:
        if self.control is None:
            raise PowerFSError("powerfs was never mounted")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout_s)
                sock.connect(str(self.control))
                sock.sendall(json.dumps(request).encode() + b"\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError as exc:
            raise PowerFSError(f"powerfs daemon did not answer {request.get('cmd')!r}: {exc}") from None
        if not data:
            raise PowerFSError(f"powerfs daemon closed the connection on {request.get('cmd')!r}")
        reply = json.loads(data)
        if not reply.get("ok"):
            raise PowerFSError(f"powerfs {request.get('cmd')!r} failed: {reply.get('error')}")
        return reply

    def _log_tail(self, lines: int = 6) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except (OSError, AttributeError):
            return "no daemon log"
        return " | ".join(text[-lines:]) or "no daemon output"


def _wait(proc: subprocess.Popen, timeout_s: float) -> bool:
    try:
        proc.wait(timeout=timeout_s)
        return True
    except subprocess.TimeoutExpired:
        return False


@atexit.register
def _unmount_all() -> None:
    """Never leave a mount behind, even for a caller that forgot to unmount."""
    for fs in list(_LIVE):
        try:
            fs.unmount()
        except Exception:
            pass
