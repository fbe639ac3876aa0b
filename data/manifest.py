"""``_manifest.json``: the record of a complete dataset, and the per-part metadata.

A manifest holds the schema version, every parameter of the model, product, sampler and XVA,
the seed, the number of paths, antithetic flag and precision (the *identity*, whose SHA-256 is
``hash``), the input and column names, each part's file name, first path, row count, size and
SHA-256, the backend, the package version and the UTC creation time. It is written last, so a
directory with a valid manifest is complete.

File name and schema version go together. Version 2 (written now) is ``_manifest.json``:
Arrow's dataset discovery (pandas, ``pyarrow.dataset``) skips names starting with ``_`` and a
``*.parquet`` glob (polars, DuckDB) does not match it, so the directory reads as a plain
Parquet dataset. Version 1 was ``manifest.json``, with the same fields; such a dataset is still
read, and ``migrate_manifest`` rewrites it as version 2 in place: ``_manifest.json`` is written
atomically, then ``manifest.json`` removed. A crash in between leaves both, and
``_manifest.json`` (complete by construction) is the one read. The content hash covers the
identity only, so migrating does not change it; the parts are not touched.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import DatasetError
from .files import atomic_write_bytes, fsync_dir
from .hashing import HASH_HEX_DIGITS, IDENTITY_KEYS, content_hash
from .schema import FORMAT, PART_PATTERN, PART_SCHEMA_VERSION, SCHEMA_VERSION, column_names

_SHA256 = re.compile(r"[0-9a-f]{64}")

MANIFEST = "_manifest.json"  # schema version 2 (SCHEMA_VERSION)
LEGACY_MANIFEST = "manifest.json"  # schema version 1, read and migrated
LEGACY_SCHEMA_VERSION = 1
MANIFEST_NAMES = (MANIFEST, LEGACY_MANIFEST)


def package_version() -> str:
    """The installed diffml version (``importlib.metadata``), or "unknown" when the code runs
    from a checkout that was not installed (on ``PYTHONPATH``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("diffml")
    except PackageNotFoundError:  # running from a checkout that was not installed
        return "unknown"


def utc_now() -> str:
    """Current UTC time, ISO 8601 with a trailing Z, to the second."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PartInfo:
    """One Parquet part of a dataset.

    Attributes:
        index: part number (file ``part-<index:05d>.parquet``).
        file: file name, relative to the dataset directory.
        first_path: path id of the first row.
        rows: number of rows.
        bytes: file size.
        sha256: SHA-256 of the file's bytes.
        backend: backend that simulated the part ("cpu" or "gpu").
        seconds: time spent simulating and writing it (0 when reused).
    """

    index: int
    file: str
    first_path: int
    rows: int
    bytes: int
    sha256: str
    backend: str = "cpu"
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PartInfo:
        return cls(**{k: d[k] for k in ("index", "file", "first_path", "rows", "bytes",
                                        "sha256")},
                   backend=d.get("backend", "cpu"), seconds=float(d.get("seconds", 0.0)))


def part_metadata(spec_dict: dict, inputs: list[str], index: int, first_path: int, rows: int,
                  n_parts: int, backend: str) -> dict:
    """The JSON stored in each part's Parquet key-value metadata (key ``diffml``).

    It repeats the manifest's identity (every parameter), the content hash, the schema and the
    part's own position, so a single part file describes itself. It holds no time stamp, so the
    same part written twice has the same bytes. Its ``schema_version`` is the part layout's
    (``PART_SCHEMA_VERSION``), unchanged by version 2 of the manifest, so parts written before
    and after that change are byte-identical.
    """
    identity = {k: spec_dict[k] for k in IDENTITY_KEYS}
    digest = content_hash(identity)
    return {
        "format": FORMAT,
        "schema_version": PART_SCHEMA_VERSION,
        "name": spec_dict["name"],
        "hash": digest,
        **identity,
        "inputs": list(inputs),
        "columns": column_names(inputs),
        "part": {"index": index, "first_path": first_path, "rows": rows, "n_parts": n_parts},
        "backend": backend,
        "package_version": package_version(),
    }


def build_manifest(spec_dict: dict, inputs: list[str], parts: list[PartInfo],
                   generation: dict | None = None) -> dict:
    """The manifest of a complete dataset from its spec dict and its parts (sorted by index)."""
    identity = {k: spec_dict[k] for k in IDENTITY_KEYS}
    digest = content_hash(identity)
    parts = sorted(parts, key=lambda p: p.index)
    backends = sorted({p.backend for p in parts})
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "name": spec_dict["name"],
        "hash": digest,
        "hash12": digest[:HASH_HEX_DIGITS],
        **identity,
        "inputs": list(inputs),
        "columns": column_names(inputs),
        "backend": backends[0] if len(backends) == 1 else backends,
        "chunk_paths": spec_dict.get("chunk_paths"),
        "parts": [p.to_dict() for p in parts],
        "total_bytes": sum(p.bytes for p in parts),
        "package_version": package_version(),
        "created_utc": utc_now(),
        "generation": generation or {},
    }


def write_manifest(directory: Path, manifest: dict, *, fsync: bool = True) -> Path:
    """Write ``_manifest.json`` atomically into ``directory``; returns its path."""
    path = Path(directory) / MANIFEST
    text = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)
    return path


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format": str, "schema_version": int, "name": str, "hash": str, "model": dict,
    "product": dict, "sampler": dict, "xva": (dict, type(None)), "seed": int, "n_paths": int,
    "antithetic": bool, "precision": str, "inputs": list, "columns": list, "parts": list,
    "package_version": str, "created_utc": str,
}


def check_manifest(manifest: Any, where: str, *, schema_version: int = SCHEMA_VERSION) -> dict:
    """Validate a parsed manifest; raise DatasetError naming the file and field otherwise.

    Checks the format and schema version (``schema_version``: the one its file name implies),
    the presence and type of every field, that ``hash`` is the SHA-256 of the identity fields,
    the column names, and that the parts are contiguous (``first_path`` of each part follows the
    previous one) and add up to ``n_paths``.
    """
    if not isinstance(manifest, dict):
        raise DatasetError(f"{where}: a manifest must be a JSON object.", where)
    for key, types in _REQUIRED.items():
        if key not in manifest:
            raise DatasetError(f"{where}: field '{key}' is missing.", where)
        if not isinstance(manifest[key], types) or (
            types is int and isinstance(manifest[key], bool)
        ):
            raise DatasetError(f"{where}: field '{key}' has the wrong type "
                               f"({type(manifest[key]).__name__}).", where)
    if manifest["format"] != FORMAT:
        raise DatasetError(f"{where}: format {manifest['format']!r} is not {FORMAT!r}.", where)
    if manifest["schema_version"] != schema_version:
        raise DatasetError(f"{where}: schema version {manifest['schema_version']} is not "
                           f"supported in {Path(where).name} (this diffml reads version "
                           f"{SCHEMA_VERSION} in {MANIFEST} and version {LEGACY_SCHEMA_VERSION} "
                           f"in {LEGACY_MANIFEST}); regenerate the dataset.", where)
    if "numbers" not in manifest:
        raise DatasetError(f"{where}: written by an older diffml without a record of its "
                           "random-number algorithms; regenerate the dataset.", where)
    identity = {k: manifest[k] for k in IDENTITY_KEYS}
    try:
        digest = content_hash(identity)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{where}: cannot hash the identity fields: {exc}", where) from exc
    if digest != manifest["hash"]:
        raise DatasetError(f"{where}: field 'hash' ({manifest['hash'][:16]}...) is not the "
                           f"SHA-256 of the parameters recorded in it ({digest[:16]}...); the "
                           "manifest was edited or belongs to another dataset.", where)
    try:
        expected_columns = column_names(manifest["inputs"])
    except ValueError as exc:
        raise DatasetError(f"{where}: field 'inputs': {exc}", where) from exc
    if manifest["columns"] != expected_columns:
        raise DatasetError(f"{where}: field 'columns' {manifest['columns']} does not match the "
                           f"inputs (expected {expected_columns}).", where)
    if not manifest["parts"]:
        raise DatasetError(f"{where}: field 'parts' is empty.", where)
    next_path = 0
    for i, part in enumerate(manifest["parts"]):
        try:
            info = PartInfo.from_dict(part)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DatasetError(f"{where}: parts[{i}] is malformed: {exc!r}.", where) from exc
        for field in ("index", "first_path", "rows", "bytes"):
            value = getattr(info, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DatasetError(f"{where}: parts[{i}] field '{field}' must be an integer "
                                   f">= 0; got {value!r}.", where)
        if not (isinstance(info.sha256, str) and _SHA256.fullmatch(info.sha256)):
            raise DatasetError(f"{where}: parts[{i}] field 'sha256' must be 64 hex digits; got "
                               f"{str(info.sha256)[:80]!r}.", where)
        if not isinstance(info.backend, str) or not math.isfinite(info.seconds) \
                or info.seconds < 0:
            raise DatasetError(f"{where}: parts[{i}] field 'backend' must be text and "
                               f"'seconds' a finite number >= 0; got {info.backend!r}, "
                               f"{info.seconds!r}.", where)
        m = PART_PATTERN.match(str(info.file))
        if m is None or int(m.group(1)) != info.index or info.index != i:
            raise DatasetError(f"{where}: parts[{i}] names file {info.file!r}; expected "
                               f"part-{i:05d}.parquet.", where)
        if info.first_path != next_path or info.rows < 1:
            raise DatasetError(f"{where}: parts[{i}] ({info.file}) covers paths "
                               f"[{info.first_path}, {info.first_path + info.rows}); expected "
                               f"a non-empty range starting at {next_path}.", where)
        next_path += info.rows
    if next_path != manifest["n_paths"]:
        raise DatasetError(f"{where}: the parts hold {next_path} rows but 'n_paths' is "
                           f"{manifest['n_paths']}.", where)
    return manifest


def find_manifest(directory: str | os.PathLike) -> Path | None:
    """The manifest file of the dataset directory ``directory``: ``_manifest.json`` if present,
    else the version-1 ``manifest.json`` if present, else None."""
    for name in MANIFEST_NAMES:
        path = Path(directory) / name
        if path.is_file():
            return path
    return None


def _load(path: Path, schema_version: int, text: str | None = None) -> dict:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8") if text is None else text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot parse the manifest ({exc}).", path) from exc
    except RecursionError:  # e.g. '[' repeated: deeper than Python's JSON parser goes
        raise DatasetError(f"{path}: cannot parse the manifest (nested too deeply).",
                           path) from None
    return check_manifest(manifest, str(path), schema_version=schema_version)


def read_manifest(directory: str | os.PathLike) -> dict:
    """Read and validate the manifest of ``directory``: ``_manifest.json`` (schema version 2),
    or else a version-1 ``manifest.json``, returned as it is on disk (``schema_version`` 1);
    DatasetError if absent or invalid.

    A migration running meanwhile is no problem: when ``manifest.json`` disappears between the
    look for ``_manifest.json`` and its own reading, ``_manifest.json`` is there and is read.
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"The 'directory' argument of read_manifest must be a path (str or "
                        f"os.PathLike). Got {directory!r} instead.")
    directory = Path(directory)
    if not directory.is_dir():
        if directory.exists():
            raise DatasetError(f"{directory}: not a directory (a file where the dataset "
                               "directory should be); data.generate moves it aside.", directory)
        raise DatasetError(f"{directory}: no such dataset directory.", directory)
    for name in (MANIFEST, LEGACY_MANIFEST, MANIFEST):
        path = directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{path}: cannot parse the manifest ({exc}).", path) from exc
        version = SCHEMA_VERSION if name == MANIFEST else LEGACY_SCHEMA_VERSION
        return _load(path, version, text)
    path = directory / MANIFEST
    raise DatasetError(f"{path}: manifest missing; the dataset is incomplete or damaged. "
                       "Regenerate it with data.find_or_create(spec) (verified parts are "
                       "reused).", path)


def own_legacy_manifest(path: Path) -> bool:
    """Whether ``path`` is a dataset's own version-1 ``manifest.json``: a file of that name,
    either the dataset's only manifest, or one with the hash of its ``_manifest.json`` (a
    migration interrupted before its removal). Anything else of that name (a user's notes, a
    folder) is a stray."""
    path = Path(path)
    if path.name != LEGACY_MANIFEST or not path.is_file() or path.is_symlink():
        return False
    current = path.with_name(MANIFEST)
    if not (current.exists() or current.is_symlink()):
        return True
    try:
        return _load(path, LEGACY_SCHEMA_VERSION)["hash"] == _load(current, SCHEMA_VERSION)["hash"]
    except DatasetError:
        return False


def migrate_manifest(directory: str | os.PathLike, *, fsync: bool = True) -> bool:
    """Rewrite a version-1 dataset's ``manifest.json`` as ``_manifest.json`` (version 2).

    The new manifest holds the same fields (hash, parts, checksums, creation time ...) with
    ``schema_version`` 2 and a ``migrated`` record (``from_schema_version``, ``utc``,
    ``package_version``). It is written atomically first, then ``manifest.json`` is removed
    (and the directory fsynced): a crash in between leaves both files and a readable dataset,
    and the next call only removes ``manifest.json``. The parts are not touched. The caller
    holds the dataset's lock.

    Returns:
        True when something was changed, False when ``directory`` holds no ``manifest.json``
        of its own (:func:`own_legacy_manifest`; another file of that name is left for the
        stray checks).

    Raises:
        DatasetError: a manifest is invalid (nothing is changed then).
    """
    directory = Path(directory)
    legacy = directory / LEGACY_MANIFEST
    if not legacy.is_file():
        return False
    current = directory / MANIFEST
    if current.is_file():
        _load(current, SCHEMA_VERSION)  # an interrupted migration: only the removal is left
        if not own_legacy_manifest(legacy):
            return False
    else:
        old = _load(legacy, LEGACY_SCHEMA_VERSION)
        new = {**old, "schema_version": SCHEMA_VERSION,
               "migrated": {"from_schema_version": LEGACY_SCHEMA_VERSION, "utc": utc_now(),
                            "package_version": package_version()}}
        check_manifest(new, str(current))
        write_manifest(directory, new, fsync=fsync)
    legacy.unlink()
    for leftover in directory.glob(f".{MANIFEST}.*.tmp"):  # from a migration killed mid-write
        leftover.unlink()
    if fsync:
        fsync_dir(directory)
    return True
