"""Atomic Parquet writes: parts through temporary files, datasets through temporary directories.

Layout while a dataset is being written under ``root``:

* ``root/.<name>-<hash12>.tmp/``: the work directory; each finished part ``part-NNNNN.parquet``
  (written to a hidden temporary file, then renamed) and its sidecar
  ``.part-NNNNN.parquet.json`` (PartInfo with SHA-256, written after the part), which lets an
  interrupted run reuse the part after checking its checksum;
* ``root/.<name>-<hash12>.lock``: an advisory ``flock`` held by the writer, so two processes do
  not write the same dataset at once.

When every part is present the sidecars are removed, ``_manifest.json`` is written (atomically,
last) and the work directory is renamed to ``root/<name>-<hash12>``. A crash at any point leaves
either the previous state or a hidden work directory, never a directory that looks complete.

The lock is taken only when something must be written, so a complete dataset on a read-only
store is served; when the lock cannot be created there, ``DatasetError`` says so. A complete
version-1 dataset (``manifest.json``) is migrated under the lock (``migrate_in_place``), or
served as it is where the store is read-only.

``private_work_dir`` and ``publish_dir`` are the same pattern without a lock, for caches that
several processes may fill at once: each assembles its own temporary directory and renames it
into place; the first to finish wins and the others discard theirs.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DatasetError
from .files import atomic_write_bytes, fsync_dir
from .hashing import IDENTITY_KEYS
from .layout import QUARANTINE, dataset_root, displace_non_directory, is_ignored, quarantine
from .manifest import (
    LEGACY_MANIFEST,
    MANIFEST,
    PartInfo,
    build_manifest,
    find_manifest,
    migrate_manifest,
    part_metadata,
    write_manifest,
)
from .schema import METADATA_KEY, PART_PATTERN, check_finite, part_name, table_from_arrays
from .spec import DEFAULT_CHUNK_PATHS, DatasetSpec, check_sample

log = logging.getLogger(__name__)
COMPRESSION = "lz4"  # LZ4_RAW: ~2x faster writes than zstd here, ~30% larger files
SIDECAR_SUFFIX = ".json"


def work_dir(root: Path, spec: DatasetSpec) -> Path:
    """The hidden temporary directory in which ``spec``'s dataset is assembled."""
    return Path(root) / f".{spec.dirname}.tmp"


def sidecar_path(part_path: Path) -> Path:
    """``.part-NNNNN.parquet.json`` next to ``part-NNNNN.parquet``."""
    return part_path.with_name(f".{part_path.name}{SIDECAR_SUFFIX}")


READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def _open_lock(path: Path) -> int:
    """Open (creating if needed) the lock file; a file descriptor."""
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


@contextlib.contextmanager
def dataset_lock(root: Path, spec: DatasetSpec, *, blocking: bool = True,
                 why: str = "it must be written") -> Iterator[bool]:
    """Hold an exclusive advisory lock on ``root/.<dirname>.lock`` (POSIX ``flock``).

    Yields True when the lock is held; with ``blocking=False`` yields False if another process
    holds it. Where ``fcntl`` is unavailable, yields True without locking.

    Raises:
        DatasetError: the store is read-only (the lock cannot be created); the message names
            the dataset and says ``why`` it needed writing. Also when ``root`` does not exist
            and cannot be created (e.g. under ``/proc``, or below a file).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield True
        return
    root = Path(root)
    lock = root / f".{spec.dirname}.lock"
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = _open_lock(lock)
    except OSError as exc:
        if exc.errno not in READ_ONLY_ERRNOS:
            if not root.is_dir():
                raise DatasetError(f"{root}: the datasets root cannot be created "
                                   f"({exc.strerror}), so {spec.dirname} cannot be written.",
                                   root) from exc
            raise
        raise DatasetError(f"{root / spec.dirname}: {why}, but the store {root} is read-only "
                           f"(cannot open the lock {lock.name}: {exc.strerror}). Generate the "
                           "dataset with write access, or use a writable dataset root.",
                           root / spec.dirname) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def process_space() -> str:
    """Where this process's id means something: the host name, plus (on Linux) the boot and the
    PID namespace, so that two containers sharing a host name, or the same machine after a
    reboot, are different spaces."""
    space = socket.gethostname()
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
        space += f"~{boot}~{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        pass
    return space


def private_work_dir(final: Path) -> Path:
    """A new, empty, hidden directory next to ``final`` that only the caller uses:
    ``<parent>/.<name>.tmp-<pid>@<space>-<random>`` (the parent is created if needed; ``space``
    from :func:`process_space`). The owner recorded in the name lets a later run remove the
    folder once its owner is dead (``pipeline.cache.sweep``)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    owner = f"{os.getpid()}@{process_space()}"
    work = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-{owner}-"))
    os.chmod(work, 0o777 & ~process_umask())  # mkdtemp makes 0700; published folders are shared
    return work


def process_umask() -> int:
    """The process umask, read without changing it (``/proc/self/status`` on Linux; elsewhere
    set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_dir(tmp: Path, final: Path, *, fsync: bool = False) -> bool:
    """Rename the finished directory ``tmp`` to ``final`` atomically.

    Returns True when ``tmp`` became ``final``. When ``final`` already exists (another process
    published first), ``tmp`` is removed and False is returned: the caller uses ``final``.
    """
    try:
        os.rename(tmp, final)
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    if fsync:
        fsync_dir(Path(final).parent)
    return True


def write_part(directory: Path, spec: DatasetSpec, index: int, first_path: int, x: np.ndarray,
               y: np.ndarray, dydx: np.ndarray, *, n_parts: int, backend: str = "cpu",
               fsync: bool = True, sidecar: bool = True, seconds: float = 0.0) -> PartInfo:
    """Write rows ``[first_path, first_path + len(y))`` as ``directory/part-<index>.parquet``.

    The part is serialised in memory, hashed (SHA-256), written to a hidden temporary file and
    renamed into place; then (``sidecar=True``) its PartInfo is written next to it. Parquet page
    CRC checksums are written too. Returns the PartInfo.
    """
    t0 = time.perf_counter()
    rows = int(len(y))
    path_id = np.arange(first_path, first_path + rows, dtype=np.int64)
    table = table_from_arrays(path_id, x, y, dydx, spec.inputs, spec.precision)
    check_finite(table, f"part {index} of {spec.dirname} (paths from {first_path})", first_path)
    meta = part_metadata(spec.to_dict(), list(spec.inputs), index, first_path, rows, n_parts,
                         backend)
    table = table.replace_schema_metadata(
        {METADATA_KEY: json.dumps(meta, sort_keys=True, separators=(",", ":"))})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=COMPRESSION, use_dictionary=False,
                   write_page_checksum=True, write_statistics=["path_id"],
                   row_group_size=max(rows, 1))
    buf = sink.getvalue()
    digest = hashlib.sha256(memoryview(buf)).hexdigest()
    path = Path(directory) / part_name(index)
    atomic_write_bytes(path, memoryview(buf), fsync=fsync)
    info = PartInfo(index=index, file=path.name, first_path=int(first_path), rows=rows,
                    bytes=int(buf.size), sha256=digest, backend=backend,
                    seconds=seconds + time.perf_counter() - t0)
    if sidecar:
        atomic_write_bytes(sidecar_path(path), json.dumps(info.to_dict()).encode(), fsync=False)
    return info


def finalize(tmp: Path, final: Path, spec: DatasetSpec, parts: list[PartInfo], *,
             generation: dict | None = None, fsync: bool = True) -> Path:
    """Turn a work directory holding every part into the dataset directory ``final``.

    Removes sidecars and other hidden leftovers, moves any other entry that is not a listed
    part into ``_quarantine/`` (kept, as is an existing quarantine), removes a version-1
    ``manifest.json``, writes ``_manifest.json`` (last) and renames ``tmp`` to ``final``
    atomically. ``final`` must not exist.
    """
    parts = sorted(parts, key=lambda p: p.index)
    expected = {p.file for p in parts}
    if sum(p.rows for p in parts) != spec.n_paths:
        raise DatasetError(f"{tmp}: the parts hold {sum(p.rows for p in parts)} rows, expected "
                           f"{spec.n_paths}.", tmp)
    for p in parts:
        f = tmp / p.file
        if not f.is_file() or f.stat().st_size != p.bytes:
            raise DatasetError(f"{f}: part reported as written ({p.bytes} bytes) but not found "
                               "with that size here; with Dask, workers must write to a file "
                               "system this process sees at the same path.", f)
    strays = []
    for entry in tmp.iterdir():
        if entry.name in expected or entry.name == QUARANTINE:
            continue
        if entry.name == MANIFEST and _names_hash(entry, spec.hash):
            continue  # this dataset's manifest (it was damaged): replaced below
        if entry.name == LEGACY_MANIFEST and _names_hash(entry, spec.hash):
            entry.unlink()  # this dataset's version-1 manifest (it was damaged): replaced below
        elif not is_ignored(entry.name) or entry.name == MANIFEST or \
                entry.name.endswith(".parquet"):
            strays.append(entry.name)  # another manifest.json among them: kept, not deleted
        elif entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    quarantine(tmp, sorted(strays))
    manifest = build_manifest(spec.to_dict(), list(spec.inputs), parts, generation)
    write_manifest(tmp, manifest, fsync=fsync)
    if fsync:
        fsync_dir(tmp)
    if not publish_dir(tmp, final, fsync=fsync):
        raise DatasetError(f"{final}: appeared while this process held the dataset's lock (a "
                           "writer that does not take the lock?); left as it is.", final)
    return final


def _check_sample(sample: Any, spec: DatasetSpec) -> None:
    meta = sample.metadata()
    if meta["first_path"] != 0:
        raise ValueError(f"A dataset must start at path 0; the sample starts at first_path="
                         f"{meta['first_path']}.")
    got = {k: meta[k] for k in IDENTITY_KEYS}
    want = spec.identity()
    for key in want:
        if got[key] != want[key]:
            raise ValueError(f"The sample does not match the spec: field '{key}' is "
                             f"{got[key]!r} in the sample and {want[key]!r} in the spec.")
    if tuple(sample.inputs) != spec.inputs:
        raise ValueError(f"The sample's inputs {sample.inputs} differ from the model's "
                         f"{spec.inputs}.")


def write_dataset(sample: Any, root: str | os.PathLike = "datasets",
                  spec: DatasetSpec | None = None, *, name: str | None = None,
                  chunk_paths: int | None = None, fsync: bool = True) -> Path:
    """Write a whole in-memory ``simulators.Sample`` as a dataset; returns its directory.

    Args:
        sample: the ``simulators.Sample`` (first_path 0); GPU arrays are copied to the host.
            Anything else (e.g. a NumPy array) raises TypeError.
        root: directory holding datasets; created if needed (DatasetError when it is a file
            or cannot be created).
        spec: the dataset spec; it must agree with the sample on every identity field. If
            omitted, built from the sample with ``name``.
        name: dataset name when ``spec`` is omitted (default "dataset").
        chunk_paths: rows per part (default ``spec.chunk_paths``).
        fsync: flush parts, manifest and directories to disk (durability on power loss).

    Returns:
        ``root/<name>-<hash12>``. If that dataset already exists it is left as it is (its
        numbers are the same by construction) and its path is returned without taking the
        lock (a version-1 one is migrated under the lock first: ``migrate_in_place``); use
        ``open_dataset`` to verify it. A file at that path is moved aside first
        (``data.layout.displace``).
    """
    check_sample(sample, "write_dataset")
    if spec is not None and not isinstance(spec, DatasetSpec):
        raise TypeError("The 'spec' argument of write_dataset must be None or a DatasetSpec. "
                        f"Got {type(spec).__name__} instead.")
    root = dataset_root(root, "write_dataset")
    sample = sample.to_numpy() if hasattr(sample, "to_numpy") else sample
    if spec is None:
        spec = DatasetSpec.from_sample(sample, name or "dataset",
                                       chunk_paths=DEFAULT_CHUNK_PATHS if chunk_paths is None
                                       else chunk_paths)
    elif chunk_paths is not None:
        spec = spec.replace(chunk_paths=chunk_paths)
    _check_sample(sample, spec)
    final = root / spec.dirname
    if find_manifest(final) is not None:  # written already: no lock needed
        migrate_in_place(root, spec, final, fsync=fsync)
        return final
    with dataset_lock(root, spec, why="it does not exist yet"):
        if find_manifest(final) is not None:
            migrate_in_place(root, spec, final, fsync=fsync, locked=True)
            return final
        displace_non_directory(final)
        if final.exists():
            raise DatasetError(f"{final} exists but has no manifest (an incomplete or damaged "
                               "dataset); remove it or repair it with data.find_or_create.",
                               final)
        tmp = work_dir(root, spec)
        displace_non_directory(tmp)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        n, k = spec.n_paths, spec.chunk_paths
        n_parts = -(-n // k)
        parts = []
        x, y, dydx = np.asarray(sample.x), np.asarray(sample.y), np.asarray(sample.dydx)
        for i in range(n_parts):
            lo, hi = i * k, min(n, (i + 1) * k)
            parts.append(write_part(tmp, spec, i, lo, x[lo:hi], y[lo:hi], dydx[lo:hi],
                                    n_parts=n_parts, backend=sample.backend, fsync=fsync,
                                    sidecar=False))
        return finalize(tmp, final, spec, parts, fsync=fsync,
                        generation={"source": "write_dataset", "parts_written": n_parts})


def migrate_in_place(root: Path, spec: DatasetSpec, final: Path, *, fsync: bool = True,
                     locked: bool = False) -> bool:
    """Migrate the version-1 ``manifest.json`` of the dataset directory ``final`` to
    ``_manifest.json`` (``data.manifest.migrate_manifest``) under the dataset's lock.

    Args:
        root, spec: the store and the dataset (whose lock is taken).
        final: ``root/<spec.dirname>``; callers have checked that it is complete.
        fsync: flush the new manifest and the directory.
        locked: the caller holds the lock already.

    Returns:
        True when the manifest was migrated (or an interrupted migration finished); False when
        there was nothing to migrate, or when it could not be: a read-only store, or an invalid
        version-1 manifest, or ``final`` is a symbolic link (nothing is written through one).
        The dataset is then left as it is, with a warning: it is read the same way, only tools
        other than diffml still see ``manifest.json`` among its parts.
    """
    final = Path(final)
    if not (final / LEGACY_MANIFEST).is_file():
        return False
    if final.is_symlink():  # read as it is: nothing is written through a link
        log.warning("%s is a symbolic link to a version-1 dataset; read as it is, its "
                    "manifest not migrated", final)
        return False
    try:
        if locked:
            return migrate_manifest(final, fsync=fsync)
        with dataset_lock(root, spec, why=f"its version-1 {LEGACY_MANIFEST} must be migrated "
                          f"to {MANIFEST}"):
            return migrate_manifest(final, fsync=fsync)
    except DatasetError as exc:
        reason = exc
    except OSError as exc:
        if exc.errno not in READ_ONLY_ERRNOS:
            raise
        reason = exc
    log.warning("%s: left as a version-1 dataset (its %s, on which readers other than diffml "
                "fail, is not migrated to %s): %s", final, LEGACY_MANIFEST, MANIFEST, reason)
    return False


def _names_hash(path: Path, content_hash: str) -> bool:
    """Whether the file ``path`` is a JSON object whose ``hash`` is ``content_hash`` (a
    manifest of this dataset, perhaps damaged otherwise)."""
    if not path.is_file() or path.is_symlink() or path.stat().st_size > 2**24:
        return False
    try:
        text = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(text, dict) and text.get("hash") == content_hash


def is_part_file(name: str) -> bool:
    """Whether ``name`` is a part file name (``part-NNNNN.parquet``)."""
    return PART_PATTERN.match(name) is not None
