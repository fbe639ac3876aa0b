"""Verified reads: ``open_dataset`` and the ``Dataset`` it returns.

Checks, in order:

* at open (always, cheap): the manifest (``_manifest.json``, or a version-1 ``manifest.json``)
  parses and is consistent (schema version, every field, ``hash`` = SHA-256 of the recorded
  parameters, contiguous parts adding up to ``n_paths``);
  a directory named ``<name>-<hash12>`` carries the manifest's hash; every listed part exists
  with the recorded size (catches truncation) and no stray is present (an entry other than the
  manifest and its parts whose name does not start with ``.`` or ``_``: other readers would
  count it; see ``data.layout``);
  each part's Parquet footer decodes, has the dataset's columns and types, the recorded row
  count, and key-value metadata naming this dataset's hash and the part's path range (catches
  parts from another dataset);
* when a part's data is read (``x``, ``y``, ``dydx``, ``table()``, ``iter_parts()``,
  ``verify()``): the SHA-256 of the bytes read equals the manifest's (unless
  ``verify=False``), Parquet page CRCs match, ``path_id`` is exactly the recorded range, and no
  value is NaN or Inf. Each file is read once: the bytes that are hashed are the bytes decoded.
  ``verify()`` also looks for strays again.

Every failure raises ``DatasetError`` naming the file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DatasetError
from .hashing import HASH_HEX_DIGITS
from .layout import QUARANTINE, as_list, as_path, stray_entries
from .manifest import MANIFEST, PartInfo, find_manifest, read_manifest
from .schema import METADATA_KEY, check_finite, check_schema, column_names

_DIRNAME = re.compile(r"^(?P<name>.+)-(?P<hash>[0-9a-f]{12})$")


def _part_meta(schema_meta: dict | None, where: str) -> dict:
    raw = (schema_meta or {}).get(METADATA_KEY)
    if raw is None:
        raise DatasetError(f"{where}: no diffml metadata in the Parquet footer; this file was "
                           "not written by diffml (a foreign part).", where)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{where}: unreadable diffml metadata in the footer ({exc}).",
                           where) from exc
    except RecursionError:
        raise DatasetError(f"{where}: unreadable diffml metadata in the footer (nested too "
                           "deeply).", where) from None


def footer_backend(path: Path) -> str:
    """The backend recorded in a part's own footer metadata; "" when the footer cannot be
    read (the part is then refused by :func:`read_part`)."""
    try:
        backend = _part_meta(pq.read_schema(path).metadata, str(path)).get("backend")
    except (OSError, ValueError, AttributeError):  # DatasetError and Arrow's errors included
        return ""
    return backend if isinstance(backend, str) else ""


def _check_part_meta(meta: dict, where: str, digest: str, info: PartInfo) -> None:
    if meta.get("hash") != digest:
        raise DatasetError(f"{where}: the part belongs to dataset {str(meta.get('hash'))[:12]} "
                           f"(name {meta.get('name')!r}), not to {digest[:12]} (a foreign "
                           "part).", where)
    part = meta.get("part") or {}
    if part.get("first_path") != info.first_path or part.get("rows") != info.rows:
        raise DatasetError(f"{where}: the part covers paths starting at "
                           f"{part.get('first_path')} ({part.get('rows')} rows) but the "
                           f"manifest expects {info.first_path} ({info.rows} rows).", where)


def check_part_footer(path: Path, info: PartInfo, digest: str, inputs: list[str],
                      precision: str) -> None:
    """Cheap structural check of one part: size, footer, schema, row count, part metadata."""
    where = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DatasetError(f"{where}: part missing (listed in the manifest).", where) from None
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        num_rows = pf.metadata.num_rows
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetError(f"{where}: the Parquet footer cannot be read ({exc}); the file is "
                           f"corrupt or truncated (size {size} bytes, the manifest records "
                           f"{info.bytes}).", where) from exc
    _check_part_meta(_part_meta(schema.metadata, where), where, digest, info)
    check_schema(schema, inputs, precision, where)
    if num_rows != info.rows:
        raise DatasetError(f"{where}: {num_rows} rows, the manifest records {info.rows}.",
                           where)
    if size != info.bytes:
        raise DatasetError(f"{where}: size {size} bytes, the manifest records {info.bytes} "
                           "(truncated or modified).", where)


def read_part(path: Path, info: PartInfo, digest: str, inputs: list[str], precision: str, *,
              verify: bool = True) -> pa.Table:
    """Read one part completely and check it (see the module docstring); returns its table
    without the key-value metadata. ``info.sha256`` is checked when ``verify`` is true."""
    where = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{where}: part missing (listed in the manifest).", where) from None
    except OSError as exc:
        raise DatasetError(f"{where}: cannot be read ({exc}).", where) from exc
    if len(data) != info.bytes:
        raise DatasetError(f"{where}: size {len(data)} bytes, the manifest records "
                           f"{info.bytes} (truncated or modified).", where)
    if verify and info.sha256:
        import hashlib

        got = hashlib.sha256(data).hexdigest()
        if got != info.sha256:
            raise DatasetError(f"{where}: SHA-256 {got[:16]}... does not match the manifest's "
                               f"{info.sha256[:16]}...; the file is corrupt.", where)
    try:
        table = pq.read_table(pa.BufferReader(data), page_checksum_verification=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetError(f"{where}: cannot be decoded ({exc}); the file is corrupt or "
                           "truncated.", where) from exc
    check_schema(table.schema, inputs, precision, where)
    _check_part_meta(_part_meta(table.schema.metadata, where), where, digest, info)
    if table.num_rows != info.rows:
        raise DatasetError(f"{where}: {table.num_rows} rows, the manifest records "
                           f"{info.rows}.", where)
    pid = table.column("path_id").to_numpy()
    if pid[0] != info.first_path or not np.array_equal(
        pid, np.arange(info.first_path, info.first_path + info.rows, dtype=np.int64)
    ):
        raise DatasetError(f"{where}: column 'path_id' is not the range [{info.first_path}, "
                           f"{info.first_path + info.rows}).", where)
    check_finite(table, where, info.first_path)
    return table.replace_schema_metadata(None)


class Dataset:
    """A dataset on disk, opened and structurally verified by ``open_dataset``.

    Arrays are read lazily, on first access, and cached: ``x`` (n, d), ``y`` (n,), ``dydx``
    (n, d) and ``path_id`` (n,), in the dataset's precision, rows ordered by path id. Each
    part's bytes are checked against the manifest's SHA-256 as they are read (unless the
    dataset was opened with ``verify=False``).

    Attributes:
        path: the dataset directory.
        manifest: the parsed manifest (``schema_version`` 1 for a version-1 dataset opened
            read-only: see ``data.manifest``).
        verify_checksums: whether reads check SHA-256 checksums.
        read_threads: threads used by ``load`` and ``verify`` (default: cores, at most 4).
    """

    def __init__(self, path: Path, manifest: dict, *, verify: bool = True) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.verify_checksums = bool(verify)
        self.read_threads = min(4, os.cpu_count() or 1)
        self._arrays: dict[str, np.ndarray] | None = None

    # -- description -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def hash(self) -> str:
        """SHA-256 of the identity (64 hex digits)."""
        return self.manifest["hash"]

    @property
    def n_paths(self) -> int:
        return int(self.manifest["n_paths"])

    def __len__(self) -> int:
        return self.n_paths

    @property
    def inputs(self) -> tuple[str, ...]:
        """Input names: the columns of ``x`` and ``dydx``."""
        return tuple(self.manifest["inputs"])

    @property
    def precision(self) -> str:
        return self.manifest["precision"]

    @property
    def parts(self) -> list[PartInfo]:
        return [PartInfo.from_dict(p) for p in self.manifest["parts"]]

    @property
    def files(self) -> list[Path]:
        """Paths of the Parquet parts, in path order."""
        return [self.path / p["file"] for p in self.manifest["parts"]]

    @property
    def spec(self):
        """The ``DatasetSpec`` (parameter objects rebuilt from the manifest)."""
        from .spec import DatasetSpec

        return DatasetSpec.from_dict(self.manifest)  # the backend its recorded numbers name

    def __repr__(self) -> str:
        return (f"Dataset({str(self.path)!r}, n_paths={self.n_paths}, inputs={self.inputs}, "
                f"precision={self.precision!r}, parts={len(self.manifest['parts'])})")

    # -- reading -----------------------------------------------------------------------------
    def iter_parts(self) -> Iterator[tuple[PartInfo, pa.Table]]:
        """Yield ``(PartInfo, table)`` part by part, each read once and verified; memory stays
        bounded by one part."""
        for info in self.parts:
            yield info, self._read(info)

    def table(self, columns: list[str] | None = None) -> pa.Table:
        """All rows as one ``pyarrow.Table`` (verified; not cached), optionally some columns.

        Raises:
            ValueError: a column that the dataset does not have (the message lists those it
                has); checked before anything is read.
            TypeError: ``columns`` is a single string or not a collection of strings.
        """
        if columns is not None:
            columns = self._columns(columns)
            if not columns:
                raise ValueError("The 'columns' argument of Dataset.table must name at least "
                                 "one column (None: all of them). Got [] instead.")
        tables = [t if columns is None else t.select(columns) for _, t in self.iter_parts()]
        return pa.concat_tables(tables)

    def _columns(self, columns: Any) -> list[str]:
        """``columns`` as a list of this dataset's column names, or a clear error."""
        names = as_list(columns, "Dataset.table", "columns", "a list of column names")
        available = column_names(self.inputs)
        wrong = [c for c in names if not isinstance(c, str)]
        if wrong:
            raise TypeError(f"The 'columns' argument of Dataset.table must be a list of column "
                            f"names (str). Got {wrong[0]!r} in it.")
        unknown = [c for c in names if c not in available]
        if unknown:
            raise ValueError(f"The 'columns' argument of Dataset.table must name columns of "
                             f"{self.path.name} (one of {available}). Got {unknown[0]!r} "
                             "instead.")
        return names

    def to_pandas(self):
        """All rows as a pandas DataFrame."""
        return self.table().to_pandas()

    def load(self) -> Dataset:
        """Read every part into the cached NumPy arrays (one copy from Arrow); returns self.

        Parts are read, verified and copied by up to ``read_threads`` threads (hashing, Parquet
        decoding and copies release the GIL); each part fills its own rows.
        """
        if self._arrays is not None:
            return self
        n, d = self.n_paths, len(self.inputs)
        dtype = np.dtype(self.precision)
        x = np.empty((n, d), dtype=dtype)
        dydx = np.empty((n, d), dtype=dtype)
        y = np.empty(n, dtype=dtype)
        path_id = np.empty(n, dtype=np.int64)

        def fill(info: PartInfo) -> None:
            t = self._read(info)
            lo, hi = info.first_path, info.first_path + info.rows
            path_id[lo:hi] = t.column(0).to_numpy()
            for j, name in enumerate(self.inputs):
                x[lo:hi, j] = t.column(f"x_{name}").to_numpy()
                dydx[lo:hi, j] = t.column(f"dydx_{name}").to_numpy()
            y[lo:hi] = t.column("y").to_numpy()

        self._each_part(fill)
        self._arrays = {"x": x, "y": y, "dydx": dydx, "path_id": path_id}
        return self

    def _read(self, info: PartInfo, verify: bool | None = None) -> pa.Table:
        return read_part(self.path / info.file, info, self.hash, list(self.inputs),
                         self.precision,
                         verify=self.verify_checksums if verify is None else verify)

    def _each_part(self, fn) -> None:
        """Apply ``fn`` to every PartInfo on up to ``read_threads`` threads (errors re-raised,
        the first in part order)."""
        parts = self.parts
        threads = max(1, min(self.read_threads, len(parts)))
        if threads == 1:
            for info in parts:
                fn(info)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads, thread_name_prefix="diffml-read") as pool:
            for _ in pool.map(fn, parts):
                pass

    @property
    def x(self) -> np.ndarray:
        """Inputs, shape (n_paths, n_inputs), columns ordered as ``inputs``."""
        return self.load()._arrays["x"]

    @property
    def y(self) -> np.ndarray:
        """Discounted payoffs, shape (n_paths,)."""
        return self.load()._arrays["y"]

    @property
    def dydx(self) -> np.ndarray:
        """Pathwise differentials dy/dx, shape (n_paths, n_inputs)."""
        return self.load()._arrays["dydx"]

    @property
    def path_id(self) -> np.ndarray:
        """Path indices, int64, shape (n_paths,)."""
        return self.load()._arrays["path_id"]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, y, dydx)``."""
        return self.x, self.y, self.dydx

    def to_torch(self, dtype: Any = None) -> dict[str, Any]:
        """``{"x", "y", "dydx"}`` as CPU torch tensors sharing memory with the NumPy arrays
        (``torch.from_numpy``, no copy) unless ``dtype`` asks for a conversion."""
        import torch

        if dtype is not None and not isinstance(dtype, torch.dtype):
            raise TypeError(f"The 'dtype' argument of Dataset.to_torch must be a torch.dtype "
                            f"(e.g. torch.float32) or None. Got {dtype!r} instead.")
        out = {k: torch.from_numpy(getattr(self, k)) for k in ("x", "y", "dydx")}
        if dtype is not None:
            out = {k: v.to(dtype) for k, v in out.items()}
        return out

    def to_sample(self):
        """The data as a ``simulators.Sample`` (parameter objects rebuilt)."""
        from simulators import Sample

        s = self.spec
        return Sample(x=self.x, y=self.y, dydx=self.dydx, inputs=self.inputs, model=s.model,
                      product=s.product, sampler=s.sampler, seed=s.seed, first_path=0,
                      antithetic=s.antithetic, xva=s.xva, backend=s.backend)

    def arrow_dataset(self):
        """A ``pyarrow.dataset.Dataset`` over the part files (no checksum verification)."""
        import pyarrow.dataset as pads

        return pads.dataset([str(f) for f in self.files], format="parquet")

    def verify(self) -> Dataset:
        """Check for strays, then read and check every part (SHA-256, page CRCs, schema, path
        ids, NaN/Inf) without keeping the data; raises DatasetError on the first problem.
        Returns self."""
        check_strays(self.path, self.manifest)
        self._each_part(lambda info: self._read(info, verify=True))
        return self


def check_strays(path: Path, manifest: dict) -> None:
    """DatasetError naming the first stray in the dataset directory ``path``, if any."""
    try:
        strays = stray_entries(path, {p["file"] for p in manifest["parts"]})
    except OSError as exc:
        raise DatasetError(f"{path}: cannot list the directory ({exc}).", path) from exc
    if strays:
        first = path / strays[0]
        more = f" (and {len(strays) - 1} more: {', '.join(strays[1:])})" if strays[1:] else ""
        raise DatasetError(f"{first}: not listed in the manifest{more}; a stray (foreign, stale "
                           "or misnamed) file that readers pointed at the directory would "
                           f"read as data. data.generate moves strays into {QUARANTINE}/.",
                           first)


def check_structure(path: Path, manifest: dict) -> None:
    """The open-time checks of a dataset directory against its (valid) manifest."""
    m = _DIRNAME.fullmatch(path.name)
    if m and m.group("hash") != manifest["hash"][:HASH_HEX_DIGITS]:
        raise DatasetError(f"{find_manifest(path) or path / MANIFEST}: the manifest's hash "
                           f"{manifest['hash'][:HASH_HEX_DIGITS]} does not match the directory "
                           f"name's {m.group('hash')} (a foreign manifest).", path)
    check_strays(path, manifest)
    for p in manifest["parts"]:
        info = PartInfo.from_dict(p)
        check_part_footer(path / info.file, info, manifest["hash"], manifest["inputs"],
                          manifest["precision"])


def open_dataset(path: str | os.PathLike, *, verify: bool = True) -> Dataset:
    """Open a dataset directory, checking its manifest and the structure of every part.

    Args:
        path: the dataset directory (``datasets/<name>-<hash12>``).
        verify: check each part's SHA-256 when its data is read (default). With False, reads
            still check sizes, footers, schema, Parquet page CRCs, path ids and NaN/Inf.
            ``Dataset.verify()`` checks every checksum eagerly.

    Returns:
        A ``Dataset``; data is read lazily on first access.

    Raises:
        DatasetError: missing, incomplete, corrupt or foreign dataset, naming the file.
        TypeError: ``path`` is not a path (e.g. None).
    """
    path = as_path(path, "open_dataset", "path")
    manifest = read_manifest(path)
    check_structure(path, manifest)
    return Dataset(path, manifest, verify=verify)
