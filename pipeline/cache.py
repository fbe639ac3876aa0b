"""Cache entries of the pipeline (trained surrogates, PINNs, backward surrogates): built in a
private folder, sealed with the SHA-256 of every file, published by a rename, and verified
before reuse. An entry that fails its verification (a file changed, missing or added, or no
checksums) is set aside and removed, so that the caller computes it again."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

log = logging.getLogger("diffml.pipeline")

CHECKSUMS = "checksums.json"
"""File of a sealed entry: ``{relative path: sha256}`` of every other file but ``done``."""

DONE = "done"


def _files(entry: Path) -> list[str]:
    """Relative paths of the entry's files, but its own ``checksums.json`` and ``done``."""
    names = (p.relative_to(entry).as_posix() for p in entry.rglob("*") if p.is_file())
    return sorted(n for n in names if n not in (CHECKSUMS, DONE))


def seal(entry: Path) -> None:
    """Write ``checksums.json`` into the finished folder ``entry`` (before it is published)."""
    from data.hashing import file_sha256

    sums = {name: file_sha256(entry / name) for name in _files(entry)}
    (entry / CHECKSUMS).write_text(json.dumps(sums, indent=1, sort_keys=True))


def problem(entry: Path) -> str | None:
    """None when ``entry`` holds exactly the files its ``checksums.json`` lists, each with its
    SHA-256; else what is wrong, in a few words."""
    from data.hashing import file_sha256

    try:
        sums = json.loads((entry / CHECKSUMS).read_text())
    except FileNotFoundError:
        return f"no {CHECKSUMS}"
    except (OSError, ValueError) as exc:
        return f"unreadable {CHECKSUMS} ({exc})"
    if not isinstance(sums, dict):
        return f"unreadable {CHECKSUMS} (not a mapping)"
    files = _files(entry)
    if sorted(sums) != files:
        missing, extra = sorted(set(sums) - set(files)), sorted(set(files) - set(sums))
        return f"missing {missing}" if missing else f"unexpected files {extra}"
    for name in files:
        if file_sha256(entry / name) != sums[name]:
            return f"{name} does not match its checksum"
    return None


def usable(entry: Path, what: str, marker: str = DONE) -> bool:
    """Whether the published entry ``entry`` (with its ``marker`` file) may be reused. An entry
    that fails :func:`problem` is logged, set aside and removed: the caller recomputes it."""
    if not (entry / marker).is_file():
        return False
    why = problem(entry)
    if why is None:
        return True
    log.warning("%s cache %s failed its verification (%s): computing it again", what, entry, why)
    discard(entry)
    return False


def discard(entry: Path) -> None:
    """Remove ``entry``: renamed aside first, so that a concurrent publisher of the same key is
    not disturbed."""
    trash = entry.with_name(f".{entry.name}.stale-{os.getpid()}-{time.time_ns()}")
    try:
        os.rename(entry, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def publish_cache_entry(src: Path, cache: Path, what: str) -> None:
    """Seal the finished cache entry ``src`` (a folder), then publish it at ``cache`` by a
    rename, with a ``done`` marker; an incomplete older entry there (no marker) is removed
    first, and an entry another process published first is kept (logged)."""
    import data

    seal(src)
    (src / DONE).write_text("")
    if cache.exists() and not (cache / DONE).is_file():
        shutil.rmtree(cache, ignore_errors=True)
    if not data.publish_dir(src, cache):
        log.info("%s cache %s was published by another process first; using it", what, cache)
