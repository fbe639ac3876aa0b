"""Chunked, resumable, optionally distributed generation of a dataset.

``generate(spec)`` splits the path range ``[0, n_paths)`` into chunks of ``chunk_paths`` rows,
simulates each chunk with ``first_path`` (so the rows are the same, bit for bit, for any chunk
size or worker count; CPU and GPU numbers differ in the last bits and hash apart, see
``DatasetSpec.identity``), and writes each chunk as its own part in the hidden work
directory; the manifest is written last and the directory renamed into place (see
``data.writer``). With an executor (a Dask client or a ``concurrent.futures`` pool) the chunks
run as tasks: each worker simulates its chunk, writes its part into the shared work directory
and returns only the part's description, so the driver never holds the data. Memory per task
is bounded by the chunk size.

Resuming: a part left by an interrupted run is reused when it passes every read check (it
decodes with valid page CRCs, the right metadata, path ids and finite values) and, where a
sidecar was written after it, its SHA-256 matches the sidecar; anything else is regenerated.

Before any of this, a complete dataset that verifies is returned without taking the lock (so a
read-only store serves it); a version-1 one (``manifest.json``) is first migrated to
``_manifest.json`` under the lock (``data.writer.migrate_in_place``). Under the lock, a file
where the dataset directory should be is moved aside and strays in the dataset directory are
quarantined (``data.layout``).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DatasetError
from .files import atomic_write_text
from .hashing import file_sha256
from .layout import dataset_root, displace_non_directory, quarantine, stray_entries
from .manifest import PartInfo, find_manifest, read_manifest
from .reader import Dataset, footer_backend, open_dataset, read_part
from .schema import MAX_PARTS, METADATA_KEY, PART_PATTERN, part_name
from .spec import DatasetSpec
from .writer import (
    dataset_lock,
    finalize,
    migrate_in_place,
    sidecar_path,
    work_dir,
    write_part,
)

log = logging.getLogger(__name__)
PLAN = ".plan.json"


@dataclass(frozen=True)
class Progress:
    """One progress event, reported after each part is written or reused.

    Attributes:
        parts_done, parts_total: parts finished so far / in all.
        rows_done, rows_total: rows finished so far / in all.
        part: the part just finished.
        reused: True when the part came from an interrupted run.
        elapsed: seconds since ``generate`` started.
    """

    parts_done: int
    parts_total: int
    rows_done: int
    rows_total: int
    part: PartInfo
    reused: bool
    elapsed: float


ProgressCallback = Callable[[Progress], None]


def plan_chunks(n_paths: int, chunk_paths: int) -> list[tuple[int, int, int]]:
    """``[(index, first_path, rows), ...]`` covering ``[0, n_paths)`` in chunks (at most
    ``MAX_PARTS`` of them: part file names have five digits)."""
    for field, value in (("n_paths", n_paths), ("chunk_paths", chunk_paths)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"The '{field}' argument of plan_chunks must be an int. Got "
                            f"{value!r} instead.")
    if n_paths < 1 or chunk_paths < 1:
        raise ValueError(f"n_paths and chunk_paths must be >= 1. Got {n_paths}, {chunk_paths}.")
    if n_paths > MAX_PARTS * chunk_paths:
        raise ValueError(f"The 'n_paths' argument of plan_chunks must be at most {MAX_PARTS} "
                         f"parts of chunk_paths = {chunk_paths} rows ({MAX_PARTS * chunk_paths})."
                         f" Got {n_paths} instead.")
    return [(i, lo, min(chunk_paths, n_paths - lo))
            for i, lo in enumerate(range(0, n_paths, chunk_paths))]


def simulate_chunk(spec: DatasetSpec, index: int, first_path: int, rows: int, n_parts: int,
                   directory: str, fsync: bool = True) -> dict:
    """Simulate rows ``[first_path, first_path + rows)`` and write them as part ``index``.

    Runs in the driver or in a Dask worker; returns the part's ``PartInfo`` as a dict.
    """
    import simulators

    t0 = time.perf_counter()
    s = simulators.simulate(spec.model, spec.product, spec.sampler, n_paths=rows, seed=spec.seed,
                            first_path=first_path, antithetic=spec.antithetic, xva=spec.xva,
                            backend=spec.backend, dtype=spec.precision)
    if hasattr(s, "to_numpy"):
        s = s.to_numpy()
    info = write_part(Path(directory), spec, index, first_path, s.x, s.y, s.dydx,
                      n_parts=n_parts, backend=s.backend, fsync=fsync,
                      seconds=time.perf_counter() - t0)
    return info.to_dict()


def _discard(path: Path) -> None:
    for p in (path, sidecar_path(path)):
        if p.exists():
            p.unlink()


def _reusable(tmp: Path, spec: DatasetSpec, index: int, first_path: int,
              rows: int) -> PartInfo | None:
    """The PartInfo of a verified part left in the work directory, or None (part removed)."""
    path = tmp / part_name(index)
    if not path.is_file():
        _discard(path)
        return None
    side = sidecar_path(path)
    try:
        if side.is_file():
            info = PartInfo.from_dict(json.loads(side.read_text()))
            if (info.index, info.first_path, info.rows) == (index, first_path, rows):
                # the reader's checks: a part with a matching checksum may still hold NaN
                read_part(path, info, spec.hash, list(spec.inputs), spec.precision, verify=True)
                _check_made_on(path, info.backend, spec)
                return PartInfo(**{**info.to_dict(), "seconds": 0.0})
        else:
            info = PartInfo(index=index, file=path.name, first_path=first_path, rows=rows,
                            bytes=path.stat().st_size, sha256="", backend=footer_backend(path))
            read_part(path, info, spec.hash, list(spec.inputs), spec.precision, verify=False)
            _check_made_on(path, info.backend, spec)
            info = PartInfo(**{**info.to_dict(), "sha256": file_sha256(path)})
            atomic_write_text(side, json.dumps(info.to_dict()), fsync=False)
            return info
    except (DatasetError, OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        log.warning("discarding %s from an interrupted run: %s", path, type(exc).__name__
                    if isinstance(exc, RecursionError) else exc)
    _discard(path)
    return None


def _check_made_on(where: Path, backend: Any, spec: DatasetSpec) -> None:
    """DatasetError unless ``where`` (a part, or a whole dataset) was made on the backend whose
    numbers ``spec`` hashes. Before the two hashed apart, GPU numbers had a CPU spec's hash:
    such a dataset or part is regenerated, not served or reused."""
    if backend != spec.numbers_backend:
        raise DatasetError(f"{where}: made on backend {backend!r}, the spec asks for "
                           f"{spec.numbers_backend} numbers (their last bits differ)",
                           str(where))


def _check_complete(final: Path, verify: bool, spec: DatasetSpec | None = None) -> Dataset:
    """Open a finished dataset and (``verify``) read every part with the reader's checks
    (SHA-256, page CRCs, path ids, finite values), so that whatever is returned can be read;
    DatasetError if anything is wrong. Without ``verify``, the open-time checks only. With
    ``spec``, also DatasetError when the dataset was made (wholly or in part) on another
    backend than the one whose numbers ``spec`` hashes: a GPU dataset written before the two
    hashed apart carries a CPU spec's hash."""
    ds = open_dataset(final)
    if spec is not None:
        _check_made_on(final, ds.manifest.get("backend"), spec)
    return ds.verify() if verify else ds


def _quarantine_strays(final: Path, spec: DatasetSpec) -> None:
    """Move the strays of the dataset directory ``final`` into its quarantine."""
    try:
        manifest = read_manifest(final)
        listed = {p["file"] for p in manifest["parts"]} if manifest["hash"] == spec.hash else None
    except DatasetError:
        listed = None  # every part-NNNNN.parquet may be a part to reuse
    quarantine(final, stray_entries(final, listed))


def _infer_chunk(directory: Path, spec: DatasetSpec) -> int | None:
    """Chunk size used by the parts already in ``directory`` (from a manifest or part 0)."""
    man = find_manifest(directory)
    try:
        if man is not None:
            m = json.loads(man.read_text())
            if m.get("hash") == spec.hash and isinstance(m.get("chunk_paths"), int):
                return m["chunk_paths"]
        p0 = directory / part_name(0)
        if p0.is_file():
            import pyarrow.parquet as pq

            meta = json.loads(pq.read_schema(p0).metadata[METADATA_KEY])
            if meta.get("hash") == spec.hash:
                part = meta["part"]
                return spec.n_paths if part["n_parts"] == 1 else int(part["rows"])
    except Exception as exc:  # noqa: BLE001 - any unreadable leftover just means "unknown"
        log.info("cannot infer the chunk size of %s: %s", directory, exc)
    return None


def _adopt_damaged(final: Path, tmp: Path, spec: DatasetSpec) -> None:
    """Move a damaged dataset directory to the work directory so its good parts are reused.

    Checksums of a manifest that is itself valid are kept as sidecars, so parts are checked
    against them.
    """
    from .manifest import read_manifest

    try:
        manifest = read_manifest(final)
        if manifest["hash"] != spec.hash:
            manifest = None  # a foreign manifest: its checksums are not ours
    except DatasetError:
        manifest = None
    if tmp.exists():
        shutil.rmtree(tmp)
    os.rename(final, tmp)
    if manifest is not None:
        for p in manifest["parts"]:
            side = sidecar_path(tmp / p["file"])
            if (tmp / p["file"]).is_file():
                atomic_write_text(side, json.dumps(p), fsync=False)


def _usable_chunk(chunk: object, spec: DatasetSpec) -> bool:
    """Whether ``chunk`` (read back from a work directory) is a chunk size ``spec`` accepts:
    an int (not a bool) within ``DatasetSpec``'s bounds, in at most ``MAX_PARTS`` parts."""
    if not isinstance(chunk, int) or isinstance(chunk, bool):
        return False
    try:
        spec.replace(chunk_paths=chunk)
    except ValueError:
        return False
    return spec.n_paths <= MAX_PARTS * chunk


def _prepare_work_dir(tmp: Path, spec: DatasetSpec, chunk_paths: int) -> int:
    """Create or adopt the work directory; returns the chunk size to use."""
    plan_file = tmp / PLAN
    if tmp.is_dir():
        try:
            plan = json.loads(plan_file.read_text())
            if plan.get("hash") != spec.hash:
                raise ValueError("foreign work directory")
            existing = plan["chunk_paths"]
            if not _usable_chunk(existing, spec):
                raise ValueError("chunk size out of range")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            existing = _infer_chunk(tmp, spec)
            if not _usable_chunk(existing, spec):
                existing = None
        if existing is not None and existing != chunk_paths:
            log.info("resuming %s with its chunk size %d (requested %d) to reuse its parts",
                     tmp, existing, chunk_paths)
            chunk_paths = existing
    else:
        tmp.mkdir(parents=True)
    atomic_write_text(plan_file, json.dumps({"hash": spec.hash, "chunk_paths": chunk_paths,
                                             "n_paths": spec.n_paths}), fsync=False)
    return chunk_paths


def generate(spec: DatasetSpec, n_paths: int | None = None, chunk_paths: int | None = None,
             client: Any = None, root: str | os.PathLike = "datasets", *,
             progress: ProgressCallback | None = None, verify: bool = True,
             fsync: bool = True) -> Path:
    """Make sure the dataset of ``spec`` exists under ``root``; returns its directory.

    Args:
        spec: what to generate.
        n_paths: overrides ``spec.n_paths`` (changes the hash).
        chunk_paths: rows per part and task (default ``spec.chunk_paths``); not in the hash.
            Resuming an interrupted run keeps that run's chunk size so its parts are reused.
        client: where the chunks run: a ``concurrent.futures.Executor`` (e.g. a
            ``ProcessPoolExecutor``) or a ``dask.distributed.Client``; ``None`` runs them one
            after another in this process. Workers must see ``root`` at the same path (local or
            shared file system).
        root: directory holding the datasets.
        progress: called with a ``Progress`` after each part.
        verify: read every part of an existing dataset with the reader's checks (SHA-256,
            decoding, path ids, finite values) before returning it; False: the open-time
            checks only.
        fsync: flush files and directories to disk.

    If the dataset exists and verifies, it is returned without taking the lock and nothing is
    simulated; a version-1 dataset (``manifest.json``) is migrated to ``_manifest.json`` first,
    under the lock (left as it is, with a warning, on a read-only store). Otherwise, under the
    lock: anything but a directory at the dataset's path is moved aside
    (``<name>.displaced-<UTC stamp>``), strays in the dataset directory are moved into its
    ``_quarantine/``, and a damaged dataset (manifest missing or invalid, part missing,
    truncated, corrupt, foreign, holding NaN/Inf or wrong path ids) is repaired: verified parts
    are kept and the others regenerated. An interrupted run is resumed the same way.

    Raises:
        DatasetError: the dataset must be written but the store is read-only; ``root`` is a
            file or cannot be created.
        TypeError: ``spec`` is not a DatasetSpec, ``root`` is not a path, ``progress`` is
            not callable or ``client`` has no ``submit``.
    """
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"The 'spec' argument of generate must be a DatasetSpec. Got "
                        f"{type(spec).__name__} instead.")
    if progress is not None and not callable(progress):
        raise TypeError(f"The 'progress' argument of generate must be callable (called with a "
                        f"Progress after each part) or None. Got {progress!r} instead.")
    if client is not None and not callable(getattr(client, "submit", None)):
        raise TypeError(f"The 'client' argument of generate must be a concurrent.futures "
                        f"Executor, a dask.distributed Client or None. Got {client!r} instead.")
    changes = {k: v for k, v in (("n_paths", n_paths), ("chunk_paths", chunk_paths))
               if v is not None}
    if spec.backend == "auto":  # once, here: every worker then makes the hash's numbers
        changes["backend"] = spec.numbers_backend
    if changes:  # together: a new n_paths may need the new chunk_paths
        spec = spec.replace(**changes)
    root = dataset_root(root, "generate").absolute()
    final = root / spec.dirname
    tmp = work_dir(root, spec)
    t0 = time.perf_counter()
    why = ("a file stands where its directory belongs" if final.exists() or final.is_symlink()
           else "it does not exist yet")
    if final.is_dir():  # complete and verified: served without the (write) lock
        try:
            _check_complete(final, verify, spec)
        except (DatasetError, OSError) as exc:
            why = f"it needs repair ({exc})"
        else:
            migrate_in_place(root, spec, final, fsync=fsync)  # a version-1 dataset only
            return final
    with dataset_lock(root, spec, why=why):
        displace_non_directory(final)
        displace_non_directory(tmp)
        if final.exists():
            _quarantine_strays(final, spec)
            try:
                _check_complete(final, verify, spec)
            except DatasetError as exc:
                log.warning("dataset %s is damaged (%s); repairing it", final, exc)
                _adopt_damaged(final, tmp, spec)
            else:
                migrate_in_place(root, spec, final, fsync=fsync, locked=True)
                return final
        chunk = _prepare_work_dir(tmp, spec, spec.chunk_paths)
        spec = spec.replace(chunk_paths=chunk)
        plan = plan_chunks(spec.n_paths, chunk)
        n_parts = len(plan)
        done: dict[int, PartInfo] = {}
        rows_done = 0

        def report(info: PartInfo, reused: bool) -> None:
            nonlocal rows_done
            done[info.index] = info
            rows_done += info.rows
            if progress is not None:
                progress(Progress(len(done), n_parts, rows_done, spec.n_paths, info, reused,
                                  time.perf_counter() - t0))

        for name in os.listdir(tmp):  # parts beyond the plan (another chunk size) go
            if PART_PATTERN.match(name) and name not in {part_name(i) for i, _, _ in plan}:
                _discard(tmp / name)
        todo = []
        for index, first, rows in plan:
            info = _reusable(tmp, spec, index, first, rows)
            if info is None:
                todo.append((index, first, rows))
            else:
                report(info, True)
        reused = len(done)
        workers = 1
        if todo and client is None:
            for index, first, rows in todo:
                report(PartInfo.from_dict(
                    simulate_chunk(spec, index, first, rows, n_parts, str(tmp), fsync)), False)
        elif todo:
            workers = _run_parallel(client, spec, todo, n_parts, tmp, fsync, report)
        parts = [done[i] for i, _, _ in plan]
        seconds = time.perf_counter() - t0
        generation = {"seconds": round(seconds, 3), "parts_written": len(todo),
                      "parts_reused": reused, "workers": workers, "chunk_paths": chunk,
                      "simulate_write_seconds": round(sum(p.seconds for p in parts), 3)}
        finalize(tmp, final, spec, parts, generation=generation, fsync=fsync)
        log.info("generated %s: %d rows, %d parts (%d reused) in %.1f s", final, spec.n_paths,
                 n_parts, reused, seconds)
        return final


def _run_parallel(executor: Any, spec: DatasetSpec, todo: list[tuple[int, int, int]],
                  n_parts: int, tmp: Path, fsync: bool,
                  report: Callable[[PartInfo, bool], None]) -> int:
    """Run the chunks on ``executor``; returns the number of workers.

    ``executor`` is a ``concurrent.futures.Executor`` or an object with ``get_executor()``
    returning one (a ``dask.distributed.Client``, whose tasks then get readable keys); no
    orchestration library is imported here."""
    info = getattr(executor, "scheduler_info", None)
    if info is not None:
        workers = max(1, len(info().get("workers", {})))
    else:
        workers = int(getattr(executor, "_max_workers", 1) or 1)
    dask_client = hasattr(executor, "get_executor")
    pool = executor.get_executor(pure=False) if dask_client else executor
    stamp = f"{os.getpid()}-{time.time_ns()}"
    futures = [pool.submit(simulate_chunk, spec, index, first, rows, n_parts, str(tmp), fsync,
                           **({"key": f"diffml-part-{spec.hash12}-{index:05d}-{stamp}"}
                              if dask_client else {}))
               for index, first, rows in todo]
    try:
        for future in concurrent.futures.as_completed(futures):
            report(PartInfo.from_dict(future.result()), False)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return workers


def find_or_create(spec: DatasetSpec, root: str | os.PathLike = "datasets", *,
                   client: Any = None, progress: ProgressCallback | None = None,
                   chunk_paths: int | None = None, verify: bool = True) -> Dataset:
    """The dataset of ``spec`` under ``root``, generated (or repaired) only if needed.

    Same arguments as ``generate``; returns the opened ``Dataset`` (reads verify checksums when
    ``verify`` is true).
    """
    root = dataset_root(root, "find_or_create")
    path = generate(spec, chunk_paths=chunk_paths, client=client, root=root, progress=progress,
                    verify=verify)
    return open_dataset(path, verify=verify)
