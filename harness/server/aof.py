"""Reading what an append-only file says was deleted: the server's own record of its deletions.

An eviction is written to the AOF as a `DEL` (an `UNLINK` with `lazyfree-lazy-eviction yes`),
like a logout. After a crash this is the evidence of evictions whose keyspace notification never
left the server (the notification goes out with the replies, after the AOF write, so a kill
between the two keeps the deletion and loses its notice). Redis 7's multi-part AOF lists its
files in `appendonlydir/<name>.manifest`; the incremental files (`type i`) hold the commands
since the last rewrite, in order. Older servers keep one `appendonly.aof` (whose commands are
all there is). The RESP is parsed with hiredis; a torn tail simply ends the reading.
"""

from __future__ import annotations

from pathlib import Path

import hiredis

DELETES = {b"DEL", b"UNLINK"}


def incremental_files(data_dir: Path) -> list[Path]:
    """The AOF files holding commands, oldest first ([] when the server kept no AOF)."""
    folder = data_dir / "appendonlydir"
    manifests = sorted(folder.glob("*.manifest")) if folder.is_dir() else []
    if manifests:
        files = []
        for line in manifests[-1].read_text(errors="replace").splitlines():
            words = line.split()
            fields = dict(zip(words[0::2], words[1::2]))
            if fields.get("type") == "i" and "file" in fields:
                files.append(folder / fields["file"])
        return [path for path in files if path.is_file()]
    single = data_dir / "appendonly.aof"
    return [single] if single.is_file() else []


def commands(data: bytes):
    """Every complete command in `data` (a list of bytes each), until the end or a torn tail."""
    reader = hiredis.Reader()
    reader.feed(data)
    while True:
        try:
            command = reader.gets()
        except hiredis.ProtocolError:  # not RESP from here on (an annotation, garbage): stop
            return
        if command is False:
            return
        if isinstance(command, list) and command:
            yield command


def deleted_keys(data_dir: Path) -> list[str]:
    """The keys the AOF deletes, in order (a key deleted twice appears twice)."""
    keys = []
    for path in incremental_files(data_dir):
        for command in commands(path.read_bytes()):
            if bytes(command[0]).upper() in DELETES:
                keys += [bytes(k).decode(errors="replace") for k in command[1:]]
    return keys
