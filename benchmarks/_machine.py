"""Machine description recorded beside every benchmark result."""

from __future__ import annotations

import datetime as _dt
import os
import platform


def device_name(device) -> str:
    """A Numba CUDA device's name as text (older numba-cuda gives bytes)."""
    name = device.name
    return name.decode() if isinstance(name, bytes) else str(name)


def package_versions(names: tuple[str, ...] = ("numba", "numba-cuda", "llvmlite",
                                                "cupy-cuda13x", "cupy-cuda12x", "torch",
                                                "numpy")) -> dict[str, str]:
    """Installed versions of the packages ``names`` (absent ones left out)."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def describe() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = "none"
    try:
        from numba import cuda

        if cuda.is_available():
            gpu = device_name(cuda.get_current_device())
    except Exception:  # noqa: BLE001
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": gpu,
        "python": platform.python_version(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def update_results(path, change) -> dict:
    """Read the JSON results file ``path`` (``{}`` if absent), apply ``change(data)`` in place
    and write it back atomically, holding an exclusive lock on ``path + ".lock"`` throughout,
    so that benchmark processes sharing one results file do not overwrite each other's rows.
    Returns the data written."""
    import fcntl
    import json
    from pathlib import Path

    path = Path(path)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else {}
        change(data)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, default=float))
        os.replace(tmp, path)
    return data
