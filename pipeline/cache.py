"""Publishing cache entries (trained PINNs, backward surrogates) built in a private folder."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger("diffml.pipeline")


def publish_cache_entry(src: Path, cache: Path, what: str) -> None:
    """Publish the finished cache entry ``src`` (a folder) at ``cache`` by a rename, with a
    ``done`` marker; an incomplete older entry there (no marker) is removed first, and an entry
    another process published first is kept (logged)."""
    import data

    (src / "done").write_text("")
    if cache.exists() and not (cache / "done").is_file():
        shutil.rmtree(cache, ignore_errors=True)
    if not data.publish_dir(src, cache):
        log.info("%s cache %s was published by another process first; using it", what, cache)
