"""Writing files safely: atomically (a temporary file and a rename) and, when a write fails, with
the name of the file in the error.

A write that fails for want of space (``ENOSPC``, ``EDQUOT``), a size limit (``EFBIG``) or an
I/O error raises an ``OSError`` without a file name: "[Errno 28] No space left on device" alone
does not say which file system is full. :func:`naming` gives such an error the path being
written, keeping its type and errno, so the CLI's one-line error names it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def naming(path: str | os.PathLike) -> Iterator[None]:
    """Re-raise an ``OSError`` of the block that names no file as the same error naming ``path``
    (same type, errno and message; the original is chained). Errors that name a file pass."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), os.fspath(path)) \
            from exc


def fsync_dir(path: Path) -> None:
    """fsync a directory so that renames inside it are durable (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes | memoryview, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename.

    The file gets the process umask. On failure the temporary file is removed, ``path`` is left
    as it was, and an ``OSError`` names ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with naming(path):
            with open(tmp, "wb") as f:
                f.write(data)
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: Path, text: str, *, fsync: bool = True) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)
