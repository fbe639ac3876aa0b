"""Canonical JSON and the content hash that names a dataset.

The hash is the SHA-256 of the canonical JSON of the dataset's *identity*: everything that
determines the numbers (model, product, sampler, XVA, seed, number of paths, antithetic,
precision, and ``numbers``: the random-number algorithms and whether a CPU or a GPU evaluated
them, ``simulators.numbers_id``). Canonical JSON means: keys sorted, no whitespace, ASCII
only, tuples written as lists, NumPy scalars and arrays converted to Python numbers and lists,
floats written with Python's ``repr`` (the shortest string that round-trips to the same
double, so two floats hash equal exactly when they are the same double), NaN and Infinity
refused.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

# The fields that determine a dataset's numbers: the input of its content hash. "numbers" is
# simulators.numbers_id(backend): NUMBERS_VERSION (the RNG and normal-transform algorithms),
# with "/cuda" appended for GPU numbers.
IDENTITY_KEYS = ("model", "product", "sampler", "xva", "seed", "n_paths", "antithetic",
                 "precision", "numbers")

HASH_HEX_DIGITS = 12  # digits of the hash used in directory names


def _normalise(obj: Any, where: str) -> Any:
    """A JSON-ready copy of ``obj`` with the canonical representation of every leaf."""
    if obj is None or isinstance(obj, (bool, np.bool_)):
        return None if obj is None else bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if not math.isfinite(value):
            raise ValueError(f"Cannot hash {where}: {value!r} is not finite.")
        return value + 0.0  # -0.0 == 0.0: one hash for equal specs
    if isinstance(obj, str):
        return obj
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"Cannot hash {where}: key {key!r} is not a string.")
            out[key] = _normalise(value, f"{where}.{key}")
        return out
    if isinstance(obj, np.ndarray):
        return [_normalise(v, f"{where}[{i}]") for i, v in enumerate(obj.tolist())]
    if isinstance(obj, (list, tuple)):
        return [_normalise(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if hasattr(obj, "to_dict"):
        return _normalise(obj.to_dict(), where)
    raise TypeError(f"Cannot hash {where}: {type(obj).__name__} is not JSON data.")


def canonical_json(obj: Any) -> str:
    """The canonical JSON text of ``obj`` (sorted keys, no whitespace, exact float repr)."""
    return json.dumps(_normalise(obj, "value"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=False)


def content_hash(obj: Any) -> str:
    """SHA-256 (64 hex digits) of ``canonical_json(obj)``."""
    return hashlib.sha256(canonical_json(obj).encode("ascii")).hexdigest()


def file_sha256(path, *, block: int = 1 << 22) -> str:
    """SHA-256 of a file's bytes, read in blocks of ``block`` bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()
