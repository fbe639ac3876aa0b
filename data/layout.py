"""What a dataset directory may hold, and moving what it may not out of the way.

A complete dataset directory holds ``_manifest.json`` and the parts the manifest lists (a
version-1 dataset holds ``manifest.json`` instead, which is not a stray; see
``data.manifest.own_legacy_manifest``). Names starting with ``.`` or ``_`` (``_manifest.json``
among them) are skipped by Arrow's dataset discovery (``pyarrow.dataset``'s default
``selector_ignore_prefixes``); any other entry is a *stray*: a foreign, stale or misnamed file
that a reader pointed at the directory would read as data. So is a hidden name ending in
``.parquet`` (``.x.parquet``, ``_x.parquet``): DuckDB's and polars' ``*.parquet`` globs read
it. ``open_dataset`` and ``Dataset.verify`` refuse a directory holding strays; ``generate``
moves them into ``<dataset>/_quarantine/``, where no reader looks.

Anything other than a directory where a dataset directory (or its work directory) should be is
*displaced*: renamed to ``<name>.displaced-<UTC stamp>`` next to it, which no dataset function
reads or removes.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from collections.abc import Collection, Iterable
from pathlib import Path

from .errors import DatasetError
from .manifest import own_legacy_manifest
from .schema import PART_PATTERN

log = logging.getLogger(__name__)
QUARANTINE = "_quarantine"
IGNORED_PREFIXES = (".", "_")


def as_path(value: object, owner: str, field: str = "root") -> Path:
    """``value`` as a Path; TypeError naming ``owner`` and ``field`` unless it is a non-empty
    ``str`` or ``os.PathLike`` (of text)."""
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(text, str) or not text:
        raise TypeError(f"The '{field}' argument of {owner} must be a non-empty path (str or "
                        f"os.PathLike). Got {value!r} instead.")
    return Path(text)


def as_list(value: object, owner: str, field: str, what: str) -> list:
    """``value`` (an iterable of ``what``, not one string) as a list; TypeError naming
    ``owner`` and ``field`` otherwise (a single string would iterate over its characters)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"The '{field}' argument of {owner} must be {what}, not a single "
                        f"string. Got {value!r} instead.")
    try:
        return list(value)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"The '{field}' argument of {owner} must be {what}. Got {value!r} "
                        "instead.") from None


def dataset_root(value: object, owner: str) -> Path:
    """The datasets root ``value`` as a Path: a directory, or a path where none exists yet (it
    is created when something is written). DatasetError naming the path when it is a file or
    anything else but a directory; TypeError when it is not a path."""
    root = as_path(value, owner)
    if root.exists() and not root.is_dir():
        what = "a file" if root.is_file() else "not a directory"
        raise DatasetError(f"{root}: {what}, so it cannot be the datasets root (the 'root' "
                           f"argument of {owner} must be a directory or a path to create one "
                           "at).", root)
    return root


def is_ignored(name: str) -> bool:
    """Whether readers skip ``name`` (it starts with ``.`` or ``_``)."""
    return name.startswith(IGNORED_PREFIXES)


def stray_entries(directory: Path, listed: Collection[str] | None) -> list[str]:
    """Names of the strays in ``directory``, sorted.

    Args:
        directory: a dataset (or work) directory.
        listed: the part files of its manifest; ``None`` when the manifest cannot be read, in
            which case every ``part-NNNNN.parquet`` is accepted (it may be a part to reuse).
    """
    out = []
    for name in sorted(os.listdir(directory)):
        if is_ignored(name) and name.endswith(".parquet"):
            out.append(name)  # DuckDB's and polars' *.parquet globs read hidden names too
            continue
        if is_ignored(name) or own_legacy_manifest(Path(directory) / name):
            continue  # the manifest, hidden files and the quarantine
        known = PART_PATTERN.match(name) is not None if listed is None else name in listed
        if known:
            continue
        out.append(name)
    return out


def _free_name(path: Path) -> Path:
    """``path``, or ``path`` with ``-2``, ``-3`` ... appended, whichever does not exist."""
    candidate, k = path, 1
    while candidate.exists() or candidate.is_symlink():
        k += 1
        candidate = path.with_name(f"{path.name}-{k}")
    return candidate


def quarantine(directory: Path, names: Iterable[str]) -> list[Path]:
    """Move the entries ``names`` of ``directory`` into ``directory/_quarantine/``.

    Nothing is deleted: a name already in the quarantine gets a ``-2``, ``-3`` ... suffix.
    Returns the new paths; each move is logged as a warning.
    """
    directory = Path(directory)
    moved = []
    for name in names:
        target_dir = directory / QUARANTINE
        displace_non_directory(target_dir)  # a file of that name is moved aside, not written in
        target_dir.mkdir(exist_ok=True)
        target = _free_name(target_dir / name)
        os.rename(directory / name, target)
        log.warning("%s is not listed in the manifest (a stray file); moved it to %s",
                    directory / name, target)
        moved.append(target)
    return moved


def displace(path: Path) -> Path:
    """Rename ``path`` to ``<name>.displaced-<UTC stamp>`` next to it (logged as a warning);
    returns the new path."""
    path = Path(path)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = _free_name(path.with_name(f"{path.name}.displaced-{stamp}"))
    what = "a symbolic link" if path.is_symlink() else "not a directory"
    os.rename(path, target)
    log.warning("%s is %s, so no dataset is written there; moved it aside to %s", path, what,
                target)
    return target


def displace_non_directory(path: Path) -> Path | None:
    """``displace(path)`` when ``path`` is anything but a real directory (a file, a symbolic
    link to anything: nothing is written through a link, outside the root); returns the new
    path, or None when nothing was moved."""
    path = Path(path)
    if (path.is_dir() and not path.is_symlink()) or not (path.exists() or path.is_symlink()):
        return None
    return displace(path)
