"""Numba's kernel cache is keyed by the whole package's source: a kernel cached by other code
(an edit or an upgrade of a file it inlines) is never loaded (simulators._numba_cache)."""

import shutil
from pathlib import Path

import numba
import pytest

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


def test_an_unwritable_base_falls_back_to_a_writable_versioned_folder(tmp_path, monkeypatch):
    """Numba would otherwise cache beside the sources (no digest): the next base is used, with
    a warning naming the variable's folder."""
    with pytest.warns(UserWarning, match="NUMBA_CACHE_DIR /proc/diffml-cannot-write-here is "
                                         "not used"):
        chosen = _use(Path("/proc/diffml-cannot-write-here"), monkeypatch, tmp_path)
    assert chosen.startswith(str(tmp_path))
    assert Path(chosen).name == nc.PREFIX + nc.source_digest() and nc._usable(chosen)


def _use(base: Path, monkeypatch, scratch_parent: Path | None = None) -> str:
    """use_versioned_cache with ``base`` as NUMBA_CACHE_DIR, and the temporary folder and
    Numba's user-wide folder inside pytest's, so that no fallback is made in the real ones."""
    import tempfile

    from numba.misc import appdirs

    scratch = (scratch_parent or base.parent) / "scratch"
    scratch.mkdir(mode=0o700, exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(appdirs.AppDirs, "user_cache_dir", str(scratch / "user-cache"))
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(base))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(base))
    return nc.use_versioned_cache()


def test_a_folder_other_users_can_write_is_not_used(tmp_path, monkeypatch):
    """Numba unpickles its index files: a base or versioned folder that is group- or
    world-writable, a link, or another user's is passed over for the next candidate (Numba's
    user-wide folder, the temporary one, or a fresh private folder)."""
    import os
    import stat

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.warns(UserWarning, match="is not used"):
        chosen = _use(shared, monkeypatch)
    assert not chosen.startswith(str(shared)), chosen
    parent = Path(chosen).parent
    assert stat.S_IMODE(os.lstat(chosen).st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(parent).st_mode) & 0o022 == 0
    # a link in place of the versioned folder, to a folder of ours: passed over too
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (private / (nc.PREFIX + nc.source_digest())).symlink_to(target, target_is_directory=True)
    with pytest.warns(UserWarning, match="is not used"):
        assert not _use(private, monkeypatch).startswith(str(private))
    # another user's folder (os.getuid pretends to be someone else): passed over
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    assert _use(mine, monkeypatch) == str(mine / (nc.PREFIX + nc.source_digest()))
    real = os.getuid()
    monkeypatch.setattr(nc.os, "getuid", lambda: real + 1)
    with pytest.warns(UserWarning, match="is not used"):
        assert not _use(mine, monkeypatch).startswith(str(mine))


def test_a_private_base_is_used_and_its_folder_made_private(tmp_path, monkeypatch):
    import os
    import stat

    base = tmp_path / "cache"  # created by the call, 0700 whatever the umask
    old = os.umask(0o002)
    try:
        chosen = _use(base, monkeypatch)
    finally:
        os.umask(old)
    assert chosen == str(base / (nc.PREFIX + nc.source_digest()))
    assert stat.S_IMODE(os.lstat(base).st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(chosen).st_mode) == 0o700


def test_roots_sticky_temporary_folder_is_a_valid_parent(monkeypatch):
    """/tmp (root's, sticky, world-writable) qualifies as a parent, for root too."""
    import os
    import stat

    st = os.lstat("/tmp")
    if st.st_uid != 0 or not st.st_mode & stat.S_ISVTX:
        pytest.skip("/tmp is not root's sticky folder here")
    assert nc._owned("/tmp", sticky_root=True)
    assert not nc._owned("/tmp")  # never as the cache folder itself


def test_the_fresh_fallback_folder_is_removed_at_exit(tmp_path, monkeypatch):
    """When no candidate can be used, the fresh private folder made for this process is
    registered for removal at exit (it is never reused, so it would only pile up)."""
    import tempfile

    registered = []
    monkeypatch.setattr(nc.atexit, "register", lambda fn, *a, **k: registered.append((fn, a, k)))
    monkeypatch.setattr(nc, "_usable", lambda folder: False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "bad"))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "bad"))
    with pytest.warns(UserWarning, match="is not used"):
        chosen = Path(nc.use_versioned_cache())
    fresh = chosen.parent
    assert fresh.parent == tmp_path and fresh.name.startswith("numba-cache-") and chosen.is_dir()
    assert len(registered) == 1
    fn, args, kwargs = registered[0]
    folder, creator = args
    fn(folder, creator + 1, **kwargs)  # a forked child that inherited the handler: kept
    assert fresh.exists()
    fn(*args, **kwargs)
    assert not fresh.exists()
