"""Column layout of a dataset's Parquet parts.

Columns, in this order: ``path_id`` (int64), ``x_<input>`` for each input, ``y``,
``dydx_<input>`` for each input. Floats are float64, or float32 when the dataset's precision is
"float32". Inputs are the model's input names (``spot``, ``spot_3``, ``vol``, ``variance`` ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from .errors import DatasetError

# Version of the dataset format, recorded in the manifest. 2: the manifest is _manifest.json
# (1: manifest.json, still read and migrated; see data.manifest). The parts did not change.
SCHEMA_VERSION = 2
# Version of the part layout, recorded in each part's footer metadata: unchanged since 1, so a
# part has the same bytes whichever manifest version lists it.
PART_SCHEMA_VERSION = 1
FORMAT = "diffml.dataset"
PRECISIONS = ("float64", "float32")
METADATA_KEY = b"diffml"  # Parquet key-value metadata key holding the part's JSON description
PART_PATTERN = re.compile(r"^part-(\d{5})\.parquet$")
MAX_PARTS = 100_000
"""Parts of one dataset: part file names have five digits."""
_INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def part_name(index: int) -> str:
    """File name of part ``index``: ``part-00000.parquet``, ``part-00001.parquet`` ..."""
    if not 0 <= index < MAX_PARTS:
        raise ValueError(f"The part index must be in [0, {MAX_PARTS}). Got {index} instead; use a "
                         "larger chunk_paths.")
    return f"part-{index:05d}.parquet"


def check_inputs(inputs: Sequence[str]) -> tuple[str, ...]:
    """Validated input names (identifiers, unique, at least one)."""
    inputs = tuple(inputs)
    if not inputs or len(set(inputs)) != len(inputs) or not all(
        isinstance(n, str) and _INPUT_NAME.match(n) for n in inputs
    ):
        raise ValueError(f"Input names must be unique identifiers, at least one. Got {inputs!r}.")
    return inputs


def column_names(inputs: Sequence[str]) -> list[str]:
    """``["path_id", "x_<input>"..., "y", "dydx_<input>"...]``."""
    inputs = check_inputs(inputs)
    return ["path_id", *(f"x_{n}" for n in inputs), "y", *(f"dydx_{n}" for n in inputs)]


def arrow_schema(inputs: Sequence[str], precision: str) -> pa.Schema:
    """The Arrow schema of a part (without key-value metadata)."""
    if precision not in PRECISIONS:
        raise ValueError(f"The 'precision' must be one of {PRECISIONS}. Got {precision!r}.")
    ftype = pa.float64() if precision == "float64" else pa.float32()
    names = column_names(inputs)
    return pa.schema([pa.field(names[0], pa.int64(), nullable=False)]
                     + [pa.field(n, ftype, nullable=False) for n in names[1:]])


def check_schema(schema: pa.Schema, inputs: Sequence[str], precision: str, where: str) -> None:
    """Raise DatasetError unless ``schema`` has exactly the expected columns and types."""
    expected = arrow_schema(inputs, precision)
    got = [(f.name, str(f.type)) for f in schema]
    want = [(f.name, str(f.type)) for f in expected]
    if got != want:
        raise DatasetError(f"{where}: columns {got} do not match the dataset schema {want}.",
                           where)


def table_from_arrays(path_id: np.ndarray, x: np.ndarray, y: np.ndarray, dydx: np.ndarray,
                      inputs: Sequence[str], precision: str) -> pa.Table:
    """An Arrow table in the dataset layout from arrays of shapes (n,), (n, d), (n,), (n, d)."""
    inputs = check_inputs(inputs)
    n, d = len(y), len(inputs)
    dtype = np.dtype(precision)
    if np.shape(x) != (n, d) or np.shape(dydx) != (n, d) or np.shape(path_id) != (n,):
        raise ValueError(f"Expected x and dydx of shape ({n}, {d}) and path_id of shape ({n},); "
                         f"got {np.shape(x)}, {np.shape(dydx)} and {np.shape(path_id)}.")
    for name, arr in (("x", x), ("y", y), ("dydx", dydx)):
        if np.asarray(arr).dtype != dtype:
            raise ValueError(f"The '{name}' array must have dtype {precision} (the dataset's "
                             f"precision). Got {np.asarray(arr).dtype} instead.")
    cols = [pa.array(np.ascontiguousarray(path_id, dtype=np.int64))]
    cols += [pa.array(np.ascontiguousarray(x[:, j])) for j in range(d)]
    cols.append(pa.array(np.ascontiguousarray(y)))
    cols += [pa.array(np.ascontiguousarray(dydx[:, j])) for j in range(d)]
    return pa.Table.from_arrays(cols, schema=arrow_schema(inputs, precision))


def check_finite(table: pa.Table, where: str, first_path: int) -> None:
    """Raise DatasetError naming the column and path id of the first NaN or Inf value."""
    for name in table.column_names[1:]:
        col = table.column(name)
        for chunk_start, chunk in _chunks(col):
            arr = chunk.to_numpy(zero_copy_only=False)
            bad = ~np.isfinite(arr)
            if bad.any():
                local = int(np.argmax(bad))
                raise DatasetError(f"{where}: column '{name}' holds a non-finite value "
                                   f"({float(arr[local])!r}) at path_id "
                                   f"{first_path + chunk_start + local}.", where)


def _chunks(col: pa.ChunkedArray):
    start = 0
    for chunk in col.chunks:
        yield start, chunk
        start += len(chunk)
