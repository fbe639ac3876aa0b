"""Numba's on-disk kernel cache, one folder per version of this package's source.

Numba re-validates a cached function against the source file that defines it, and only that
file, while the kernels inline functions of other files (the payoff of ``products/_payoff.py``,
the draws of ``rng.py``). After an upgrade or an edit that changes only such a file, a kernel
loaded from the cache would run the old inlined code: numbers from code that no longer exists.
So every cached kernel lives under a folder named after a digest of every ``.py`` file of the
package: changed code, fresh folder, everything recompiled once. The folder sits inside
``NUMBA_CACHE_DIR`` when that is set, else inside Numba's own user-wide cache folder, else (when
neither can be written) inside ``numba-cache-<uid>`` in the system's temporary folder, else in a
fresh private temporary folder. Numba unpickles its index files, so a folder that another user
could write would let that user run code in ours: a folder is used only when it and its parent
are real folders owned by this user and writable by no one else (a parent owned by root with the
sticky bit, such as ``/tmp``, also qualifies). Importing ``simulators`` imports
this module first, which sets the folder, in ``numba.config`` and in the environment (so that
Numba's configuration reloads and worker processes keep it). Other libraries' cached functions
defined later in the same process are cached there too.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import stat
import tempfile
import warnings
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PREFIX = "diffml-simulators-"


def source_digest(root: Path = PACKAGE) -> str:
    """SHA-256 (16 hex digits) of the relative path and content of every ``.py`` file under
    ``root``, in sorted order; hidden names (editor lock files such as ``.#heston.py``), files
    that are not regular and unreadable ones are skipped."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        try:
            if not path.is_file():
                continue
            content = path.read_bytes()
        except OSError:
            continue
        h.update(rel.as_posix().encode())
        h.update(b"\0")
        h.update(content)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _owned(path: str, *, sticky_root: bool = False) -> bool:
    """``path`` is a real folder (not a link) of this user, writable by no one else; or, with
    ``sticky_root``, root's with the sticky bit (entries only their owners can rename)."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        return False
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: no owners to compare
        return True
    if sticky_root and st.st_uid == 0 and st.st_mode & stat.S_ISVTX:
        return True  # e.g. /tmp, root's own included
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _usable(folder: str) -> bool:
    """``folder`` exists or is created (mode 0700), is private to this user (as is its parent,
    :func:`_owned`) and can be written."""
    parent = os.path.dirname(os.path.abspath(folder))
    try:
        os.makedirs(parent, mode=0o700, exist_ok=True)  # created private, whatever the umask
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not (_owned(folder) and _owned(parent, sticky_root=True)):
            return False
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def _remove_if_creator(folder: str, creator: int) -> None:
    """Remove ``folder`` when called in the process ``creator`` (an atexit handler)."""
    if os.getpid() == creator:
        shutil.rmtree(folder, ignore_errors=True)


def use_versioned_cache() -> str:
    """Point Numba's cache at ``<base>/diffml-simulators-<digest>`` and return it. ``base`` is
    ``NUMBA_CACHE_DIR``, else Numba's user-wide cache folder, else ``numba-cache-<uid>`` in the
    temporary folder: the first whose versioned folder is private to this user and can be
    written (an unwritable one would make Numba fall back to ``__pycache__`` beside the sources,
    where no digest protects the kernels); else a fresh private temporary folder, removed when
    the process exits. Must run
    before the package's ``cache=True`` functions are defined: Numba fixes a function's cache
    folder when it is decorated."""
    import numba
    from numba.misc.appdirs import AppDirs

    folder = PREFIX + source_digest()
    current = numba.config.CACHE_DIR
    if current and Path(current).name == folder and _usable(current):
        chosen = current  # already set (a re-import, or a worker that inherited it)
    else:
        bases = [b for b in (current, AppDirs(appname="numba", appauthor=False).user_cache_dir,
                             os.path.join(tempfile.gettempdir(), f"numba-cache-{os.getuid()}"
                                          if hasattr(os, "getuid") else "numba-cache"))
                 if b]
        chosen = None
        for b in bases:
            if _usable(os.path.join(b, folder)):
                chosen = os.path.join(b, folder)
                break
            if b == current:  # the user's own choice: say why it is not used
                warnings.warn(f"NUMBA_CACHE_DIR {b} is not used: it (or its versioned "
                              f"subfolder {folder}) cannot be written, or is not a folder of "
                              "this user that only this user can write", stacklevel=2)
        if chosen is None:  # nothing private to reuse: a fresh folder, compiled this once
            fresh = tempfile.mkdtemp(prefix="numba-cache-")
            # Removed when this process exits (not a forked child inheriting the handler).
            # Children that inherit the folder through NUMBA_CACHE_DIR (Dask workers) are
            # stopped before their parent exits; one that outlives it loses its cache.
            atexit.register(_remove_if_creator, fresh, os.getpid())
            chosen = os.path.join(fresh, folder)
            os.mkdir(chosen, 0o700)
    numba.config.CACHE_DIR = chosen
    os.environ["NUMBA_CACHE_DIR"] = chosen
    return chosen


use_versioned_cache()
