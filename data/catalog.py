"""Listing datasets under a root and removing those no configuration references."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import DatasetError
from .layout import QUARANTINE, as_list, dataset_root
from .manifest import LEGACY_MANIFEST, MANIFEST, read_manifest
from .reader import check_structure
from .schema import FORMAT, PART_PATTERN

log = logging.getLogger(__name__)
_DIRNAME = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)-(?P<hash>[0-9a-f]{12})$")
_HIDDEN = re.compile(r"^\.(?P<dirname>[A-Za-z0-9][A-Za-z0-9_.-]*-[0-9a-f]{12})\."
                     r"(?P<kind>tmp|lock)$")


@dataclass(frozen=True)
class DatasetInfo:
    """One entry under a datasets root.

    Attributes:
        path: the directory (or lock file).
        name, hash12: from the directory name ``<name>-<hash12>``.
        status: "complete" (manifest and parts pass the structural checks), "damaged" (a
            dataset directory that fails them; see ``error``), "partial" (the hidden work
            directory of an interrupted or running generation) or "lock".
        n_paths, created_utc, hash, model, product: from the manifest when complete
            (model and product as their ``to_dict()``).
        size_bytes: total size of the files.
        error: why a dataset is damaged.
    """

    path: Path
    name: str
    hash12: str
    status: str
    size_bytes: int
    n_paths: int | None = None
    created_utc: str | None = None
    hash: str | None = None
    error: str | None = None
    model: dict | None = None
    product: dict | None = None

    @property
    def dirname(self) -> str:
        return f"{self.name}-{self.hash12}"

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def to_dict(self) -> dict:
        """JSON-ready dict of every field plus ``dirname`` and ``complete``."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(path=str(self.path), dirname=self.dirname, complete=self.complete)
        return d


def _size(path: Path) -> int:
    """Bytes of the files under ``path``; a file that disappears meanwhile (a generation
    renaming its temporary files, publishing or removing its work directory) counts 0."""
    def size(f: Path) -> int:
        try:
            return f.stat().st_size if f.is_file() else 0
        except FileNotFoundError:
            return 0
    if path.is_file():
        return size(path)
    try:
        return sum(size(f) for f in path.rglob("*"))
    except FileNotFoundError:
        return 0


def _holds_dataset_files(directory: Path) -> bool:
    """Ours, perhaps damaged: a ``_manifest.json``, a part file named as ours
    (``part-NNNNN.parquet``), a ``_quarantine`` folder, or a legacy ``manifest.json`` of our
    format inside. A folder named like a dataset without any of them (a user's
    ``backup-202611271530`` or ``export-202611271530/part-0.parquet``) is not ours."""
    try:
        for e in directory.iterdir():
            if e.name in (MANIFEST, QUARANTINE) or PART_PATTERN.match(e.name):
                return True
            if e.name == LEGACY_MANIFEST:
                try:
                    legacy = json.loads(e.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if isinstance(legacy, dict) and legacy.get("format") == FORMAT:
                    return True
        return False
    except OSError:
        return True  # unreadable: reported as damaged rather than silently skipped


def list_datasets(root: str | os.PathLike = "datasets", *,
                  include_hidden: bool = False) -> list[DatasetInfo]:
    """Datasets under ``root``, sorted by directory name (structural checks only, no
    checksums). With ``include_hidden``, work directories ("partial") and lock files too.
    Entries that do not look like datasets are ignored (a directory named ``<name>-<hash12>``
    counts only if it holds a manifest, a part file or a quarantine folder); a root that does
    not exist holds none.

    Raises:
        DatasetError: ``root`` exists but is not a directory (e.g. a file).
        TypeError: ``root`` is not a path.
    """
    root = dataset_root(root, "list_datasets")
    if not root.is_dir():
        return []
    out = []
    for entry in sorted(root.iterdir()):
        m = _DIRNAME.fullmatch(entry.name)
        if m and entry.is_dir() and _holds_dataset_files(entry):
            try:
                manifest = read_manifest(entry)
                check_structure(entry, manifest)
                out.append(DatasetInfo(entry, m["name"], m["hash"], "complete", _size(entry),
                                       manifest["n_paths"], manifest["created_utc"],
                                       manifest["hash"], model=manifest["model"],
                                       product=manifest["product"]))
            except DatasetError as exc:
                out.append(DatasetInfo(entry, m["name"], m["hash"], "damaged", _size(entry),
                                       error=str(exc)))
            continue
        h = _HIDDEN.match(entry.name)
        if h and include_hidden:
            dm = _DIRNAME.fullmatch(h["dirname"])
            status = "partial" if h["kind"] == "tmp" else "lock"
            out.append(DatasetInfo(entry, dm["name"], dm["hash"], status, _size(entry)))
    return out


def _references(keep: Any) -> list[Any]:
    """``keep`` as a list, each entry a string or an object with ``dirname`` (a path, as a
    string or path-like, stands for its last component: ``datasets/bs-<hash12>/`` keeps
    ``bs-<hash12>``); TypeError otherwise, so that an entry that could never match does not let
    ``gc`` remove what it was meant to keep."""
    entries = as_list(keep, "gc", "keep", "a collection of references (DatasetSpec objects, "
                      "directory names, hashes or names)")
    out = []
    for i, k in enumerate(entries):
        if isinstance(k, (str, os.PathLike)) and not hasattr(k, "dirname"):
            k = Path(k).name  # names and hashes hold no separator: unchanged
        if not isinstance(k, str) and not hasattr(k, "dirname"):
            raise TypeError(f"The 'keep[{i}]' entry of gc must be a DatasetSpec (or anything "
                            "with a dirname), a directory name, a hash or a name. Got "
                            f"{type(k).__name__} {k!r} instead.")
        if getattr(k, "backend", None) == "auto" and hasattr(k, "replace"):
            # "auto" hashes as the backend it resolves to where it runs: a machine without a
            # GPU must not remove what the same spec made on one, nor the reverse
            out += [k.replace(backend="cpu"), k.replace(backend="gpu")]
        else:
            out.append(k)
    return out


def _referenced(info: DatasetInfo, keep: list[Any]) -> bool:
    for k in keep:
        if hasattr(k, "dirname"):
            if k.dirname == info.dirname:
                return True
            continue
        k = str(k)
        if k in (info.dirname, info.name, info.hash12) or (
            len(k) > 12 and info.hash is not None and info.hash.startswith(k)
        ) or (len(k) == 64 and k.startswith(info.hash12)):
            return True
    return False


def _held(root: Path, dirname: str) -> bool:
    """Whether a generation currently holds the lock of ``dirname``."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return False
    lock = root / f".{dirname}.lock"
    try:  # read-only (a read-only store, another user's lock file)
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:  # cannot tell: taken as held, so that nothing is removed under a writer
        return True
    try:  # a shared lock conflicts with the writer's exclusive one and needs no write access
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # (an exclusive one does on NFS)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return True
    finally:
        os.close(fd)


def gc(root: str | os.PathLike, keep: Iterable[Any], *, dry_run: bool = True) -> list[Path]:
    """Remove datasets under ``root`` that nothing in ``keep`` references.

    Args:
        root: the datasets root.
        keep: references to keep: ``DatasetSpec`` objects, directory names
            (``<name>-<hash12>``, or paths ending in one), 12-digit or full hashes, or bare
            names (which keep every dataset of that name). A spec with ``backend="auto"``
            keeps both its CPU and its GPU dataset. Anything else (None, a single string, an
            entry of another type) raises TypeError before anything is removed.
        dry_run: only return what would be removed (default).

    Returns:
        The paths removed (or that would be). Damaged datasets, work directories and lock files
        of unreferenced datasets are included; anything held by a running generation, and
        anything that does not look like a dataset, is left alone. A directory is renamed to a
        hidden name before it is deleted, so an interrupted ``gc`` never leaves a half-deleted
        directory that looks like a dataset. A symbolic link is removed, not what it points to.
    """
    keep = _references(keep)
    root = dataset_root(root, "gc")
    removed = []
    for info in list_datasets(root, include_hidden=True):
        if _referenced(info, keep) or _held(root, info.dirname):
            continue
        removed.append(info.path)
        if dry_run:
            continue
        if info.path.is_symlink():  # the link goes, not what it points to
            info.path.unlink(missing_ok=True)
        elif info.path.is_dir():
            trash = root / f".{info.path.name}.trash-{os.getpid()}"
            os.rename(info.path, trash)
            shutil.rmtree(trash)
        else:
            info.path.unlink(missing_ok=True)
        log.info("gc removed %s", info.path)
    return removed
