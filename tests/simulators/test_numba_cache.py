"""Numba's kernel cache is keyed by the whole package's source: a kernel cached by other code
(an edit or an upgrade of a file it inlines) is never loaded (simulators._numba_cache)."""

import shutil
from pathlib import Path

import numba

import simulators  # noqa: F401  (sets the cache folder)
from simulators import _numba_cache as nc


def test_the_cache_folder_is_named_after_the_digest_of_the_sources():
    folder = Path(numba.config.CACHE_DIR)
    assert folder.name == nc.PREFIX + nc.source_digest()
    # a kernel compiled in this process is cached under that folder, nowhere else
    from simulators.rng import philox4x32

    assert philox4x32._cache._cache_path.startswith(str(folder))


def test_any_change_to_any_source_file_changes_the_digest(tmp_path):
    copy = tmp_path / "simulators"
    shutil.copytree(nc.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = nc.source_digest(copy)
    assert before == nc.source_digest(nc.PACKAGE)
    payoff = copy / "products" / "_payoff.py"  # inlined into kernels of other files
    payoff.write_text(payoff.read_text() + "\n# one more line\n")
    changed = nc.source_digest(copy)
    assert changed != before
    (copy / "products" / "_payoff.py").rename(copy / "products" / "_payoff2.py")
    assert nc.source_digest(copy) not in (before, changed)  # names count, not only contents


def test_editor_lock_files_and_dangling_links_do_not_break_the_import(tmp_path):
    copy = tmp_path / "simulators"
    shutil.copytree(nc.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = nc.source_digest(copy)
    (copy / ".#heston.py").symlink_to(copy / "no-such-file")  # what Emacs leaves while editing
    (copy / "products" / ".hidden.py").write_text("x = 1\n")
    assert nc.source_digest(copy) == before


def test_the_environment_carries_the_folder():
    """Numba's configuration reloads from the environment (and worker processes inherit it):
    the versioned folder is there too, so neither falls back to an unversioned cache."""
    import os

    assert os.environ["NUMBA_CACHE_DIR"] == numba.config.CACHE_DIR
    numba.config.reload_config()
    assert Path(numba.config.CACHE_DIR).name == nc.PREFIX + nc.source_digest()


def test_the_folder_is_not_nested_twice():
    """Calling it again (a re-import, a worker process with the variable already set to the
    versioned folder) keeps the same folder."""
    first = numba.config.CACHE_DIR
    assert nc.use_versioned_cache() == first


def test_an_unwritable_base_falls_back_to_a_writable_versioned_folder(monkeypatch):
    """Numba would otherwise cache beside the sources (no digest): the next base is used."""
    monkeypatch.setattr(numba.config, "CACHE_DIR", "/proc/diffml-cannot-write-here")
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/proc/diffml-cannot-write-here")
    chosen = nc.use_versioned_cache()
    assert not chosen.startswith("/proc/")
    assert Path(chosen).name == nc.PREFIX + nc.source_digest() and nc._writable(chosen)
