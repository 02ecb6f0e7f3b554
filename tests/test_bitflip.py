"""The bit flips of fault bitflip: drawn as recorded, applied where recorded (pure parts, no server)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import HarnessError
from harness.faults.bitflip import apply_flips, choose_flips, persistence_files

sizes = st.lists(st.integers(0, 300), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(sizes=sizes, data=st.data(), seed=st.integers(0, 2**31))
def test_flips_are_distinct_in_range_seeded_and_land_where_recorded(sizes, data, seed):
    files = [(f"f{i}", size) for i, size in enumerate(sizes)]
    total_bits = 8 * sum(sizes)
    count = data.draw(st.integers(0, min(total_bits, 64)))
    flips = choose_flips(files, count, seed)
    assert flips == choose_flips(files, count, seed)  # the seed decides
    assert len(flips) == count == len({(f.path, f.offset, f.bit) for f in flips})
    size_of = dict(files)
    assert all(0 <= f.offset < size_of[f.path] and 0 <= f.bit < 8 for f in flips)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        original = {}
        for path, size in files:
            original[path] = bytes((i * 7 + 3) % 256 for i in range(size))
            (root / path).write_bytes(original[path])
        done = apply_flips(root, flips)
        changed = set()
        for path, before in original.items():
            after = (root / path).read_bytes()
            for offset, (a, b) in enumerate(zip(before, after)):
                for bit in range(8):
                    if (a ^ b) >> bit & 1:
                        changed.add((path, offset, bit))
        assert changed == {(f.path, f.offset, f.bit) for f in flips}  # exactly the recorded bits, nothing else
        # Each record holds the byte just before and after its own flip (two flips may share a byte).
        replay = {path: bytearray(data) for path, data in original.items()}
        for f in done:
            assert f.before == replay[f.path][f.offset] and f.after == f.before ^ (1 << f.bit), f
            replay[f.path][f.offset] = f.after


def test_more_bits_than_the_files_hold_is_a_clear_error():
    with pytest.raises(HarnessError, match="10 bits asked, but the files hold 8"):
        choose_flips([("appendonlydir/x.incr.aof", 1)], 10, 1)


def test_which_files_a_flip_may_hit(tmp_path):
    aof = tmp_path / "appendonlydir"
    aof.mkdir()
    for name in ("appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"):
        (aof / name).write_bytes(b"x" * 10)
    (tmp_path / "dump.rdb").write_bytes(b"y" * 5)
    (tmp_path / "temp-123.rdb").write_bytes(b"z")
    names = {which: [p for p, _ in persistence_files(tmp_path, which)] for which in ("all", "rdb", "incr")}
    assert names["all"] == ["appendonlydir/appendonly.aof.1.base.rdb", "appendonlydir/appendonly.aof.1.incr.aof",
                            "dump.rdb"]
    assert names["rdb"] == ["appendonlydir/appendonly.aof.1.base.rdb", "dump.rdb"]
    assert names["incr"] == ["appendonlydir/appendonly.aof.1.incr.aof"]
