"""A write that fails for want of space names the file it was writing, leaves nothing half
written and keeps the error's type and errno.

A full disk is reproduced without privileges by a file-size limit (``RLIMIT_FSIZE`` with
``SIGXFSZ`` ignored): the kernel then fails the write with ``EFBIG``, an ``OSError`` without a
file name, exactly as a full file system fails it with ``ENOSPC``."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from data.files import atomic_write_bytes, naming

resource = pytest.importorskip("resource")
ROOT = Path(__file__).resolve().parents[2]
LIMIT = 4096  # bytes: any file written beyond this fails


def _limited() -> None:
    """preexec_fn: the child (and what it starts) cannot write a file past LIMIT bytes."""
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _run_limited(code: str, *args: str) -> dict:
    """Run ``code`` under the size limit; it prints one JSON line, returned as a dict."""
    res = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                         text=True, preexec_fn=_limited, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


CATCH = """
import json, sys
def report(fn):
    try:
        fn()
    except OSError as exc:
        print(json.dumps({"type": type(exc).__name__, "errno": exc.errno,
                          "filename": exc.filename, "text": str(exc)}))
    else:
        print(json.dumps({"type": None}))
"""


def test_naming_adds_the_path_to_an_unnamed_error_only():
    with pytest.raises(OSError) as info, naming("/data/part.parquet"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.errno == errno.ENOSPC and info.value.filename == "/data/part.parquet"
    assert str(info.value) == "[Errno 28] No space left on device: '/data/part.parquet'"
    assert isinstance(info.value.__cause__, OSError)
    # an error that names its file, or has no errno, passes unchanged (same object)
    named = PermissionError(errno.EACCES, "Permission denied", "/other")
    with pytest.raises(PermissionError) as info, naming("/data/x"):
        raise named
    assert info.value is named
    bare = OSError("no errno")
    with pytest.raises(OSError) as info, naming("/data/x"):
        raise bare
    assert info.value is bare


def test_atomic_write_past_the_limit_names_the_file_and_leaves_no_trace(tmp_path):
    target = tmp_path / "part-00000.parquet"
    target.write_bytes(b"old")  # what was there before is kept
    out = _run_limited(CATCH + """
from pathlib import Path
from data.files import atomic_write_bytes
report(lambda: atomic_write_bytes(Path(sys.argv[1]), b"x" * 10_000))
""", str(target))
    assert out == {"type": "OSError", "errno": errno.EFBIG, "filename": str(target),
                   "text": f"[Errno {errno.EFBIG}] {os.strerror(errno.EFBIG)}: '{target}'"}
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == [
        target.name]
    atomic_write_bytes(target, b"x" * 10_000)  # without the limit: written
    assert target.stat().st_size == 10_000


def test_saving_weights_past_the_limit_is_an_os_error_naming_the_file(tmp_path):
    """torch.save writing to the file itself would raise a RuntimeError about zip offsets."""
    out = _run_limited(CATCH + """
from pathlib import Path
import torch
from training._persistence import write_torch
report(lambda: write_torch({"w": torch.zeros(10_000)}, Path(sys.argv[1])))
""", str(tmp_path / "weights.pt"))
    assert (out["type"], out["errno"], out["filename"]) == (
        "OSError", errno.EFBIG, str(tmp_path / "weights.pt"))


def test_cli_simulate_on_a_full_disk_names_the_part(tmp_path):
    import yaml

    cfg = yaml.safe_load((ROOT / "tests/pipeline/configs/small.yaml").read_text())
    cfg["scenarios"] = [s for s in cfg["scenarios"] if s["id"] == "basket"]
    cfg["dataset_root"], cfg["output_root"] = str(tmp_path / "ds"), str(tmp_path / "runs")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "COLUMNS": "300"}
    command = [sys.executable, "-m", "pipeline.cli", "simulate", str(tmp_path / "c.yaml")]
    # first without the limit, elsewhere: the kernels compile and are cached (Numba's own cache
    # files would otherwise be the first writes to fail)
    warm = subprocess.run([*command, "--set", f"dataset_root={tmp_path / 'warm'}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    res = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                         preexec_fn=_limited, timeout=300, env=env)
    errors = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.startswith("error:")]
    assert res.returncode == 1 and len(errors) == 1, res.stdout + res.stderr
    assert "File too large: '" in errors[0] and f"{tmp_path / 'ds'}/." in errors[0], errors
    assert errors[0].rstrip().endswith(".parquet'"), errors
    assert "Traceback" not in res.stdout + res.stderr
