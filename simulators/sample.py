"""The result of a simulation: inputs, discounted payoffs and their pathwise gradients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .rng import numbers_id


@dataclass(frozen=True, eq=False)
class Sample:
    """Training examples, one per Monte-Carlo path (or antithetic pair).

    Attributes:
        x: inputs at the input date, shape (n_paths, n_inputs), columns named by ``inputs``.
        y: payoff discounted to the input date (times the XVA factor if any), shape (n_paths,).
        dydx: pathwise derivative of y with respect to x, shape (n_paths, n_inputs).
        inputs: input names, e.g. ("spot",), ("spot", "vol"), ("spot_0", ..., "spot_6").
        model, product, sampler, xva: the parameter objects that produced the numbers.
        seed, first_path: the RNG key and the index of the first path (path ids are
            first_path .. first_path + n_paths - 1).
        antithetic: whether each row averages a path and its mirror.
        backend: "cpu" or "gpu"; arrays are NumPy on the CPU and may be CuPy on the GPU.
        stats: timings and other run statistics.
    """

    x: Any
    y: Any
    dydx: Any
    inputs: tuple[str, ...]
    model: Any
    product: Any
    sampler: Any
    seed: int
    first_path: int = 0
    antithetic: bool = False
    xva: Any = None
    backend: str = "cpu"
    stats: dict = field(default_factory=dict, compare=False)

    @property
    def n_paths(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def path_id(self) -> np.ndarray:
        """Path indices, int64 as in the datasets' ``path_id`` column, shape (n_paths,).
        ``OverflowError`` in one line for indices past 2**63 - 1 (``simulate`` takes first
        paths up to 2**64 - n: the counters are 64-bit)."""
        last = self.first_path + self.n_paths - 1
        if last > np.iinfo(np.int64).max:
            raise OverflowError(f"Sample.path_id: path indices up to {last} do not fit int64 "
                                "(the datasets' path_id column); use first_path < 2**63 - "
                                "n_paths to have them")
        return np.arange(self.first_path, self.first_path + self.n_paths, dtype=np.int64)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.y.dtype)

    def price(self) -> tuple[float, float]:
        """Monte-Carlo mean of y and its standard error (meaningful with a FixedSampler);
        ``ValueError`` for one path (no standard error)."""
        self._two_paths("price")
        y = np.asarray(self.y, dtype=np.float64)
        return float(y.mean()), float(y.std(ddof=1) / np.sqrt(len(y)))

    def gradient(self) -> tuple[np.ndarray, np.ndarray]:
        """Monte-Carlo means of dydx and their standard errors, shapes (n_inputs,);
        ``ValueError`` for one path."""
        self._two_paths("gradient")
        g = np.asarray(self.dydx, dtype=np.float64)
        return g.mean(axis=0), g.std(axis=0, ddof=1) / np.sqrt(len(g))

    def _two_paths(self, what: str) -> None:
        if self.n_paths < 2:
            raise ValueError(f"Sample.{what} needs n_paths >= 2 for a standard error. Got "
                             f"{self.n_paths} instead.")

    def to_numpy(self) -> Sample:
        """The same sample with host (NumPy) arrays."""
        def host(a):
            if hasattr(a, "get"):  # CuPy
                return a.get()
            if hasattr(a, "copy_to_host"):  # Numba device array
                return a.copy_to_host()
            return np.asarray(a)

        return Sample(host(self.x), host(self.y), host(self.dydx), self.inputs, self.model,
                      self.product, self.sampler, self.seed, self.first_path, self.antithetic,
                      self.xva, self.backend, dict(self.stats))

    def metadata(self) -> dict:
        """Everything that determined the numbers, as JSON-ready dicts."""
        return {
            "model": self.model.to_dict(),
            "product": self.product.to_dict(),
            "sampler": self.sampler.to_dict(),
            "xva": None if self.xva is None else self.xva.to_dict(),
            "seed": int(self.seed),
            "first_path": int(self.first_path),
            "n_paths": self.n_paths,
            "antithetic": bool(self.antithetic),
            "precision": str(self.dtype),
            "backend": self.backend,
            "inputs": list(self.inputs),
            "numbers": numbers_id(self.backend),
        }
