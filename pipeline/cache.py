"""Cache entries of the pipeline (trained surrogates, PINNs, backward surrogates): built in a
private folder, sealed with the SHA-256 of every file, published by a rename, and verified
before reuse. An entry that fails its verification (a file changed, missing or added, or no
checksums) is set aside and removed, so that the caller computes it again."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
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
    from data.files import atomic_write_text
    from data.hashing import file_sha256

    sums = {name: file_sha256(entry / name) for name in _files(entry)}
    atomic_write_text(entry / CHECKSUMS, json.dumps(sums, indent=1, sort_keys=True), fsync=False)


def problem(entry: Path) -> str | None:
    """None when ``entry`` holds exactly the files its ``checksums.json`` lists, each with its
    SHA-256; else what is wrong, in a few words (``LEGACY`` when it has no checksums at all)."""
    from data.hashing import file_sha256

    try:
        sums = json.loads((entry / CHECKSUMS).read_text())
    except FileNotFoundError:
        return LEGACY
    except (OSError, ValueError) as exc:
        return f"unreadable {CHECKSUMS} ({exc})"
    except RecursionError:
        return f"unreadable {CHECKSUMS} (nested too deeply)"
    if not isinstance(sums, dict):
        return f"unreadable {CHECKSUMS} (not a mapping)"
    try:
        files = _files(entry)
        if sorted(sums) != files:
            missing, extra = sorted(set(sums) - set(files)), sorted(set(files) - set(sums))
            return f"missing {missing}" if missing else f"unexpected files {extra}"
        for name in files:
            if file_sha256(entry / name) != sums[name]:
                return f"{name} does not match its checksum"
    except OSError as exc:  # e.g. removed meanwhile by another process
        return f"unreadable ({exc.strerror or type(exc).__name__})"
    return None


LEGACY = f"no {CHECKSUMS}"
"""What :func:`problem` says of an entry published before entries were sealed."""


#: Work folders of a live writer on another host (or of an unknown one) are kept this long.
FOREIGN_WORK_SECONDS = 7 * 86400
#: Folders set aside by :func:`discard` are removed within seconds; older ones were orphaned.
STALE_SECONDS = 3600
_WORK = re.compile(r"\.tmp-(?P<pid>\d+)@(?P<host>.+)-[^-]+$")
_STALE = re.compile(r"\.stale-\d+-(?P<ns>\d+)$")
_swept: set[Path] = set()


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists here (signal 0: nothing is sent; EPERM: another
    user's, alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists
        return True
    return True


def _writer_gone(name: str, age: float, space: str) -> bool:
    """Whether the writer of the work folder ``name`` (``...tmp-<pid>@<host>-*``), untouched
    for ``age`` seconds, has gone: a process of this host (``space``) that no longer runs, or
    one of another host or of no recorded owner after :data:`FOREIGN_WORK_SECONDS`."""
    m = _WORK.search(name)
    if m and m["host"] == space:
        return not pid_alive(int(m["pid"]))
    return age > FOREIGN_WORK_SECONDS


def work_name(prefix: str) -> str:
    """The start of a work folder name for this process, ``<prefix>.tmp-<pid>@<host>``; with
    ``-<random>`` appended, :func:`abandoned_work` recognises it once the process has gone."""
    import data

    return f"{prefix}.tmp-{os.getpid()}@{data.process_space()}"


def abandoned_work(folder: Path, prefix: str) -> list[Path]:
    """The work folders ``<prefix>.tmp-*`` (:func:`work_name`) in ``folder`` whose writer has
    gone (killed by SIGKILL or the OOM killer: its ``finally`` never ran)."""
    import data

    space, now, out = data.process_space(), time.time(), []
    legacy = re.compile(re.escape(prefix) + r"-(?P<pid>\d+)")  # <prefix>-<pid>, older versions
    try:
        paths = sorted(folder.glob(f"{prefix}.tmp-*")) + sorted(folder.glob(f"{prefix}-*"))
    except OSError:
        return out
    for path in paths:
        try:
            if not path.is_dir() or path.is_symlink():
                continue
            old = legacy.fullmatch(path.name)
            if old is not None:
                gone = not pid_alive(int(old["pid"]))
            else:
                gone = _writer_gone(path.name, now - path.stat().st_mtime, space)
        except OSError:
            continue
        if gone:
            out.append(path)
    return out


def sweep(root: Path, now: float | None = None) -> list[str]:
    """Remove the work folders that killed runs left in the cache folder ``root``, and return
    their names: ``.<key>.tmp-<pid>@<host>-*`` of a process of this host that no longer runs,
    ``.<key>.tmp-*`` of another host or of no recorded owner untouched for
    :data:`FOREIGN_WORK_SECONDS`, and ``.<key>.stale-*`` (entries set aside for removal)
    older than :data:`STALE_SECONDS`. A live writer's folder is never touched."""
    import data

    now = time.time() if now is None else now
    space = data.process_space()
    removed = []
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(".") and p.is_dir()]
    except OSError:
        return removed
    for path in candidates:
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        if ".tmp-" in path.name:
            dead = _writer_gone(path.name, age, space)
        else:  # set aside by discard at the time in its name (a rename keeps the mtime)
            m = _STALE.search(path.name)
            dead = m is not None and now - int(m["ns"]) / 1e9 > STALE_SECONDS
        if dead:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    if removed:
        log.info("removed %d work folder(s) left by stopped runs in %s", len(removed), root)
    return removed


def usable(entry: Path, what: str, marker: str = DONE,
           load: Callable[[Path], object] | None = None) -> bool:
    """Whether the published entry ``entry`` (with its ``marker`` file) may be reused.

    An entry published before entries were sealed (no ``checksums.json``) is loaded with
    ``load`` (which raises on a damaged entry), then sealed as it is and reused; one that does
    not load is treated as damaged. One that fails :func:`problem` otherwise is logged, set
    aside and removed, and the caller recomputes it; if another process replaced it meanwhile,
    the new entry stays."""
    if entry.parent not in _swept:  # once per cache folder and process
        _swept.add(entry.parent)
        sweep(entry.parent)
    try:
        ino = entry.stat().st_ino
    except OSError:
        return False
    if not (entry / marker).is_file():
        return False
    why = problem(entry)
    if why is None:
        return True
    if why == LEGACY and load is not None:
        try:
            load(entry)
        except Exception as exc:  # noqa: BLE001 - any failure to load is damage
            why = f"{LEGACY}, and it does not load: {type(exc).__name__}: {exc}"
    if why == LEGACY:
        try:
            seal(entry)
        except OSError:  # a read-only cache: reuse it unsealed, as it was written
            pass
        log.info("%s cache %s was written before cache entries were sealed; sealed as it is",
                 what, entry)
        return True
    if not entry.exists():
        return False
    log.warning("%s cache %s failed its verification (%s): computing it again", what, entry, why)
    discard(entry, ino)
    return False


def discard(entry: Path, ino: int | None = None) -> None:
    """Remove ``entry``: renamed aside first, so that a concurrent publisher of the same key is
    not disturbed. With ``ino`` (the inode the caller verified), a folder that turns out to be
    another one, published meanwhile by another process, is put back."""
    import data

    trash = entry.with_name(f".{entry.name}.stale-{os.getpid()}-{time.time_ns()}")
    try:
        os.rename(entry, trash)
    except FileNotFoundError:
        return
    try:
        moved = trash.stat().st_ino
    except FileNotFoundError:  # removed meanwhile (another process's sweep)
        return
    if ino is not None and moved != ino:
        data.publish_dir(trash, entry)
        return
    shutil.rmtree(trash, ignore_errors=True)


def publish_cache_entry(src: Path, cache: Path, what: str) -> None:
    """Seal the finished cache entry ``src`` (a folder), then publish it at ``cache`` by a
    rename, with a ``done`` marker; an incomplete older entry there (no marker) is removed
    first, and an entry another process published first is kept (logged)."""
    import data
    from data.files import atomic_write_text

    seal(src)
    atomic_write_text(src / DONE, "", fsync=False)
    if cache.exists() and (not (cache / DONE).is_file()
                           or problem(cache) not in (None, LEGACY)):
        discard(cache)  # incomplete, or damaged (e.g. a PINN family entry without family.json)
    if not data.publish_dir(src, cache):
        log.info("%s cache %s was published by another process first; using it", what, cache)
