"""``DatasetSpec``: what a dataset is made of, and rebuilding parameter objects from their dicts."""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators import payoff_sign
from simulators.params import from_dict

from .hashing import HASH_HEX_DIGITS, IDENTITY_KEYS, content_hash
from .schema import MAX_PARTS, PRECISIONS

DEFAULT_CHUNK_PATHS = 1_000_000
MAX_CHUNK_PATHS = 10**8
"""Rows of one part (``chunk_paths``): a chunk is simulated, held and written in memory."""
MAX_CHUNK_BYTES = 16 * 2**30
"""A chunk's x, y and dydx in float64, ``chunk_paths x (1 + 2 x inputs) x 8`` bytes (the bound
``pipeline.limits`` puts on a whole dataset, so every valid run configuration fits)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*(?:-[A-Za-z0-9_.]+)*$")
_ROLES = {
    "model": ("a model (BlackScholes, BachelierBasket, BlackScholesBasket, Heston)",
              ("inputs", "dim", "input_bounds")),
    "product": ("a product (European, BasketOption, WorstOf, BestOf, NettingSet)",
                ("encode", "maturity", "sign")),
    "sampler": ("a sampler (FixedSampler, UniformSampler, ForwardSampler)",
                ("validate", "sample")),
    "xva": ("None or an XVA", ("factor",)),
}
_SAMPLE_ATTRIBUTES = ("x", "y", "dydx", "inputs", "model", "product", "sampler", "seed",
                      "first_path", "antithetic", "xva", "backend", "metadata")


def _fail(field: str, rule: str, value: Any) -> None:
    raise ValueError(f"The '{field}' parameter of DatasetSpec must be {rule}. Got {value!r} "
                     "instead.")


def _to_dict(obj: Any, field: str) -> dict | None:
    if obj is None:
        return None
    if not hasattr(obj, "to_dict"):
        raise TypeError(f"The '{field}' parameter of DatasetSpec must be a parameter object "
                        f"with to_dict() (e.g. from simulators). Got {type(obj).__name__} "
                        "instead.")
    return obj.to_dict()


def _integer(field: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        _fail(field, "an integer", value)
    return int(value)


def max_chunk_paths(n_inputs: int) -> int:
    """The largest ``chunk_paths`` for a model of ``n_inputs`` inputs: at most
    ``MAX_CHUNK_PATHS`` rows and ``MAX_CHUNK_BYTES`` of float64 x, y and dydx."""
    return min(MAX_CHUNK_PATHS, MAX_CHUNK_BYTES // ((1 + 2 * n_inputs) * 8))


def _check_sizes(n_paths: int, chunk_paths: int, n_inputs: int) -> None:
    """``chunk_paths`` within what one chunk may hold in memory, and ``n_paths`` within
    ``MAX_PARTS`` parts of ``chunk_paths`` rows."""
    top = max_chunk_paths(n_inputs)
    if not 1 <= chunk_paths <= top:
        _fail("chunk_paths", f"an integer in [1, {top}] (one chunk is held in memory: at most "
              f"{MAX_CHUNK_PATHS} rows and {MAX_CHUNK_BYTES // 2**30} GiB of float64 x, y "
              f"and dydx for {n_inputs} input(s))", chunk_paths)
    if not 1 <= n_paths <= MAX_PARTS * chunk_paths:
        more = f"; a larger chunk_paths, up to {top}, allows more" if chunk_paths < top else ""
        _fail("n_paths", f"an integer in [1, {MAX_PARTS * chunk_paths}] (at most {MAX_PARTS} "
              f"parts of chunk_paths = {chunk_paths} rows{more})", n_paths)


def _check_roles(objects: dict[str, Any]) -> None:
    """Each of model, product, sampler (required) and xva (optional) is of its kind."""
    for field, (kind, attributes) in _ROLES.items():
        obj = objects[field]
        if obj is None and field != "xva":
            raise ValueError(f"The '{field}' parameter of DatasetSpec is required.")
        _to_dict(obj, field)
        if obj is not None and not all(hasattr(obj, a) for a in attributes):
            raise TypeError(f"The '{field}' parameter of DatasetSpec must be {kind}. Got "
                            f"{type(obj).__name__} instead.")


def _check_fit(model: Any, product: Any, sampler: Any, xva: Any) -> None:
    """The checks ``simulators.simulate`` makes before simulating: the product pays on the
    model's number of assets, the sampler gives the model's inputs within their bounds, and an
    XVA comes with a one-signed payoff."""
    name = type(model).__name__
    for field, check in (("product", lambda: product.encode(model.dim)),
                         ("sampler", lambda: sampler.validate(model))):
        try:
            check()
        except ValueError as exc:
            raise ValueError(f"The '{field}' parameter of DatasetSpec must fit the model "
                             f"{name} ({model.dim} asset(s), inputs {tuple(model.inputs)}): "
                             f"{exc}") from None
    if xva is not None and payoff_sign(product, model) == 0:
        _fail("xva", f"None for {type(product).__name__}, whose payoff can change sign (XVA "
              "labels need a one-signed payoff)", xva)


def check_sample(sample: Any, owner: str) -> None:
    """TypeError unless ``sample`` looks like a ``simulators.Sample``."""
    if not all(hasattr(sample, a) for a in _SAMPLE_ATTRIBUTES):
        raise TypeError(f"The 'sample' argument of {owner} must be a simulators.Sample (as "
                        f"returned by simulators.simulate). Got {type(sample).__name__} "
                        "instead.")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to generate (or find) a dataset.

    Attributes:
        name: short label used in the directory name ``<name>-<hash12>``: letters, digits,
            ``_``, ``.`` and single ``-`` separators.
        model, product, sampler: ``simulators`` parameter objects; the product must pay on
            the model's number of assets and the sampler give the model's inputs (checked here,
            with the checks ``simulators.simulate`` makes, so a misfit fails at construction).
        seed: RNG key, integer in [0, 2**64).
        n_paths: number of rows (paths, or antithetic pairs), in [1, MAX_PARTS x chunk_paths]:
            a dataset has at most ``MAX_PARTS`` (100000) parts, so a large dataset needs a
            large ``chunk_paths`` (at most 10**13 rows in all).
        antithetic: average each path with its mirror.
        xva: optional ``simulators.XVA``; None for a product whose payoff can change sign
            (``product.sign`` 0), as ``simulators.simulate`` requires.
        precision: "float64" (default) or "float32": the dtype of x, y and dydx.
        backend: "cpu", "gpu" or "auto". Part of the hash through ``numbers`` (see
            :meth:`identity`): the GPU's last bits differ from the CPU's, so the two never
            share a dataset; "auto" hashes as the backend it resolves to.
        chunk_paths: rows per part and per simulation task (not part of the hash). One
            chunk is simulated and written in memory, so it is bounded by
            ``max_chunk_paths(n_inputs)``: at most ``MAX_CHUNK_PATHS`` (10**8) rows and
            ``MAX_CHUNK_BYTES`` (16 GiB) of float64 x, y and dydx (e.g. 10**8 rows for one input,
            about 10.7 million for 100). The default, 10**6, is lowered to that bound for
            models of more than about 1,000 inputs.

    Only ``identity()`` (model, product, sampler, xva, seed, n_paths, antithetic, precision,
    numbers) enters the content hash; name and chunk_paths do not, and the backend only as
    CPU or GPU numbers.
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
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name) or \
                len(self.name) > 100:
            raise ValueError(
                "The 'name' parameter of DatasetSpec must be 1-100 letters, digits, '_', '.' "
                f"and single '-' separators, not starting with '.' or '-'. Got {self.name!r}."
            )
        for field in ("seed", "n_paths", "chunk_paths"):
            object.__setattr__(self, field, _integer(field, getattr(self, field)))
        if not 0 <= self.seed < 2**64:
            _fail("seed", "an integer in [0, 2**64)", self.seed)
        if not isinstance(self.antithetic, (bool, np.bool_)):
            _fail("antithetic", "True or False", self.antithetic)
        object.__setattr__(self, "antithetic", bool(self.antithetic))
        try:  # np.dtype(None) is float64: None is refused, not taken for a default
            precision = repr(None) if self.precision is None else np.dtype(self.precision).name
        except TypeError:
            precision = repr(self.precision)
        if precision not in PRECISIONS:
            _fail("precision", f"one of {PRECISIONS}", self.precision)
        object.__setattr__(self, "precision", precision)
        if self.backend not in ("cpu", "gpu", "auto"):
            _fail("backend", "'cpu', 'gpu' or 'auto'", self.backend)
        _check_roles({"model": self.model, "product": self.product, "sampler": self.sampler,
                      "xva": self.xva})
        _check_fit(self.model, self.product, self.sampler, self.xva)
        top = max_chunk_paths(len(self.model.inputs))
        if self.chunk_paths == DEFAULT_CHUNK_PATHS and top < DEFAULT_CHUNK_PATHS:
            object.__setattr__(self, "chunk_paths", top)  # the default fits every model
        _check_sizes(self.n_paths, self.chunk_paths, len(self.model.inputs))

    def identity(self) -> dict:
        """What determines the numbers, as JSON-ready data (the input of the content hash).

        ``numbers`` is ``simulators.numbers_id`` of :attr:`numbers_backend`: the RNG and
        normal-transform version (``simulators.NUMBERS_VERSION``), with ``/cuda`` appended for
        the GPU, whose fused multiply-adds and libdevice ``exp``/``log`` change the last bits. So
        a change of those algorithms, or of the backend between CPU and GPU, regenerates
        datasets instead of reusing (or mixing in) numbers made otherwise.
        """
        from simulators import numbers_id

        return {
            "numbers": numbers_id(self.numbers_backend),
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
    def numbers_backend(self) -> str:
        """"cpu" or "gpu": the backend whose numbers the dataset holds. ``backend="auto"`` is
        resolved here, in the process that asks (the GPU when CUDA is usable there);
        ``data.generate`` resolves it once and sends the resolved spec to its workers."""
        if self.backend == "auto":
            return _auto_backend()
        return self.backend

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
        """Inverse of ``to_dict`` (also accepts a manifest).

        A recorded ``chunk_paths`` above today's ``max_chunk_paths`` (a dataset written before
        that bound) is lowered to it: it is not part of the hash, so the dataset is the same.
        The recorded ``numbers`` decide the backend ("gpu" when they end in ``/cuda``, else
        "cpu"), so the spec has the recorded hash on any machine: "auto" comes back resolved,
        and a manifest whose parts came from both backends, or a GPU dataset written before
        GPU numbers hashed apart, comes back as the CPU spec it was hashed as.
        """
        missing = [k for k in ("name", *IDENTITY_KEYS) if k not in d]
        if missing:
            raise ValueError(f"Cannot build a DatasetSpec: keys {missing} are missing.")
        model = from_dict(d["model"])
        chunk = d.get("chunk_paths") or DEFAULT_CHUNK_PATHS
        if isinstance(chunk, int) and hasattr(model, "inputs"):
            chunk = min(chunk, max_chunk_paths(len(model.inputs)))
        return cls(name=d["name"], model=model, product=from_dict(d["product"]),
                   sampler=from_dict(d["sampler"]), seed=d["seed"], n_paths=d["n_paths"],
                   antithetic=d["antithetic"], xva=from_dict(d["xva"]),
                   precision=d["precision"], backend=_recorded_backend(d),
                   chunk_paths=chunk)

    @classmethod
    def from_sample(cls, sample: Any, name: str, *, chunk_paths: int = DEFAULT_CHUNK_PATHS
                    ) -> DatasetSpec:
        """The spec of a whole ``simulators.Sample`` (which must start at path 0)."""
        check_sample(sample, "DatasetSpec.from_sample")
        if sample.first_path != 0:
            raise ValueError(f"A dataset must start at path 0; this sample starts at "
                             f"first_path={sample.first_path}.")
        return cls(name=name, model=sample.model, product=sample.product,
                   sampler=sample.sampler, seed=sample.seed, n_paths=sample.n_paths,
                   antithetic=sample.antithetic, xva=sample.xva,
                   precision=str(np.dtype(sample.y.dtype)), backend=sample.backend,
                   chunk_paths=chunk_paths)


def _recorded_backend(d: dict) -> Any:
    """The backend of a spec dict or manifest: the one its ``numbers`` name when recorded,
    else its ``backend`` field (default "cpu")."""
    from simulators.rng import backend_of_numbers

    numbers = d.get("numbers")
    if isinstance(numbers, str):
        return backend_of_numbers(numbers)
    return d.get("backend", "cpu")


@functools.lru_cache(maxsize=1)
def _auto_backend() -> str:
    """``simulators.resolve_backend("auto")``, once per process. It probes CUDA, which
    initialises the driver: a process pool forked after it cannot use the GPU (use the spawn
    start method, as the pipeline's Dask workers do). Any failure of the probe means "cpu"."""
    try:
        from simulators.simulate import resolve_backend

        return resolve_backend("auto")
    except Exception as exc:  # noqa: BLE001 - a probe that fails leaves the CPU
        import logging

        logging.getLogger(__name__).warning("backend='auto': the GPU probe failed (%s: %s); "
                                            "the CPU's numbers", type(exc).__name__, exc)
        return "cpu"
