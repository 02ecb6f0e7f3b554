"""powerfs core (no FUSE): random histories against a simple model of durable state.

The model keeps whole files as bytes (current and durable) and the namespace as listings per
directory id, current and durable; it knows nothing of pages, store files, hard links or the
backing tree. After every step the backing directory must hold exactly the model's durable
tree, and every current file must read back as the model's current bytes. A power cut (plain
or torn) is followed by a fresh state loaded from the backing directory, as a remount.
The same machine drives a real FUSE mount in test_powerfs_mount.py.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from harness.powerfs.state import PAGE, PowerState

NAMES = ("a", "b", "c", "d")
ROOT_ID = 0
DIR = "<dir>"


# ---------------------------------------------------------------------------------------- model
class MNode:
    def __init__(self, is_dir: bool) -> None:
        self.is_dir = is_dir
        self.cur = bytearray()
        self.dur = b""
        self.entries: dict[str, int] = {}
        self.dentries: dict[str, int] = {}
        self.dirty_since: float | None = None


class Model:
    """What a filesystem with the documented rules must leave after a power cut."""

    def __init__(self, strict: bool, writeback_s: float | None = None) -> None:
        self.strict = strict
        self.writeback_s = writeback_s
        self.nodes: dict[int, MNode] = {ROOT_ID: MNode(True)}
        self.next_id = 1
        self.log: list[tuple] = []  # (kind, args, dirs, at)
        self.faults: dict | None = None  # a disk fault: eio_write, eio_fsync, free (bytes), files (glob)

    # -- lookups
    def lookup(self, path: str) -> int | None:
        node_id = ROOT_ID
        for part in filter(None, path.split("/")):
            node = self.nodes[node_id]
            if not node.is_dir or part not in node.entries:
                return None
            node_id = node.entries[part]
        return node_id

    def paths(self, want_dir: bool | None = None) -> list[str]:
        out = []
        stack = [("", ROOT_ID)]
        while stack:
            path, node_id = stack.pop()
            for name, child in sorted(self.nodes[node_id].entries.items()):
                sub = f"{path}/{name}" if path else name
                if want_dir is None or self.nodes[child].is_dir == want_dir:
                    out.append(sub)
                if self.nodes[child].is_dir:
                    stack.append((sub, child))
        return sorted(out)

    def dirs(self) -> list[str]:
        return [""] + self.paths(want_dir=True)

    @staticmethod
    def split(path: str) -> tuple[str, str]:
        head, _, name = path.rpartition("/")
        return head, name

    # -- namespace
    def _record(self, kind: str, args: tuple, dirs: tuple, now: float) -> None:
        op = (kind, args, dirs, now)
        if self.strict:
            self.log.append(op)
        else:
            self._apply(op)

    def _apply(self, op: tuple) -> None:
        kind, args, _, _ = op
        if kind == "link":
            parent, name, node_id = args
            self.nodes[parent].dentries[name] = node_id
        elif kind == "unlink":
            parent, name, _ = args
            del self.nodes[parent].dentries[name]
        else:
            p1, n1, p2, n2, node_id, _victim = args
            del self.nodes[p1].dentries[n1]
            self.nodes[p2].dentries[n2] = node_id

    def create(self, path: str, is_dir: bool, now: float = 0.0) -> int | None:
        """Returns the errno the call must fail with, or None."""
        head, name = self.split(path)
        parent = self.lookup(head)
        if name in self.nodes[parent].entries:
            return errno.EEXIST
        node_id = self.next_id
        self.next_id += 1
        self.nodes[node_id] = MNode(is_dir)
        self.nodes[parent].entries[name] = node_id
        self._record("link", (parent, name, node_id), (parent,), now)
        return None

    def remove(self, path: str, is_dir: bool, now: float = 0.0) -> int | None:
        head, name = self.split(path)
        parent = self.lookup(head)
        node_id = self.nodes[parent].entries.get(name)
        if node_id is None:
            return errno.ENOENT
        node = self.nodes[node_id]
        if is_dir and not node.is_dir:
            return errno.ENOTDIR
        if not is_dir and node.is_dir:
            return errno.EISDIR
        if is_dir and node.entries:
            return errno.ENOTEMPTY
        del self.nodes[parent].entries[name]
        self._drop_unreachable_data(node)
        self._record("unlink", (parent, name, node_id), (parent, node_id) if is_dir else (parent,), now)
        return None

    @staticmethod
    def _drop_unreachable_data(node: MNode) -> None:
        """A closed file without a name: what was not durable is gone."""
        if not node.is_dir:
            node.cur = bytearray(node.dur)
            node.dirty_since = None

    def rename(self, src: str, dst: str, now: float = 0.0) -> int | None:
        if src == dst:
            return None
        if dst.startswith(src + "/"):
            return errno.EINVAL
        sh, sn = self.split(src)
        dh, dn = self.split(dst)
        p1, p2 = self.lookup(sh), self.lookup(dh)
        node_id = self.nodes[p1].entries[sn]
        node = self.nodes[node_id]
        victim_id = self.nodes[p2].entries.get(dn)
        dirs: tuple = (p1, p2) if p1 != p2 else (p1,)
        if victim_id is not None:
            victim = self.nodes[victim_id]
            if victim.is_dir and not node.is_dir:
                return errno.EISDIR
            if node.is_dir and not victim.is_dir:
                return errno.ENOTDIR
            if victim.is_dir and victim.entries:
                return errno.ENOTEMPTY
            if victim.is_dir:
                dirs += (victim_id,)
            self._drop_unreachable_data(victim)
        del self.nodes[p1].entries[sn]
        self.nodes[p2].entries[dn] = node_id
        self._record("rename", (p1, sn, p2, dn, node_id, victim_id), dirs, now)
        return None

    def fsyncdir(self, path: str) -> None:
        if not self.strict:
            return
        target = self.lookup(path)
        # The smallest set holding every pending op on the directory and closed under "an
        # earlier op sharing a directory with a chosen op is chosen too" (a fixpoint, written
        # differently from the implementation's backward walk on purpose).
        chosen = {i for i, op in enumerate(self.log) if target in op[2]}
        changed = True
        while changed:
            changed = False
            for k in list(chosen):
                for j in range(k):
                    if j not in chosen and set(self.log[j][2]) & set(self.log[k][2]):
                        chosen.add(j)
                        changed = True
        self._commit(sorted(chosen))

    def _commit(self, indices: list[int]) -> None:
        for i in indices:
            self._apply(self.log[i])
        keep = set(range(len(self.log))) - set(indices)
        self.log = [self.log[i] for i in sorted(keep)]

    # -- data
    # -- disk faults: the rules of harness/powerfs/faults.py, written out again from its docstring
    def _hit(self, path: str) -> dict | None:
        faults = self.faults
        return faults if faults is not None and fnmatch.fnmatchcase(path, faults["files"]) else None

    def write(self, path: str, offset: int, data: bytes, now: float = 0.0) -> tuple[int | None, int]:
        """(the errno the write must fail with, or None; how many bytes it writes)."""
        node = self.nodes[self.lookup(path)]
        faults = self._hit(path) if data else None
        if faults is not None:
            if faults["eio_write"]:
                faults["eio_write"] = "" if faults["eio_write"] == "once" else faults["eio_write"]
                return errno.EIO, 0
            if faults["free"] is not None:
                end = len(node.cur) + faults["free"]  # the file may grow to here, no further
                if offset >= end and offset + len(data) > len(node.cur):
                    return errno.ENOSPC, 0
                data = data[: max(0, end - offset)] if offset + len(data) > end else data
                faults["free"] -= max(0, offset + len(data) - len(node.cur))
        self._write(node, offset, data, now)
        return None, len(data)

    def _write(self, node: MNode, offset: int, data: bytes, now: float) -> None:
        if not data:
            return
        if len(node.cur) < offset:
            node.cur.extend(bytes(offset - len(node.cur)))
        node.cur[offset : offset + len(data)] = data
        if node.dirty_since is None:
            node.dirty_since = now

    def truncate(self, path: str, size: int, now: float = 0.0) -> None:
        node = self.nodes[self.lookup(path)]
        faults = self._hit(path)
        if faults is not None and faults["free"] is not None:
            # a shrink gives its bytes back to the quota, a growth takes from it (never failing)
            faults["free"] = max(0, faults["free"] + len(node.cur) - size)
        changed = size != len(node.cur)
        if size < len(node.cur):
            del node.cur[size:]
        else:
            node.cur.extend(bytes(size - len(node.cur)))
        if (changed or bytes(node.cur) != node.dur) and node.dirty_since is None:
            node.dirty_since = now

    def fsync(self, path: str) -> int | None:
        """The errno the fsync must fail with (nothing made durable), or None."""
        faults = self._hit(path)
        if faults is not None and faults["eio_fsync"]:
            faults["eio_fsync"] = "" if faults["eio_fsync"] == "once" else faults["eio_fsync"]
            return errno.EIO
        node = self.nodes[self.lookup(path)]
        node.dur = bytes(node.cur)
        node.dirty_since = None

    def tick(self, now: float) -> None:
        if self.writeback_s is None:
            return
        cutoff = now - self.writeback_s
        for node in self.nodes.values():
            if node.dirty_since is not None and node.dirty_since <= cutoff:
                node.dur = bytes(node.cur)
                node.dirty_since = None
        count = 0
        while count < len(self.log) and self.log[count][3] <= cutoff:
            count += 1
        self._commit(list(range(count)))

    # -- whole-filesystem events
    def durable_tree(self) -> dict[str, object]:
        out: dict[str, object] = {}
        stack = [("", ROOT_ID)]
        while stack:
            path, node_id = stack.pop()
            for name, child in self.nodes[node_id].dentries.items():
                sub = f"{path}/{name}" if path else name
                node = self.nodes[child]
                out[sub] = DIR if node.is_dir else node.dur
                if node.is_dir:
                    stack.append((sub, child))
        return out

    def sync_all(self) -> None:
        for node in self.nodes.values():
            node.dur = bytes(node.cur)
            node.dirty_since = None
        self._commit(list(range(len(self.log))))

    def reload(self, tree: dict[str, object]) -> None:
        """After a cut and remount: the current state is what the backing dir holds (and a fresh
        daemon has no disk fault)."""
        self.faults = None
        self.nodes = {ROOT_ID: MNode(True)}
        self.next_id = 1
        self.log = []
        for path in sorted(tree, key=lambda p: p.count("/")):
            head, name = self.split(path)
            parent = self.lookup(head)
            node_id = self.next_id
            self.next_id += 1
            node = self.nodes[node_id] = MNode(tree[path] == DIR)
            if not node.is_dir:
                node.dur = tree[path]
                node.cur = bytearray(tree[path])
            self.nodes[parent].entries[name] = node_id
            self.nodes[parent].dentries[name] = node_id

    def live_files(self) -> int:
        """How many file inodes anything can still reach: a current name, a durable name (in any
        directory's durable listing), or a pending operation. The rest must be freed."""
        live = set()
        stack = [ROOT_ID]
        while stack:
            node = self.nodes[stack.pop()]
            for child in node.entries.values():
                live.add(child)
                if self.nodes[child].is_dir:
                    stack.append(child)
        for node in self.nodes.values():
            live.update(node.dentries.values())
        for _kind, args, _dirs, _at in self.log:
            live.update(a for a in args[2:] if isinstance(a, int))
        return sum(1 for i in live if not self.nodes[i].is_dir)

    def pending_files(self) -> dict[str, tuple[bytes, bytes]]:
        """Durable path -> (durable bytes, current bytes) of every durably named file."""
        out = {}
        stack = [("", ROOT_ID)]
        while stack:
            path, node_id = stack.pop()
            for name, child in self.nodes[node_id].dentries.items():
                sub = f"{path}/{name}" if path else name
                node = self.nodes[child]
                if node.is_dir:
                    stack.append((sub, child))
                else:
                    out[sub] = (node.dur, bytes(node.cur))
        return out


def read_tree(root: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in dirnames:
            out[os.path.normpath(os.path.join(rel, name))] = DIR
        for name in filenames:
            out[os.path.normpath(os.path.join(rel, name))] = Path(dirpath, name).read_bytes()
    return out


def torn_allowed(got: bytes, old: bytes, cur: bytes) -> str | None:
    """None if `got` is a state a partial, page-aligned writeback of `cur` over `old` can leave:
    a size among old, current, or a page boundary between them, and every page either the
    current page or the old page (whose tail may be zeros: holes, a truncation carried along)."""
    lo, hi = min(len(old), len(cur)), max(len(old), len(cur))
    if len(got) not in (len(old), len(cur)) and not (len(got) % PAGE == 0 and lo <= len(got) <= hi):
        return f"size {len(got)} is neither old {len(old)}, current {len(cur)} nor a page boundary between"
    for start in range(0, len(got), PAGE):
        page = got[start : start + PAGE]
        n = len(page)
        cur_page = cur[start : start + n].ljust(n, b"\0")
        if page == cur_page:
            continue
        old_page = old[start : start + n].ljust(n, b"\0")
        tail = len(page.rstrip(b"\0"))
        if page[:tail] == old_page[:tail]:
            continue
        return f"page at {start} is neither the current page nor the old one (with a zero tail)"
    return None


# -------------------------------------------------------------------------------------- drivers
class CoreDriver:
    """Runs the operations on PowerState directly, with a fake clock."""

    uses_clock = True
    supports_faults = True  # disk faults reach the caller

    def __init__(self, backing: Path, metadata: str, writeback_s: float | None) -> None:
        self.backing = backing
        self.metadata = metadata
        self.writeback_s = writeback_s
        self.now = 0.0
        self.state = self._new_state()

    def _new_state(self) -> PowerState:
        return PowerState(self.backing, metadata=self.metadata, writeback_s=self.writeback_s, clock=lambda: self.now)

    def create(self, path):
        parent, name = self.state.resolve_parent(path)
        self.state.create(parent, name, 0o644)

    def mkdir(self, path):
        parent, name = self.state.resolve_parent(path)
        self.state.mkdir(parent, name, 0o755)

    def unlink(self, path):
        self.state.unlink(*self.state.resolve_parent(path))

    def rmdir(self, path):
        self.state.rmdir(*self.state.resolve_parent(path))

    def rename(self, src, dst):
        self.state.rename(*self.state.resolve_parent(src), *self.state.resolve_parent(dst))

    def write(self, path, offset, data) -> int:
        return self.state.write(self.state.resolve(path), offset, data)

    def set_faults(self, **settings):
        self.state.set_faults(settings)

    def clear_faults(self):
        self.state.clear_faults()

    def truncate(self, path, size):
        self.state.truncate(self.state.resolve(path), size)

    def fsync(self, path):
        self.state.fsync(self.state.resolve(path))

    def fsyncdir(self, path):
        self.state.fsyncdir(self.state.resolve(path))

    def read(self, path) -> bytes:
        ino = self.state.resolve(path)
        return self.state.read(ino, 0, self.state.getattr(ino)["st_size"] + PAGE)

    def size(self, path) -> int:
        return self.state.getattr(self.state.resolve(path))["st_size"]

    def listing(self) -> list[str]:
        out, stack = [], [("", 1)]
        while stack:
            path, ino = stack.pop()
            for name, child, mode in self.state.readdir(ino):
                sub = f"{path}/{name}" if path else name
                out.append(sub)
                if stat.S_ISDIR(mode):
                    stack.append((sub, child))
        return sorted(out)

    def tick(self, now):
        self.now = now
        self.state.writeback_tick()

    def cut(self, torn, seed) -> dict:
        result = self.state.cut(torn=torn, seed=seed)
        self.state.close()
        self.state = self._new_state()
        return result

    def clean_remount(self):
        self.state.sync_all()
        self.state.close()
        self.state = self._new_state()

    def close(self):
        self.state.close()

    def store_files(self) -> int | None:
        return len(os.listdir(self.state.store))


class PowerFSMachine(RuleBasedStateMachine):
    """Random operations; the backing dir must always equal the model's durable tree."""

    metadata = "strict"
    writeback_s: float | None = None
    driver_class = CoreDriver

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="powerfs-test-"))
        self.backing = self.tmp / "backing"
        self.backing.mkdir()
        self.model = Model(self.metadata == "strict", self.writeback_s)
        self.driver = self.make_driver()
        self.now = 0.0
        self.cuts = 0
        self.steps_since_cut = 0

    def make_driver(self):
        return CoreDriver(self.backing, self.metadata, self.writeback_s)

    def teardown(self) -> None:
        try:
            self.driver.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers
    def expect(self, want_errno, call, *args):
        try:
            call(*args)
        except OSError as exc:
            assert want_errno is not None, f"{call.__name__}{args} failed unexpectedly: {exc}"
            assert exc.errno == want_errno, f"{call.__name__}{args}: errno {exc.errno}, expected {want_errno}"
        else:
            assert want_errno is None, f"{call.__name__}{args} succeeded, expected errno {want_errno}"

    @staticmethod
    def join(head: str, name: str) -> str:
        return f"{head}/{name}" if head else name

    # -- namespace rules
    @rule(data=st.data(), name=st.sampled_from(NAMES))
    def create(self, data, name):
        path = self.join(data.draw(st.sampled_from(self.model.dirs())), name)
        self.expect(self.model.create(path, False, self.now), self.driver.create, path)

    @precondition(lambda self: len(self.model.dirs()) < 5)
    @rule(data=st.data(), name=st.sampled_from(NAMES))
    def mkdir(self, data, name):
        parent = data.draw(st.sampled_from([d for d in self.model.dirs() if d.count("/") < 1]))
        path = self.join(parent, name)
        self.expect(self.model.create(path, True, self.now), self.driver.mkdir, path)

    @precondition(lambda self: self.model.paths())
    @rule(data=st.data())
    def unlink(self, data):
        path = data.draw(st.sampled_from(self.model.paths()))
        self.expect(self.model.remove(path, False, self.now), self.driver.unlink, path)

    @precondition(lambda self: self.model.paths(want_dir=True))
    @rule(data=st.data())
    def rmdir(self, data):
        path = data.draw(st.sampled_from(self.model.paths()))
        self.expect(self.model.remove(path, True, self.now), self.driver.rmdir, path)

    @precondition(lambda self: self.model.paths())
    @rule(data=st.data(), name=st.sampled_from(NAMES))
    def rename(self, data, name):
        src = data.draw(st.sampled_from(self.model.paths()))
        dst = self.join(data.draw(st.sampled_from(self.model.dirs())), name)
        if src.startswith(dst + "/"):
            return  # onto its own ancestor: the kernel's answer differs by case; not modelled
        self.expect(self.model.rename(src, dst, self.now), self.driver.rename, src, dst)

    # -- data rules
    @precondition(lambda self: self.model.paths(want_dir=False))
    @rule(data=st.data(), offset=st.integers(0, 3 * PAGE + 100), chunk=st.binary(min_size=1, max_size=48),
          repeat=st.integers(1, 220))
    def write(self, data, offset, chunk, repeat):
        path = data.draw(st.sampled_from(self.model.paths(want_dir=False)))
        if data.draw(st.booleans()):  # an append, as a log does
            offset = len(self.model.nodes[self.model.lookup(path)].cur)
        payload = (chunk * repeat)[: 3 * PAGE]
        want_errno, want_written = self.model.write(path, offset, payload, self.now)
        written = None
        try:
            written = self.driver.write(path, offset, payload)
        except OSError as exc:
            assert exc.errno == want_errno, f"write {path}: errno {exc.errno}, expected {want_errno}"
        else:
            assert want_errno is None, f"write {path} wrote {written} bytes, expected errno {want_errno}"
            assert written == want_written, f"write {path}: {written} bytes written, expected {want_written}"

    @precondition(lambda self: self.model.paths(want_dir=False))
    @rule(data=st.data(), size=st.integers(0, 3 * PAGE + 100))
    def truncate(self, data, size):
        path = data.draw(st.sampled_from(self.model.paths(want_dir=False)))
        self.model.truncate(path, size, self.now)
        self.driver.truncate(path, size)

    @precondition(lambda self: self.model.paths(want_dir=False))
    @rule(data=st.data())
    def fsync(self, data):
        path = data.draw(st.sampled_from(self.model.paths(want_dir=False)))
        self.expect(self.model.fsync(path), self.driver.fsync, path)

    # -- disk faults (where they reach the caller: not through the kernel's writeback cache)
    @precondition(lambda self: self.driver.supports_faults)
    @rule(eio_write=st.sampled_from(["", "once", "sticky"]), eio_fsync=st.sampled_from(["", "once", "sticky"]),
          free=st.one_of(st.none(), st.integers(0, 2 * PAGE)), files=st.sampled_from(["*", "a", "*b", "c*"]))
    def disk_fault(self, eio_write, eio_fsync, free, files):
        self.model.faults = {"eio_write": eio_write, "eio_fsync": eio_fsync, "free": free, "files": files}
        self.driver.set_faults(eio_write=eio_write, eio_fsync=eio_fsync, free_bytes=free, files=files)

    @precondition(lambda self: self.model.faults is not None)
    @rule()
    def disk_recovers(self):
        self.model.faults = None
        self.driver.clear_faults()

    @rule(data=st.data())
    def fsyncdir(self, data):
        path = data.draw(st.sampled_from(self.model.dirs()))
        self.model.fsyncdir(path)
        self.driver.fsyncdir(path)

    @precondition(lambda self: self.writeback_s is not None)
    @rule(dt=st.sampled_from([0.25, 0.5, 1.0, 2.0]))
    def time_passes(self, dt):
        self.now += dt
        self.model.tick(self.now)
        self.driver.tick(self.now)

    @precondition(lambda self: self.writeback_s is not None)
    @rule(dt=st.sampled_from([0.25, 0.5]))
    def a_moment_passes(self, dt):
        self.time_passes(dt)

    # -- power (not too often: a cut wipes what is pending, and pending state is where bugs live)
    @precondition(lambda self: self.steps_since_cut >= 6)
    @rule(torn=st.booleans(), seed=st.integers(0, 2**16))
    def power_cut(self, torn, seed):
        expected = self.model.durable_tree()
        pending = self.model.pending_files()
        result = self.driver.cut(torn, seed)
        self.cuts += 1
        assert result["pending_metadata_ops_dropped"] == len(self.model.log)
        assert result["torn"] is torn
        got = read_tree(self.backing)
        assert sorted(got) == sorted(expected), "names after the cut differ from the durable names"
        for path, want in expected.items():
            if want == DIR:
                assert got[path] == DIR, path
            elif not torn:
                assert got[path] == want, f"{path}: content after a plain cut is not the durable content"
            else:
                old, cur = pending[path]
                why = torn_allowed(got[path], old, cur)
                assert why is None, f"{path}: {why}"
        if not torn:
            assert result["torn_bytes_kept"] == 0
        self.model.reload(got)
        self.steps_since_cut = 0

    @precondition(lambda self: self.steps_since_cut >= 6)
    @rule()
    def clean_remount(self):
        self.model.sync_all()
        self.driver.clean_remount()
        assert read_tree(self.backing) == self.model.durable_tree()
        self.model.reload(read_tree(self.backing))
        self.steps_since_cut = 0

    # -- invariants
    @invariant()
    def count_steps(self):
        self.steps_since_cut += 1

    @invariant()
    def backing_holds_exactly_the_durable_state(self):
        assert read_tree(self.backing) == self.model.durable_tree()

    @invariant()
    def nothing_unreachable_is_kept(self):
        count = self.driver.store_files()
        if count is not None:
            assert count == self.model.live_files(), "store files of unreachable inodes were not freed"

    @invariant()
    def listings_show_the_current_names(self):
        assert self.driver.listing() == self.model.paths()

    @invariant()
    def reads_see_the_latest_writes(self):
        for path in self.model.paths(want_dir=False):
            want = bytes(self.model.nodes[self.model.lookup(path)].cur)
            assert self.driver.size(path) == len(want), path
            assert self.driver.read(path) == want, path


class StrictCore(PowerFSMachine):
    metadata = "strict"


class LenientCore(PowerFSMachine):
    metadata = "lenient"


class StrictCoreWriteback(PowerFSMachine):
    metadata = "strict"
    writeback_s = 1.0


CORE_SETTINGS = settings(max_examples=250, stateful_step_count=50, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

TestStrictCore = StrictCore.TestCase
TestStrictCore.settings = CORE_SETTINGS
TestLenientCore = LenientCore.TestCase
TestLenientCore.settings = CORE_SETTINGS
TestStrictCoreWriteback = StrictCoreWriteback.TestCase
TestStrictCoreWriteback.settings = settings(CORE_SETTINGS, max_examples=200)


# ------------------------------------------------------------------------------- unit tests
def test_torn_checker_accepts_and_refuses():
    old = b"x" * 5000
    cur = old + b"y" * 9000
    assert torn_allowed(old, old, cur) is None
    assert torn_allowed(cur, old, cur) is None
    assert torn_allowed(cur[: 2 * PAGE], old, cur) is None  # a clean shorter tail
    holed = bytearray(cur)
    holed[2 * PAGE : 3 * PAGE] = bytes(PAGE)
    assert torn_allowed(bytes(holed), old, cur) is None  # a zero-filled hole
    assert torn_allowed(cur[:6000], old, cur) is not None  # not page-aligned
    bad = bytearray(cur)
    bad[100] = ord("z")
    assert torn_allowed(bytes(bad), old, cur) is not None


def test_torn_cut_is_seeded_and_makes_every_kind_of_tail(tmp_path):
    """The same seed gives the same bytes; across seeds some tails are clean and shorter, some
    have zero-filled holes, and the counters say what was kept."""
    outcomes = {}
    kinds = set()
    for seed in list(range(40)) + [7]:
        backing = tmp_path / f"b{seed}"
        if backing.exists():
            shutil.rmtree(backing)
        backing.mkdir()
        (backing / "log").write_bytes(b"durable\n")
        state = PowerState(backing, metadata="strict")
        ino = state.resolve("log")
        for i in range(8):
            state.write(ino, state.getattr(ino)["st_size"], (f"write {i};".encode() * 300)[:3000])
        current = state.read(ino, 0, 1 << 20)
        result = state.cut(torn=True, seed=seed)
        state.close()
        got = (backing / "log").read_bytes()
        assert torn_allowed(got, b"durable\n", current) is None
        assert result["unsynced_bytes_at_cut"] == len(current) - len(b"durable\n")
        assert 0 <= result["torn_bytes_kept"] <= result["unsynced_bytes_at_cut"]
        if seed in outcomes:
            assert outcomes[seed] == got, "same seed, different result"
        outcomes[seed] = got
        body = got[len(b"durable\n"):]
        if got == current:
            kinds.add("all")
        elif b"\0" in body:
            kinds.add("holes")
        elif current.startswith(got):
            kinds.add("clean-prefix" if len(got) > 8 else "nothing")
    assert {"holes", "clean-prefix"} <= kinds, kinds


def test_redis_rewrite_pattern_strict(tmp_path):
    """temp file, fsync, rename over the target: durable only once the directory is fsynced."""
    backing = tmp_path / "b"
    backing.mkdir()
    (backing / "manifest").write_bytes(b"old")
    for fsync_dir, want in ((True, b"new"), (False, b"old")):
        state = PowerState(backing, metadata="strict")
        ino = state.create(1, "temp", 0o644)
        state.write(ino, 0, b"new")
        state.fsync(ino)
        state.rename(1, "temp", 1, "manifest")
        if fsync_dir:
            state.fsyncdir(1)
        result = state.cut()
        state.close()
        assert (backing / "manifest").read_bytes() == want
        assert sorted(os.listdir(backing)) == ["manifest"]
        assert result["pending_metadata_ops_dropped"] == (0 if fsync_dir else 2)
        (backing / "manifest").write_bytes(b"old")


def test_counters(tmp_path):
    backing = tmp_path / "b"
    backing.mkdir()
    state = PowerState(backing, metadata="lenient", writeback_s=None)
    ino = state.create(1, "f", 0o644)
    state.write(ino, 0, b"a" * 10)
    state.write(ino, 10, b"b" * 20)
    state.fsync(ino)
    state.write(ino, 30, b"c" * 7)
    state.fsyncdir(1)
    stats = state.stats()
    assert (stats["writes"], stats["bytes_written"], stats["fsyncs"], stats["dir_fsyncs"]) == (3, 37, 1, 1)
    assert stats["unsynced_bytes"] == 7
    result = state.cut()
    assert result["unsynced_bytes_at_cut"] == 7
    assert result["pending_metadata_ops_dropped"] == 0
    state.close()
    assert (backing / "f").read_bytes() == b"a" * 10 + b"b" * 20


def test_strict_fsync_of_a_new_file_does_not_make_its_name_durable(tmp_path):
    backing = tmp_path / "b"
    backing.mkdir()
    state = PowerState(backing, metadata="strict")
    ino = state.create(1, "f", 0o644)
    state.write(ino, 0, b"data")
    state.fsync(ino)
    assert os.listdir(backing) == []
    state.cut()
    state.close()
    assert os.listdir(backing) == []


def test_writeback_commits_old_data_and_names(tmp_path):
    backing = tmp_path / "b"
    backing.mkdir()
    now = [100.0]
    state = PowerState(backing, metadata="strict", writeback_s=5.0, clock=lambda: now[0])
    ino = state.create(1, "f", 0o644)
    state.write(ino, 0, b"early")
    now[0] += 3
    state.writeback_tick()
    assert os.listdir(backing) == []
    now[0] += 2.5
    state.writeback_tick()
    assert (backing / "f").read_bytes() == b"early"
    assert state.stats()["writeback_flushes"] == 1
    assert state.stats()["writeback_metadata_ops"] == 1
    state.close()


def test_unsynced_data_of_a_closed_unlinked_file_never_becomes_durable(tmp_path):
    """Strict: the unlink is not durable yet, so the old name survives a cut, with its durable
    bytes: the data written before the unlink died with the inode, neither writeback nor a
    torn cut may bring it back."""
    for how in ("writeback", "torn"):
        backing = tmp_path / how
        backing.mkdir()
        (backing / "f").write_bytes(b"durable")
        now = [0.0]
        state = PowerState(backing, metadata="strict", writeback_s=1.0, clock=lambda: now[0])
        ino = state.resolve("f")
        state.write(ino, 0, b"unsynced" * 1000)
        now[0] = 0.9
        state.unlink(1, "f")
        if how == "writeback":
            now[0] = 1.5  # the data is old enough for writeback, the unlink is not
            state.writeback_tick()
            assert (backing / "f").read_bytes() == b"durable"
            assert state.stats()["writeback_metadata_ops"] == 0
        else:
            state.cut(torn=True, seed=3)
            assert (backing / "f").read_bytes() == b"durable"
        state.close()


def test_rename_noreplace_and_one_state_per_backing_dir(tmp_path):
    state = PowerState(tmp_path, metadata="strict")
    try:
        for name in ("a", "b"):
            state.create(1, name, 0o644)
        with pytest.raises(OSError) as exc:
            state.rename(1, "a", 1, "b", flags=1)  # RENAME_NOREPLACE
        assert exc.value.errno == errno.EEXIST
        with pytest.raises(OSError) as exc:
            PowerState(tmp_path)
        assert exc.value.errno == errno.EBUSY
    finally:
        state.close()
    PowerState(tmp_path).close()  # free again once the first one is closed


def test_refuses_unknown_metadata_mode(tmp_path):
    with pytest.raises(ValueError):
        PowerState(tmp_path, metadata="sloppy")
