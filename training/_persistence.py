"""Checked reading and writing of saved models: one clear error per bad path or damaged file.

A model is saved as a folder (``config.json`` plus ``weights.pt`` and, for some, more files).
Every failure the file system or a damaged file can cause is reported in one line naming what
was saved or loaded, the path and what is wrong, for example::

    Cannot load DifferentialRegressor from /tmp/m: config.json is not valid JSON (line 1 column 2).
    Cannot load PINNSolution from /tmp/s: weights.pt does not match config.json: net.0.weight has
    shape (8, 1), expected (8, 2).

The exception keeps a fitting type: ``TypeError`` for a path that is not a str or os.PathLike,
``ValueError`` for an empty path or a damaged file, ``FileNotFoundError`` for a missing folder or
file, and the ``OSError`` subclass of the operating system's error otherwise (a file where a
folder should be, a read-only location...). Only these expected errors are translated.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._validation import message, names

#: The errors ``torch.load`` raises for a file that is not a torch weights file: not a zip
#: archive nor a legacy pickle (UnpicklingError), a damaged archive (RuntimeError from the
#: archive reader), a truncated file (EOFError).
_TORCH_READ_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile)


def as_path(owner: str, value: object, field: str = "path") -> Path:
    """``value`` as a ``Path``: a str or os.PathLike (``TypeError`` otherwise: None, bytes), not
    empty (``ValueError``: ``Path('')`` is the current folder, and a model would be written or
    read there without a word)."""
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(text, str):
        raise TypeError(message(owner, field, "be a str or os.PathLike path", value))
    if not text:
        raise ValueError(message(owner, field, "be a non-empty path", value))
    return Path(text)


def _same_kind(exc: OSError, text: str) -> OSError:
    """An error of ``exc``'s built-in ``OSError`` type (plain ``OSError`` for others) saying
    ``text``."""
    kind = type(exc) if type(exc).__module__ == "builtins" else OSError
    return kind(text)


def _reason(exc: OSError) -> str:
    """The operating system's words for ``exc``, with the file it concerns (ours for a file in
    the way of a folder)."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a part of the path is an existing file, not a folder"
    what = exc.strerror or str(exc)
    return f"{what} ({exc.filename})" if exc.filename else what


def make_folder(what: str, path: Path) -> Path:
    """Create the folder ``path`` (and its parents) to save ``what`` into; an existing file there
    raises ``FileExistsError``, other refusals of the system their ``OSError``."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise FileExistsError(
            f"Cannot save {what} to {path}: it is an existing file, not a folder."
        ) from None
    except OSError as exc:
        raise _same_kind(exc, f"Cannot save {what} to {path}: {_reason(exc)}.") from None
    return path


@contextmanager
def writing(what: str, path: Path, verb: str = "save") -> Iterator[None]:
    """Report an ``OSError`` of the block (writing the files of ``what`` at ``path``) in one line,
    keeping its type."""
    try:
        yield
    except OSError as exc:
        raise _same_kind(exc, f"Cannot {verb} {what} to {path}: {_reason(exc)}.") from None


def write_torch(obj: Any, path: Path) -> None:
    """``torch.save`` of ``obj`` (tensors and plain containers) to the file ``path``, serialised in
    memory first and written through a temporary file and a rename (:func:`write_atomic`), where
    ``torch.save`` writing to the file would raise a ``RuntimeError`` about zip offsets on a
    failed write and leave a truncated archive."""
    write_atomic(torch_bytes(obj), path)


def torch_bytes(obj: Any) -> bytes:
    """``torch.save`` of ``obj`` in memory."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def write_atomic(data: bytes, path: Path) -> None:
    """Write ``data`` to the file ``path`` through a temporary file and a rename: a write that
    fails (no space left, a size limit) raises the system's ``OSError`` naming ``path`` and
    leaves ``path`` as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is not None or exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc


def _json_value(obj: Any) -> Any:
    """``json.dumps``' fallback: NumPy scalars (a seed given as ``np.int64``) as Python numbers."""
    import numpy as np

    if isinstance(obj, np.generic) and obj.shape == ():
        return obj.item()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def save_files(what: str, folder: Path, state: Mapping[str, Any], config: dict[str, Any],
               extra: Mapping[str, bytes] | None = None) -> None:
    """Write a model's folder: ``weights.pt`` (the state dict ``state``), the ``extra`` files
    and, last, ``config.json`` (``config`` with ``weights_sha256``, the SHA-256 of
    ``weights.pt``), each through a temporary file and a rename. Everything is serialised before
    the first write, so a value JSON cannot hold leaves the folder as it was; a save into a
    folder of another model that stops half-way leaves a ``weights.pt`` that the old
    ``config.json``'s hash refuses at load (:func:`read_weights`) instead of a mixed model."""
    weights = torch_bytes(dict(state))
    config = {**config, "weights_sha256": hashlib.sha256(weights).hexdigest()}
    try:
        text = json.dumps(config, indent=2, default=_json_value).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Cannot save {what} to {folder}: its configuration cannot be "
                         f"written as JSON ({exc}).") from None
    with writing(what, folder):
        write_atomic(weights, folder / "weights.pt")
        for name, data in (extra or {}).items():
            write_atomic(data, folder / name)
        write_atomic(text, folder / "config.json")


def file_target(what: str, path: Path, example: str) -> Path:
    """``path`` as the file to export ``what`` to: not a folder (``IsADirectoryError``, naming
    ``example``, a file name to use inside it); its parent folders are created."""
    if path.is_dir():
        raise IsADirectoryError(
            f"Cannot export {what} to {path}: it is a folder; give a file path such as "
            f"{path / example}."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _same_kind(exc, f"Cannot export {what} to {path}: {_reason(exc)}.") from None
    return path


# ----------------------------------------------------------------------------------------------
# loading


def _cannot_load(what: str, folder: Path, problem: str) -> str:
    return f"Cannot load {what} from {folder}: {problem}."


def check_folder(what: str, folder: Path) -> Path:
    """``folder`` if it is an existing folder (``FileNotFoundError`` if absent,
    ``NotADirectoryError`` for a file)."""
    if not folder.exists():
        raise FileNotFoundError(_cannot_load(what, folder, "no such folder"))
    if not folder.is_dir():
        raise NotADirectoryError(_cannot_load(
            what, folder, "it is a file, not the folder written by save"))
    return folder


def _required_file(what: str, folder: Path, name: str) -> Path:
    file = folder / name
    if not file.is_file():
        raise FileNotFoundError(_cannot_load(what, folder, f"{name} is missing"))
    return file


def read_json(what: str, folder: Path, name: str = "config.json") -> dict[str, Any]:
    """The JSON object in ``folder/name``: ``FileNotFoundError`` if the file is missing,
    ``ValueError`` if it is not valid JSON or not an object."""
    file = _required_file(what, folder, name)
    try:
        data = json.loads(file.read_bytes())
    except OSError as exc:
        raise _same_kind(exc, _cannot_load(what, folder, _reason(exc))) from None
    except json.JSONDecodeError as exc:
        raise ValueError(_cannot_load(
            what, folder, f"{name} is not valid JSON (line {exc.lineno} column {exc.colno})"
        )) from None
    except UnicodeDecodeError:
        raise ValueError(_cannot_load(what, folder, f"{name} is not UTF-8 text")) from None
    except RecursionError:
        raise ValueError(_cannot_load(what, folder, f"{name} is nested too deeply")) from None
    if not isinstance(data, dict):
        raise ValueError(_cannot_load(what, folder, f"{name} does not hold a JSON object"))
    return data


def require_fields(what: str, folder: Path, data: Mapping[str, Any], fields: Iterable[str],
                   name: str = "config.json") -> None:
    """``ValueError`` naming the fields of ``fields`` that ``data`` (read from ``name``) lacks."""
    missing = [f for f in fields if f not in data]
    if missing:
        raise ValueError(_cannot_load(what, folder, f"{name} lacks the fields {names(missing)}"))


def read_weights(what: str, folder: Path, expected: Mapping[str, Any],
                 name: str = "weights.pt", sha256: Any = None) -> dict[str, Any]:
    """The state dict in ``folder/name`` (``torch.load(weights_only=True)`` onto the CPU),
    checked against the state dict ``expected`` of the network built from the configuration
    and, when ``sha256`` is given (``config.json``'s ``weights_sha256``), against that hash:
    ``FileNotFoundError`` if missing, ``ValueError`` if it is not a torch file, does not match
    (names and shapes) or is not the file its ``config.json`` was saved with."""
    import torch

    file = _required_file(what, folder, name)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _same_kind(exc, _cannot_load(what, folder, _reason(exc))) from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(_cannot_load(
            what, folder, f"{name} is not the file config.json was saved with (its SHA-256 "
            "differs: a save into this folder stopped half-way, or the files were mixed); "
            "save the model again"))
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except _TORCH_READ_ERRORS as exc:
        raise ValueError(_cannot_load(
            what, folder, f"{name} is not a torch weights file ({type(exc).__name__})"
        )) from None
    problem = state_mismatch(state, expected)
    if problem:
        raise ValueError(_cannot_load(
            what, folder, f"{name} does not match config.json: {problem}"))
    return state


def read_checkpoint(what: str, file: Path, device: Any) -> dict[str, Any]:
    """The training checkpoint ``file`` (``torch.load(weights_only=True)`` onto ``device``);
    ``ValueError`` naming the file if it is not a torch file or not a mapping. What to do about
    it is said too: a checkpoint is only a cache of a training's progress."""
    import torch

    try:
        state = torch.load(file, map_location=device, weights_only=True)
    except OSError as exc:
        raise _same_kind(exc, f"Cannot resume {what} from {file}: {_reason(exc)}.") from None
    except _TORCH_READ_ERRORS as exc:
        state = exc
    if not isinstance(state, Mapping):
        raise ValueError(damaged_checkpoint(what, file, "it is not a torch checkpoint"))
    return dict(state)


def damaged_checkpoint(what: str, file: Path, problem: str) -> str:
    """The message for a checkpoint that cannot be resumed."""
    return (f"Cannot resume {what} from {file}: {problem}. Delete the file (or resume=False) to "
            "train from the start.")


def state_mismatch(state: object, expected: Mapping[str, Any]) -> str | None:
    """What makes ``state`` unfit for ``load_state_dict`` of a module whose state dict is
    ``expected`` (not a mapping of tensors, missing or extra entries, another shape), or None."""
    import torch

    if not isinstance(state, Mapping) or not all(
        isinstance(t, torch.Tensor) for t in state.values()
    ):
        return "it does not hold a state dict of tensors"
    missing = [k for k in expected if k not in state]
    if missing:
        return f"it lacks {names(missing)}"
    extra = [k for k in state if k not in expected]
    if extra:
        return f"it has unexpected entries {names(extra)}"
    for key, ref in expected.items():
        got = tuple(state[key].shape)
        if got != tuple(ref.shape):
            return f"{key} has shape {got}, expected {tuple(ref.shape)}"
    return None


__all__ = [
    "as_path",
    "check_folder",
    "damaged_checkpoint",
    "file_target",
    "make_folder",
    "read_checkpoint",
    "read_json",
    "read_weights",
    "require_fields",
    "state_mismatch",
    "writing",
]
