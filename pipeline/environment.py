"""Environment variables the commands depend on, checked before any work starts.

A bad value of ``NUMBA_NUM_THREADS`` or of a Prefect setting (``PREFECT_LOGGING_LEVEL``,
``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``...) would otherwise surface as a
traceback from deep inside an import, or be blamed on the config. Each check returns one line
naming the variable, what it must be and its value, or None.
"""

from __future__ import annotations

import contextlib
import io
import os


def numba_threads_error() -> str | None:
    """``NUMBA_NUM_THREADS``, when set, is an integer >= 1."""
    value = os.environ.get("NUMBA_NUM_THREADS")
    if value is None:
        return None
    try:
        ok = int(value) >= 1
    except ValueError:
        ok = False
    return None if ok else (f"environment variable NUMBA_NUM_THREADS: must be an integer >= 1; "
                            f"got {value[:100]!r}")


def _variable(loc: tuple) -> str:
    """The PREFECT_* variable set in the environment whose name ends with the error's field
    path (e.g. ('level',) -> PREFECT_LOGGING_LEVEL), else the field path itself."""
    suffix = "_" + "_".join(str(p) for p in loc).upper()
    named = [k for k in os.environ if k.startswith("PREFECT_") and k.endswith(suffix)]
    return named[0] if len(named) == 1 else f"PREFECT_*{suffix}"


def prefect_settings_error() -> str | None:
    """Prefect's settings, read from the environment (and its profile), are valid."""
    from pydantic import ValidationError

    try:
        with contextlib.redirect_stderr(io.StringIO()):  # Prefect prints its own plugin note
            import prefect.settings as ps

            home = ps.Settings().home
    except ValidationError as exc:
        err = exc.errors()[0]
        shown = str(err.get("input"))[:100]
        return (f"environment variable {_variable(err['loc'])}: {err['msg']}; got {shown!r}")
    except Exception as exc:  # noqa: BLE001 - whatever the settings provoke, one line
        return f"Prefect settings from the environment: {' '.join(str(exc).split())[:300]}"
    try:  # Prefect keeps its database and logs there, even for a temporary server
        home.mkdir(parents=True, exist_ok=True)
        probe = home / f".diffml-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return (f"environment variable PREFECT_HOME: must be a writable directory; got "
                f"{str(home)[:200]!r} ({exc.strerror or type(exc).__name__})")
    return None


def tcp_problem(host: str, port: int, timeout: float) -> str | None:
    """Why nothing accepts a TCP connection at ``host:port`` within ``timeout`` seconds (one
    short phrase, e.g. 'Connection refused'), or None when something listens there."""
    import socket

    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except (OSError, UnicodeError, ValueError) as exc:  # UnicodeError: a host like a..b
        return " ".join(str(getattr(exc, "strerror", None) or exc or type(exc).__name__)
                        .split())[:200]
    return None


def prefect_api_error(timeout: float = 5.0) -> str | None:
    """``PREFECT_API_URL``, when set, names a host and port where something listens (a TCP
    connection, nothing more: TLS settings and credentials stay Prefect's business)."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL")
    except ValueError as exc:
        why = " ".join(str(exc).split())[:200]
    else:
        if parts.scheme in getproxies() and not proxy_bypass(parts.hostname):
            return None  # reached through a proxy: Prefect's client knows how, we do not probe
        why = tcp_problem(parts.hostname, port, timeout)
        if why is None:
            return None
    return (f"environment variable PREFECT_API_URL: no Prefect server answers at "
            f"{url[:200]!r} ({why})")


def error(prefect: bool) -> str | None:
    """The first problem of the environment (Prefect's settings only when ``prefect``)."""
    return numba_threads_error() or (prefect_settings_error() if prefect else None)
