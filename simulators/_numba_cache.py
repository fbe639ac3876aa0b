"""Numba's on-disk kernel cache, one folder per version of this package's source.

Numba re-validates a cached function against the source file that defines it, and only that
file, while the kernels inline functions of other files (the payoff of ``products/_payoff.py``,
the draws of ``rng.py``). After an upgrade or an edit that changes only such a file, a kernel
loaded from the cache would run the old inlined code: numbers from code that no longer exists.
So every cached kernel lives under a folder named after a digest of every ``.py`` file of the
package: changed code, fresh folder, everything recompiled once. The folder sits inside
``NUMBA_CACHE_DIR`` when that is set, else inside Numba's own user-wide cache folder, else (when
neither can be written) inside the system's temporary folder. Importing ``simulators`` imports
this module first, which sets the folder, in ``numba.config`` and in the environment (so that
Numba's configuration reloads and worker processes keep it). Other libraries' cached functions
defined later in the same process are cached there too.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
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


def _writable(folder: str) -> bool:
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def use_versioned_cache() -> str:
    """Point Numba's cache at ``<base>/diffml-simulators-<digest>`` and return it. ``base`` is
    ``NUMBA_CACHE_DIR``, else Numba's user-wide cache folder, else the temporary folder: the
    first whose versioned folder can be written (an unwritable one would make Numba fall back
    to ``__pycache__`` beside the sources, where no digest protects the kernels). Must run
    before the package's ``cache=True`` functions are defined: Numba fixes a function's cache
    folder when it is decorated."""
    import numba
    from numba.misc.appdirs import AppDirs

    folder = PREFIX + source_digest()
    current = numba.config.CACHE_DIR
    if current and Path(current).name == folder and _writable(current):
        chosen = current  # already set (a re-import, or a worker that inherited it)
    else:
        bases = [b for b in (current, AppDirs(appname="numba", appauthor=False).user_cache_dir,
                             os.path.join(tempfile.gettempdir(), f"numba-cache-{os.getuid()}"
                                          if hasattr(os, "getuid") else "numba-cache"))
                 if b]
        chosen = next((os.path.join(b, folder) for b in bases
                       if _writable(os.path.join(b, folder))), os.path.join(bases[-1], folder))
    numba.config.CACHE_DIR = chosen
    os.environ["NUMBA_CACHE_DIR"] = chosen
    return chosen


use_versioned_cache()
