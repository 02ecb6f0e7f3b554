"""bitflip: bit rot at rest. kill -9 the server (a clean process crash: every file complete), flip a
seeded set of `bits` bits in its persistence files, restart it on them.

The bits are drawn uniformly, without repeats, over every byte of the chosen files (`files`:
`all` = dump.rdb and the AOF's base and incr files; `rdb` = the files in RDB format, dump.rdb
and an AOF base with the RDB preamble; `incr` = the AOF incr files; the AOF manifest is left
alone), so a larger file takes more of them. Each flip is recorded (file, offset, bit, the byte
before and after) and whether the file's format carries a checksum the server verifies on load:
an RDB file (dump.rdb, or an AOF base with the RDB preamble) ends in a CRC64 that Redis checks
when `rdbchecksum` is on (the default; "Wrong RDB checksum"); an AOF incr file has no checksum
at all (src/aof.c loads its commands as they are), so a flipped bit in a value is served.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.configs import persistence_of
from harness.errors import HarnessError
from harness.faults.base import Facts, Fault, FaultSession
from harness.record import Columns
from harness.spec import ConfigSpec

FILE_SETS = ("all", "rdb", "incr")
RECORDED = 20  # flips written out in trials.csv (all of them are counted)


@dataclass(frozen=True)
class Flip:
    path: str  # relative to the data directory
    offset: int
    bit: int  # 0 (least significant) .. 7
    before: int = -1  # the byte before the flip
    after: int = -1

    def __str__(self) -> str:
        return f"{self.path}@{self.offset}.{self.bit}"


def persistence_files(data_dir: Path, which: str) -> list[tuple[str, int]]:
    """(path relative to the data directory, size) of the files a flip may hit, sorted by path."""
    found = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(data_dir).as_posix()
        in_aof_dir = path.parent.name == "appendonlydir"
        is_incr = in_aof_dir and path.name.endswith(".incr.aof")
        is_base = in_aof_dir and ".base." in path.name
        is_dump = path.parent == data_dir and path.name.endswith(".rdb") and not path.name.startswith("temp-")
        wanted = {"all": is_incr or is_base or is_dump, "incr": is_incr,
                  "rdb": checksummed(rel) and (is_base or is_dump)}
        if wanted[which]:
            found.append((rel, path.stat().st_size))
    return found


def choose_flips(files: list[tuple[str, int]], count: int, seed: int) -> list[Flip]:
    """`count` distinct bits drawn uniformly over the files' bits (pure: the same seed, the same bits)."""
    total_bits = 8 * sum(size for _, size in files)
    if count > total_bits:
        raise HarnessError(f"fault bitflip: {count} bits asked, but the files hold {total_bits} "
                           f"({', '.join(f'{p} {s} B' for p, s in files) or 'no persistence files'})")
    starts = []  # the first bit of each file, in file order
    running = 0
    for _, size in files:
        starts.append(running)
        running += 8 * size
    flips = []
    for index in sorted(random.Random(seed).sample(range(total_bits), count)):
        at = bisect.bisect_right(starts, index) - 1
        within = index - starts[at]
        flips.append(Flip(files[at][0], within // 8, within % 8))
    return flips


def apply_flips(data_dir: Path, flips: list[Flip]) -> list[Flip]:
    """Flip the bits in place; returns them with the bytes before and after."""
    done = []
    for flip in flips:
        with open(data_dir / flip.path, "r+b") as f:
            f.seek(flip.offset)
            before = f.read(1)[0]
            after = before ^ (1 << flip.bit)
            f.seek(flip.offset)
            f.write(bytes([after]))
        done.append(Flip(flip.path, flip.offset, flip.bit, before, after))
    return done


def checksummed(path: str) -> bool:
    """Does this file's format end in a checksum the server verifies (an RDB: dump.rdb, *.base.rdb)?"""
    return path.endswith(".rdb")


@dataclass(frozen=True)
class BitflipOptions:
    bits: int = 1  # how many bits to flip
    files: str = "all"  # all | rdb (RDB-format files: checksummed) | incr (AOF incr files: no checksum)

    def __post_init__(self) -> None:
        if self.bits < 1:
            raise ValueError(f"bits {self.bits} must be at least 1")
        if self.files not in FILE_SETS:
            raise ValueError(f"files {self.files!r}: choose {', '.join(FILE_SETS)}")


@dataclass(frozen=True)
class BitflipFacts(Columns):
    """Which bits were flipped, in which files."""

    labels: ClassVar[dict[str, str]] = {"flipped_bits": "Bits flipped", "flips_checksummed": "In checksummed files"}

    flipped_bits: int = 0
    flips_checksummed: int = 0  # of those, in a file whose checksum the server verifies on load (RDB)
    flip_files: str = ""  # each file hit, with its count
    flip_bytes: int = 0  # bytes of the files the bits were drawn from
    flips: str = ""  # file@offset.bit:before>after, the first few


class _BitflipSession(FaultSession):
    def __init__(self, data_dir: Path, seed: int, options: BitflipOptions) -> None:
        self.server_dir, self.seed, self.options = data_dir, seed, options

    def inject(self, topology, took_effect) -> Facts:
        topology.primary.kill()
        took_effect()
        files = persistence_files(self.server_dir, self.options.files)
        flips = apply_flips(self.server_dir, choose_flips(files, self.options.bits, self.seed))
        per_file: dict[str, int] = {}
        for flip in flips:
            per_file[flip.path] = per_file.get(flip.path, 0) + 1
        shown = "; ".join(f"{f}:{f.before:02x}>{f.after:02x}" for f in flips[:RECORDED])
        return BitflipFacts(flipped_bits=len(flips), flips_checksummed=sum(checksummed(f.path) for f in flips),
                            flip_files="; ".join(f"{p} x{n}" for p, n in per_file.items()),
                            flip_bytes=sum(size for _, size in files),
                            flips=shown + ("; ..." if len(flips) > RECORDED else ""))


class Bitflip(Fault):
    name = "bitflip"
    label = "bit flips at rest"
    phrase = "bit rot at rest (fault `bitflip`: kill -9, flipped bits, restart)"
    description = ("`bitflip`: `SIGKILL` the server, then flip `bits` seeded random bits (default 1) in its RDB and "
                   "AOF files at rest (`files`: all, rdb or incr; the manifest is left alone), recorded one by one, "
                   "and restart it on them.")
    meaning = "a disk or a copy that silently changed stored bytes (bit rot, a bad backup, a faulty RAM write path)"
    order = 60
    Options = BitflipOptions
    columns = BitflipFacts

    def check_with(self, config: ConfigSpec, workload: Any) -> None:
        kept = persistence_of(config.text)
        if not (kept.rdb or kept.aof) or (self.options.files == "incr" and not kept.aof):
            raise HarnessError(f"fault bitflip (files={self.options.files}): config {config.name} writes no such "
                               "persistence files, so there is nothing to flip")
        floor = 8 * workload.baseline_sessions * workload.value_bytes  # the baseline's values alone
        if self.options.bits > floor:
            raise HarnessError(f"fault bitflip: bits={self.options.bits} is more than the files can hold here: "
                               f"the baseline ({workload.baseline_sessions} sessions of {workload.value_bytes} B) "
                               f"makes about {floor} bits")

    def session(self, data_dir: Path, seed: int) -> FaultSession:
        return _BitflipSession(data_dir, seed, self.options)
