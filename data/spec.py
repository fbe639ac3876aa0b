"""``DatasetSpec``: what a dataset is made of, and rebuilding parameter objects from their dicts."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators.params import from_dict

from .hashing import HASH_HEX_DIGITS, IDENTITY_KEYS, content_hash
from .schema import PRECISIONS

DEFAULT_CHUNK_PATHS = 1_000_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*(?:-[A-Za-z0-9_.]+)*$")


def _to_dict(obj: Any, field: str) -> dict | None:
    if obj is None:
        return None
    if not hasattr(obj, "to_dict"):
        raise TypeError(f"The '{field}' field of DatasetSpec must be a parameter object with "
                        f"to_dict() (e.g. from simulators). Got {type(obj).__name__} instead.")
    return obj.to_dict()


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to generate (or find) a dataset.

    Attributes:
        name: short label used in the directory name ``<name>-<hash12>``: letters, digits,
            ``_``, ``.`` and single ``-`` separators.
        model, product, sampler: ``simulators`` parameter objects.
        seed: RNG key, integer in [0, 2**64).
        n_paths: number of rows (paths, or antithetic pairs), >= 1.
        antithetic: average each path with its mirror.
        xva: optional ``simulators.XVA``.
        precision: "float64" (default) or "float32": the dtype of x, y and dydx.
        backend: "cpu", "gpu" or "auto" (not part of the hash: results agree across backends).
        chunk_paths: rows per part and per simulation task (not part of the hash).

    Only ``identity()`` (model, product, sampler, xva, seed, n_paths, antithetic, precision)
    enters the content hash; name, backend and chunk_paths do not.
    """

    name: str
    model: Any
    product: Any
    sampler: Any
    seed: int
    n_paths: int
    antithetic: bool = False
    xva: Any = None
    precision: str = "float64"
    backend: str = "cpu"
    chunk_paths: int = DEFAULT_CHUNK_PATHS

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name) or len(self.name) > 100:
            raise ValueError(
                "The 'name' parameter of DatasetSpec must be 1-100 letters, digits, '_', '.' "
                f"and single '-' separators, not starting with '.' or '-'. Got {self.name!r}."
            )
        for field in ("seed", "n_paths", "chunk_paths"):
            value = getattr(self, field)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"The '{field}' parameter of DatasetSpec must be an integer. "
                                 f"Got {value!r} instead.")
            object.__setattr__(self, field, int(value))
        if not 0 <= self.seed < 2**64:
            raise ValueError(f"The 'seed' parameter of DatasetSpec must be in [0, 2**64). Got "
                             f"{self.seed} instead.")
        for field in ("n_paths", "chunk_paths"):
            if getattr(self, field) < 1:
                raise ValueError(f"The '{field}' parameter of DatasetSpec must be >= 1. Got "
                                 f"{getattr(self, field)} instead.")
        if not isinstance(self.antithetic, (bool, np.bool_)):
            raise ValueError(f"The 'antithetic' parameter of DatasetSpec must be True or False. "
                             f"Got {self.antithetic!r} instead.")
        object.__setattr__(self, "antithetic", bool(self.antithetic))
        try:
            precision = np.dtype(self.precision).name
        except TypeError:
            precision = repr(self.precision)
        if precision not in PRECISIONS:
            raise ValueError(f"The 'precision' parameter of DatasetSpec must be one of "
                             f"{PRECISIONS}. Got {self.precision!r} instead.")
        object.__setattr__(self, "precision", precision)
        if self.backend not in ("cpu", "gpu", "auto"):
            raise ValueError("The 'backend' parameter of DatasetSpec must be 'cpu', 'gpu' or "
                             f"'auto'. Got {self.backend!r} instead.")
        for field in ("model", "product", "sampler"):
            _to_dict(getattr(self, field), field)
            if getattr(self, field) is None:
                raise ValueError(f"The '{field}' parameter of DatasetSpec is required.")
        _to_dict(self.xva, "xva")

    def identity(self) -> dict:
        """What determines the numbers, as JSON-ready data (the input of the content hash).

        ``numbers`` is ``simulators.NUMBERS_VERSION`` (RNG and normal transform), so a change of
        those algorithms regenerates datasets instead of reusing stale ones.
        """
        from simulators import NUMBERS_VERSION

        return {
            "numbers": NUMBERS_VERSION,
            "model": _to_dict(self.model, "model"),
            "product": _to_dict(self.product, "product"),
            "sampler": _to_dict(self.sampler, "sampler"),
            "xva": _to_dict(self.xva, "xva"),
            "seed": self.seed,
            "n_paths": self.n_paths,
            "antithetic": self.antithetic,
            "precision": self.precision,
        }

    @property
    def hash(self) -> str:
        """SHA-256 (64 hex digits) of the canonical JSON of ``identity()``."""
        return content_hash(self.identity())

    @property
    def hash12(self) -> str:
        """The first 12 hex digits of ``hash``, used in the directory name."""
        return self.hash[:HASH_HEX_DIGITS]

    @property
    def dirname(self) -> str:
        """``<name>-<hash12>``: the dataset's directory under the root."""
        return f"{self.name}-{self.hash12}"

    @property
    def inputs(self) -> tuple[str, ...]:
        """The model's input names, i.e. the columns of x and dydx."""
        return tuple(self.model.inputs)

    def replace(self, **changes: Any) -> DatasetSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-ready dict of every field (parameter objects as their ``to_dict()``)."""
        d = self.identity()
        d.update(name=self.name, backend=self.backend, chunk_paths=self.chunk_paths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DatasetSpec:
        """Inverse of ``to_dict`` (also accepts a manifest)."""
        missing = [k for k in ("name", *IDENTITY_KEYS) if k not in d]
        if missing:
            raise ValueError(f"Cannot build a DatasetSpec: keys {missing} are missing.")
        return cls(name=d["name"], model=from_dict(d["model"]), product=from_dict(d["product"]),
                   sampler=from_dict(d["sampler"]), seed=d["seed"], n_paths=d["n_paths"],
                   antithetic=d["antithetic"], xva=from_dict(d["xva"]),
                   precision=d["precision"], backend=d.get("backend", "cpu"),
                   chunk_paths=d.get("chunk_paths") or DEFAULT_CHUNK_PATHS)

    @classmethod
    def from_sample(cls, sample: Any, name: str, *, chunk_paths: int = DEFAULT_CHUNK_PATHS
                    ) -> DatasetSpec:
        """The spec of a whole ``simulators.Sample`` (which must start at path 0)."""
        if sample.first_path != 0:
            raise ValueError(f"A dataset must start at path 0; this sample starts at "
                             f"first_path={sample.first_path}.")
        return cls(name=name, model=sample.model, product=sample.product,
                   sampler=sample.sampler, seed=sample.seed, n_paths=sample.n_paths,
                   antithetic=sample.antithetic, xva=sample.xva,
                   precision=str(np.dtype(sample.y.dtype)), backend=sample.backend,
                   chunk_paths=chunk_paths)
