"""Initial-state samplers: where each training example's inputs x come from.

A sampler turns path indices into inputs ``x`` of shape (n_paths, n_inputs), ordered as
``model.inputs``. Its randomness comes from the counter-based RNG on its own streams (1 for
normals, 2 for uniforms), so x for a path depends only on (seed, path index).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _validation as v
from . import rng

STREAM_UNIFORM = 2


def input_domain(model, name: str) -> tuple[float, float, bool, bool]:
    """``(low, high, low_open, high_open)``: the admissible range of the model input ``name``
    (``model.input_bounds()``). A lower bound of 0 is open (a spot, a volatility) unless the
    model's ``open_ends`` says otherwise (Heston: a variance of 0 is a state its scheme reaches;
    a correlation of +-1 as an input has no pathwise derivative)."""
    lo, hi = model.input_bounds()[name]
    lo_open, hi_open = getattr(model, "open_ends", {}).get(name, (lo == 0.0, False))
    return lo, hi, lo_open, hi_open


def outside_domain(model, name: str, values: np.ndarray) -> np.ndarray:
    """Boolean mask of ``values`` outside the domain of input ``name`` (NaN is outside)."""
    lo, hi, lo_open, hi_open = input_domain(model, name)
    col = np.asarray(values, dtype=np.float64)
    inside = ((col > lo) if lo_open else (col >= lo)) & ((col < hi) if hi_open else (col <= hi))
    return ~inside


def domain_rule(model, name: str, fmt: str = "") -> str:
    """The domain of input ``name`` in words: "> 0", "in (0, 1]", "in [-1, 1]", ">= 0"...
    (numbers formatted with ``fmt``)."""
    lo, hi, lo_open, hi_open = input_domain(model, name)
    if hi == np.inf:
        return f"{'>' if lo_open else '>='} {lo:{fmt}}"
    return f"in {'(' if lo_open else '['}{lo:{fmt}}, {hi:{fmt}}{')' if hi_open else ']'}"


def _check_bounds(owner: str, field_name: str, model, values: np.ndarray) -> None:
    for name, col in zip(model.inputs, values.T, strict=True):
        bad = outside_domain(model, name, col)
        if np.any(bad):
            v.fail(owner, f"{field_name} ({name})",
                   domain_rule(model, name) + f" for {type(model).__name__}",
                   float(col[np.argmax(bad)]))


@dataclass(frozen=True)
class FixedSampler:
    """Every path starts from the same inputs ``state`` (shape (n_inputs,))."""

    state: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", v.vector("FixedSampler", "state", self.state))

    def validate(self, model) -> None:
        if len(self.state) != len(model.inputs):
            v.fail("FixedSampler", "state", f"of length {len(model.inputs)} {model.inputs}",
                   self.state)
        _check_bounds("FixedSampler", "state", model, np.asarray([self.state]))

    def sample(self, model, seed: int, first_path: int, n_paths: int) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.state), (n_paths, len(self.state))).copy()

    def to_dict(self) -> dict:
        return {"type": "FixedSampler", "state": list(self.state)}


@dataclass(frozen=True)
class UniformSampler:
    """Inputs drawn independently and uniformly in the box [low, high] (shapes (n_inputs,))."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self) -> None:
        o = "UniformSampler"
        low = v.vector(o, "low", self.low)
        high = v.vector(o, "high", self.high)
        if len(high) != len(low):
            v.fail(o, "high", f"of the same length as low ({len(low)})", high)
        below = [i for i, (lo, h) in enumerate(zip(low, high, strict=True)) if h < lo]
        if below:
            v.fail(o, "high", f">= low in every entry (entry {below[0]}: low {low[below[0]]})",
                   high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def validate(self, model) -> None:
        d = len(model.inputs)
        if len(self.low) != d:
            v.fail("UniformSampler", "low", f"of length {d} {model.inputs}", self.low)
        _check_bounds("UniformSampler", "low", model, np.asarray([self.low]))
        _check_bounds("UniformSampler", "high", model, np.asarray([self.high]))

    def sample(self, model, seed: int, first_path: int, n_paths: int) -> np.ndarray:
        u = rng.uniforms(seed, n_paths, len(self.low), first_path=first_path,
                         stream=STREAM_UNIFORM)
        lo = np.asarray(self.low)
        return lo + (np.asarray(self.high) - lo) * u

    def to_dict(self) -> dict:
        return {"type": "UniformSampler", "low": list(self.low), "high": list(self.high)}


@dataclass(frozen=True)
class ForwardSampler:
    """The state at T1 = ``horizon`` simulated from ``spot`` with the model's dynamics, with its
    volatility multiplied by ``vol_mult`` to widen the sampled range (Huge & Savine).

    Black-Scholes (and Black-Scholes baskets): S1 = S0 exp(-v^2 T1/2 + v sqrt(T1) N), v = vol_mult
    sigma (driftless, correlated through the model's correlation). Bachelier: S1 = S0 +
    vol_mult sqrt(T1) L N. Heston: (S, v) simulated to T1 with the model's own scheme, the
    spot's diffusion scaled by vol_mult (driftless in ln S); the variance keeps its own
    dynamics (xi unscaled).

    Attributes:
        spot: S0, one value or one per asset.
        horizon: T1 in years, > 0.
        vol_mult: multiplier of the volatility, > 0 (1.5 in the source).
        params: ranges ``{"vol": (low, high)}`` for model parameters declared as inputs; they are
            drawn uniformly.
        variance: initial variance for Heston, >= 0 (default: the model's theta).
    """

    spot: float | tuple[float, ...]
    horizon: float
    vol_mult: float = 1.5
    params: dict[str, tuple[float, float]] = field(default_factory=dict)
    variance: float | None = None

    def __post_init__(self) -> None:
        o = "ForwardSampler"
        object.__setattr__(self, "spot", v.vector(o, "spot", self.spot))
        object.__setattr__(self, "horizon", v.positive(o, "horizon", self.horizon))
        object.__setattr__(self, "vol_mult", v.positive(o, "vol_mult", self.vol_mult))
        params = {}
        for name, rng_ in dict(self.params).items():
            lo, hi = v.vector(o, f"params[{name!r}]", rng_, 2)
            if hi < lo:
                v.fail(o, f"params[{name!r}]", "a (low, high) pair with low <= high", rng_)
            params[str(name)] = (lo, hi)
        object.__setattr__(self, "params", params)
        if self.variance is not None:
            # >= 0 as Heston's variance input (``input_domain``): 0 is a state its scheme reaches
            object.__setattr__(self, "variance", v.non_negative(o, "variance", self.variance))

    def __hash__(self) -> int:
        return hash((self.spot, self.horizon, self.vol_mult, tuple(sorted(self.params.items())),
                     self.variance))

    def spots(self, dim: int) -> np.ndarray:
        if len(self.spot) == 1:
            return np.full(dim, self.spot[0])
        if len(self.spot) != dim:
            v.fail("ForwardSampler", "spot", f"a scalar or of length {dim}", self.spot)
        return np.asarray(self.spot)

    def validate(self, model) -> None:
        state = model.state_inputs
        extra = [name for name in model.inputs if name not in state]
        missing = [name for name in extra if name not in self.params]
        unknown = [name for name in self.params if name not in extra]
        if missing or unknown:
            v.fail("ForwardSampler", "params", f"ranges for exactly {extra}", self.params)
        self.spots(model.dim)
        if hasattr(model, "steps"):  # Heston: the horizon's time steps are bounded
            model.steps(self.horizon, "horizon", "ForwardSampler")
        if self.variance is not None and "variance" not in state:
            v.fail("ForwardSampler", "variance", f"None for {type(model).__name__} (an initial "
                   "variance is a Heston state)", self.variance)
        if model.input_bounds()[state[0]][0] == 0.0 and min(self.spot) <= 0.0:
            v.fail("ForwardSampler", "spot", f"> 0 for {type(model).__name__}", self.spot)
        if extra:
            lows = [self.params[name][0] for name in extra]
            highs = [self.params[name][1] for name in extra]
            for name, lo, hi in zip(extra, lows, highs, strict=True):
                if outside_domain(model, name, np.array([lo, hi])).any():
                    v.fail("ForwardSampler", f"params[{name!r}]",
                           f"within the admissible range {domain_rule(model, name)}", (lo, hi))

    def sample(self, model, seed: int, first_path: int, n_paths: int) -> np.ndarray:
        state = model.forward_state(self, seed, first_path, n_paths)
        extra = [name for name in model.inputs if name not in model.state_inputs]
        if not extra:
            return state
        u = rng.uniforms(seed, n_paths, len(extra), first_path=first_path,
                         stream=STREAM_UNIFORM)
        lo = np.asarray([self.params[name][0] for name in extra])
        hi = np.asarray([self.params[name][1] for name in extra])
        return np.concatenate([state, lo + (hi - lo) * u], axis=1)

    def to_dict(self) -> dict:
        return {"type": "ForwardSampler", "spot": list(self.spot), "horizon": self.horizon,
                "vol_mult": self.vol_mult,
                "params": {k: list(val) for k, val in sorted(self.params.items())},
                "variance": self.variance}
