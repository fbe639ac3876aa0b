"""Numba's on-disk kernel cache, one folder per version of this package's source.

Numba re-validates a cached function against the source file that defines it, and only that
file, while the kernels inline functions of other files (the payoff of ``products/_payoff.py``,
the draws of ``rng.py``). After an upgrade or an edit that changes only such a file, a kernel
loaded from the cache would run the old inlined code: numbers from code that no longer exists.
So every cached kernel lives under a folder named after a digest of every ``.py`` file of the
package: changed code, fresh folder, everything recompiled once. The folder sits inside
``NUMBA_CACHE_DIR`` when that is set, else inside Numba's own user-wide cache folder. Importing
``simulators`` imports this module first, which sets the folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PREFIX = "diffml-simulators-"


def source_digest(root: Path = PACKAGE) -> str:
    """SHA-256 (16 hex digits) of the relative path and content of every ``.py`` file under
    ``root``, in sorted order."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def use_versioned_cache() -> str:
    """Point ``numba.config.CACHE_DIR`` at ``<base>/diffml-simulators-<digest>`` (``base``:
    ``NUMBA_CACHE_DIR``, else Numba's user-wide cache folder) and return it. Must run before
    the package's ``cache=True`` functions are defined: Numba fixes a function's cache folder
    when it is decorated."""
    import numba
    from numba.misc.appdirs import AppDirs

    base = numba.config.CACHE_DIR or AppDirs(appname="numba", appauthor=False).user_cache_dir
    folder = PREFIX + source_digest()
    if Path(base).name != folder:
        numba.config.CACHE_DIR = os.path.join(base, folder)
    return numba.config.CACHE_DIR


use_versioned_cache()
