"""Files written whole or not at all: the one atomic writer every package may use.

A reader (a person opening the report, the next pull reading its cursor, the next run reading the
KEV snapshot) never sees half a file: temp file in the same directory, fsync, rename, then fsync of
the directory so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically; the file gets ``mode`` (owner-only by default)."""
    write_atomic_stream(path, (data,), mode=mode)


def write_atomic_stream(path: Path, chunks: Iterable[bytes], *, mode: int = 0o600) -> int:
    """As :func:`write_atomic`, from chunks (memory stays flat); returns the bytes written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    size = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            for chunk in chunks:
                fh.write(chunk)
                size += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return size


def fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
