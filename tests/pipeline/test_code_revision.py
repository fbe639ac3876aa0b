"""metrics.json records the commit of the code that ran (run.code), when it runs from git."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.run import code_revision


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_checkout_gives_its_commit_and_whether_tracked_files_changed(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    _git(repo, "add", "a.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD")
    assert code_revision(repo) == {"commit": head, "dirty": False}
    (repo / "untracked.txt").write_text("not code")  # untracked files do not count
    assert code_revision(repo) == {"commit": head, "dirty": False}
    (repo / "a.py").write_text("x = 2\n")
    assert code_revision(repo) == {"commit": head, "dirty": True}


def test_outside_a_checkout_there_is_no_commit(tmp_path):
    assert code_revision(tmp_path) is None


def test_an_installed_copy_inside_a_checkout_has_no_commit(tmp_path):
    """``pip install .`` into a git-ignored venv of the checkout: that copy may be another
    version than HEAD, so no commit is claimed for it."""
    repo = tmp_path / "repo"
    site = repo / ".venv" / "lib" / "site-packages" / "pipeline"
    site.mkdir(parents=True)
    (site / "run.py").write_text("x = 1\n")
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text(".venv/\n")
    _git(repo, "add", ".gitignore")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    assert code_revision(site) is None
    assert code_revision(repo)["commit"] == _git(repo, "rev-parse", "HEAD")


def test_this_package_reports_this_checkout():
    here = Path(__file__).resolve().parent
    assert code_revision()["commit"] == _git(here, "rev-parse", "HEAD")
