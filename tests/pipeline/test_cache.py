"""Sealed cache entries: every file's SHA-256 recorded at publication and verified before reuse."""

from __future__ import annotations

import hashlib
import json

from pipeline.cache import CHECKSUMS, discard, problem, publish_cache_entry, usable


def _entry(tmp_path):
    src = tmp_path / "work" / "entry"
    (src / "sub").mkdir(parents=True)
    (src / "a.json").write_text('{"x": 1}')
    (src / "sub" / "w.pt").write_bytes(bytes(range(256)))
    cache = tmp_path / "cache" / "key"
    cache.parent.mkdir()
    publish_cache_entry(src, cache, "test")
    return cache


def test_published_entry_records_every_file_and_verifies(tmp_path):
    cache = _entry(tmp_path)
    sums = json.loads((cache / CHECKSUMS).read_text())
    assert sums == {"a.json": hashlib.sha256(b'{"x": 1}').hexdigest(),
                    "sub/w.pt": hashlib.sha256(bytes(range(256))).hexdigest()}
    assert problem(cache) is None and usable(cache, "test")


def test_damaged_entries_are_refused_and_removed(tmp_path, caplog):
    spoil = {
        "changed": lambda c: (c / "sub" / "w.pt").write_bytes(b"\0" * 256),
        "missing": lambda c: (c / "a.json").unlink(),
        "extra": lambda c: (c / "b.json").write_text("{}"),
        "bad checksums": lambda c: (c / CHECKSUMS).write_text("[1, 2"),
    }
    expect = {"changed": "sub/w.pt does not match", "missing": "missing ['a.json']",
              "extra": "unexpected files ['b.json']",
              "bad checksums": "unreadable checksums.json"}
    for case, damage in spoil.items():
        cache = _entry(tmp_path / case.replace(" ", "_"))
        damage(cache)
        assert expect[case] in problem(cache), case
        with caplog.at_level("WARNING", logger="diffml.pipeline"):
            assert not usable(cache, "test"), case
        assert expect[case] in caplog.text and not cache.exists(), case
        assert list(cache.parent.iterdir()) == [], case  # nothing left aside
        caplog.clear()


def test_an_unpublished_entry_is_not_usable(tmp_path):
    (tmp_path / "key").mkdir()
    assert not usable(tmp_path / "key", "test") and (tmp_path / "key").is_dir()


def test_an_entry_from_before_sealing_is_sealed_and_reused(tmp_path, caplog):
    cache = _entry(tmp_path)
    (cache / CHECKSUMS).unlink()
    with caplog.at_level("INFO", logger="diffml.pipeline"):
        assert usable(cache, "test")
    assert "written before cache entries were sealed" in caplog.text
    assert problem(cache) is None  # sealed in place: damage from now on is caught
    (cache / "a.json").write_text("{}")
    assert not usable(cache, "test") and not cache.exists()


def test_an_entry_from_before_sealing_that_does_not_load_is_recomputed(tmp_path, caplog):
    """Sealing an unsealed entry as it is would make its damage permanent: it is loaded
    first, and one that does not load is removed like any damaged entry."""
    cache = _entry(tmp_path)
    (cache / CHECKSUMS).unlink()

    def load(entry):
        json.loads((entry / "a.json").read_text())

    (cache / "a.json").write_text('{"x": ')  # truncated
    with caplog.at_level("WARNING", logger="diffml.pipeline"):
        assert not usable(cache, "test", load=load)
    assert "does not load: JSONDecodeError" in caplog.text
    assert not cache.exists() and list(cache.parent.iterdir()) == []
    good = _entry(tmp_path / "good")
    (good / CHECKSUMS).unlink()
    assert usable(good, "test", load=load) and problem(good) is None


def test_a_truncated_model_of_an_unsealed_training_entry_is_not_reused(tmp_path):
    """The training step's loader reads every model: 10 bytes of weights.pt fail it."""
    import numpy as np

    from pipeline.steps import _load_training_entry
    from training import DifferentialRegressor

    src = tmp_path / "work" / "entry"
    x = np.linspace(0.5, 1.5, 16)[:, None]
    for mode in ("standard", "differential"):
        DifferentialRegressor(hidden_layers=1, hidden_units=4, epochs=1).fit(
            x, x[:, 0], np.ones_like(x)).save(src / "models" / mode)
    (src / "curve.json").write_text(json.dumps({"models": ["standard", "differential"]}))
    np.savez(src / "predictions.npz", standard=x[:, 0])
    cache = tmp_path / "cache" / "key"
    cache.parent.mkdir()
    publish_cache_entry(src, cache, "training")
    (cache / CHECKSUMS).unlink()
    with open(cache / "models" / "standard" / "weights.pt", "r+b") as f:
        f.truncate(10)
    assert not usable(cache, "training", marker="curve.json", load=_load_training_entry)
    assert not cache.exists()


def test_discard_puts_back_an_entry_another_process_published_meanwhile(tmp_path):
    """The verifier saw a damaged folder (its inode); by the time it discards, another process
    has replaced it with a good one: that one stays."""
    cache = _entry(tmp_path / "one")
    stale_ino = cache.stat().st_ino
    fresh = _entry(tmp_path / "two")
    cache.rename(tmp_path / "old")
    fresh.rename(cache)
    discard(cache, stale_ino)
    assert cache.is_dir() and problem(cache) is None
    assert [p.name for p in cache.parent.iterdir()] == ["key"]


def test_an_entry_removed_while_it_is_verified_is_not_an_error(tmp_path, monkeypatch):
    """Another process discards the entry while this one hashes it: not usable, no exception,
    nothing removed by this process."""
    import shutil

    import data.hashing

    cache = _entry(tmp_path)
    real = data.hashing.file_sha256

    def vanishing(path, **kw):
        shutil.rmtree(cache, ignore_errors=True)
        return real(path, **kw)

    monkeypatch.setattr(data.hashing, "file_sha256", vanishing)
    assert not usable(cache, "test")


def test_work_folders_of_dead_runs_are_swept_and_live_ones_kept(tmp_path):
    """Killed runs leave .<key>.tmp-* folders; the next lookup in that cache folder removes
    those of dead processes of this host, old ones of other hosts or of no recorded owner,
    and old .stale-* ones, and keeps everything a live writer may still use."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import data
    from pipeline.cache import FOREIGN_WORK_SECONDS, STALE_SECONDS, sweep

    host = data.process_space()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    now = time.time()
    old = now - FOREIGN_WORK_SECONDS - 10
    folders = {  # name: (age stamp, removed?)
        f".k.tmp-{dead}@{host}-abcd1234": (now, True),
        f".k.tmp-{os.getpid()}@{host}-abcd1234": (old, False),  # alive, however old
        ".k.tmp-1@elsewhere.example-abcd1234": (now, False),
        ".k.tmp-2@elsewhere.example-abcd1234": (old, True),
        ".k.tmp-legacy99": (now, False),
        ".k.tmp-legacy00": (old, True),
        # set aside an hour ago (the time in the name), and just now from an old entry (a
        # rename keeps the entry's mtime: the name decides)
        f".k.stale-{dead}-{int((now - STALE_SECONDS - 10) * 1e9)}": (now, True),
        f".k.stale-{dead}-{int(now * 1e9)}": (old, False),
        # this pid and host name in another PID namespace or boot: judged by age only
        f".k.tmp-{os.getpid()}@{socket.gethostname()}~other~1-abcd1234": (now, False),
        "k": (old, False),  # a published entry
    }
    for name, (stamp, _) in folders.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("x")
        os.utime(tmp_path / name, (stamp, stamp))
    removed = sweep(tmp_path, now)
    assert sorted(removed) == sorted(n for n, (_, gone) in folders.items() if gone)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        n for n, (_, gone) in folders.items() if not gone)
    # the work folders this code makes carry their owner, so they are swept by the rule above
    work = data.private_work_dir(tmp_path / "key2")
    assert work.name.startswith(f".key2.tmp-{os.getpid()}@{host}-")
    assert work.name not in sweep(tmp_path) and work.is_dir()


def test_checksums_nested_too_deeply_are_damage_not_a_crash(tmp_path, caplog):
    src = tmp_path / "work"
    src.mkdir()
    (src / "a.txt").write_text("a")
    entry = tmp_path / "cache" / "k"
    entry.parent.mkdir()
    publish_cache_entry(src, entry, "test")
    (entry / CHECKSUMS).write_text("[" * 100_000)
    assert problem(entry) == f"unreadable {CHECKSUMS} (nested too deeply)"
    assert not usable(entry, "test") and not entry.exists()
