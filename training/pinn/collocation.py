"""Collocation points and quadrature weights on ``[0, T] x box``.

A collocation set is split into named point sets: ``"initial"`` (tau = 0), one per face of the
state box (``Face.name``), and ``"interior"``. Each set carries quadrature weights summing to 1,
so every loss term is a weighted mean square (an approximation of the normalised integral,
except for a :class:`ClusteredGrid` with ``state_weights="nodes"``, which weighs each state
node alike and so the clustered region more).

* :class:`UniformGrid` - tensor grid with trapezoidal weights (the source's choice). Grid points
  on tau = 0 form the initial set; other points on a face go to the first matching face in
  ``problem.faces()`` order; within a set the full-grid trapezoid weights are renormalised, which
  equals the set's own trapezoidal rule.
* :class:`ClusteredGrid` - the same with sinh-stretched state nodes clustered where the value
  bends (``problem.cluster_hints()``) and non-uniform trapezoidal weights (or, with
  ``state_weights="nodes"``, one weight per state node).
* :class:`SobolSampler`, :class:`RandomSampler` - scrambled Sobol or uniform random points with
  equal weights, ``n_interior`` inside, ``n_initial`` on tau = 0, ``n_boundary`` on each face.
Columns of every point array: ``(tau, x_1, ..., x_d)``; for a parametric problem
(:class:`~training.pinn.problems.ParametricPDE`) :func:`add_parameter_samples` appends the m
declared parameters, ``(tau, x_1, ..., x_d, p_1, ..., p_m)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import qmc

from .. import _validation as v
from .options import StateWeights
from .problems.base import Face, PDEProblem


@dataclass(frozen=True)
class PointSet:
    """Points ``(n, 1 + d)`` (columns tau, x) with weights ``(n,)`` summing to 1."""

    name: str
    points: np.ndarray
    weights: np.ndarray
    face: Face | None = None

    def __len__(self) -> int:
        return len(self.weights)


def trapezoid_weights(n: int, low: float, high: float) -> np.ndarray:
    """Composite trapezoidal weights of ``n >= 2`` uniform nodes on [low, high].

    They sum to ``high - low`` and integrate polynomials of degree <= 1 exactly.
    """
    v.positive_int("trapezoid_weights", "n", n, minimum=2)
    return trapezoid_weights_nodes(np.linspace(low, high, n))


def _normalise(w: np.ndarray) -> np.ndarray:
    return w / w.sum()


#: The most collocation points a set may have (every point set and face together, before the
#: copies of a parametric problem): far beyond what a PINN trains on (the recipes use about 10**4),
#: and it stops a typo such as ``n_space=10**9`` before it exhausts the memory.
MAX_POINTS = 10**7


def _check_points(owner: str, field: str, value: object, total: int, formula: str) -> None:
    """Refuse a collocation set of ``total`` > :data:`MAX_POINTS` points, naming ``field`` (of
    ``value``) and how the total comes about (``formula``)."""
    if total > MAX_POINTS:
        v.fail(owner, field, f"keep the collocation set within {MAX_POINTS:,} points "
                             f"({formula} = {total:,})", value)


def _is_nodes(n: object) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 2


_NODES_RULE = "be an integer >= 2 or a non-empty tuple of integers >= 2 (one per state variable)"


def _check_grid(grid: UniformGrid | ClusteredGrid) -> None:
    """Check ``n_tau`` and ``n_space`` of a tensor grid (``n_space`` an int >= 2 or a non-empty
    tuple or list of them, a list stored as a tuple) and its size for one state variable per
    entry."""
    owner = type(grid).__name__
    v.positive_int(owner, "n_tau", grid.n_tau, minimum=2)
    ns = grid.n_space
    entries = tuple(ns) if isinstance(ns, (tuple, list)) else (ns,)
    if not entries or not all(_is_nodes(n) for n in entries):
        v.fail(owner, "n_space", _NODES_RULE, ns)
    if isinstance(ns, list):
        object.__setattr__(grid, "n_space", entries)
    _grid_nodes(grid, len(entries))


def _grid_nodes(grid: UniformGrid | ClusteredGrid, d: int) -> tuple[int, ...]:
    """Nodes per state variable of a grid on ``d`` variables (its size checked)."""
    owner = type(grid).__name__
    ns = (grid.n_space,) * d if isinstance(grid.n_space, int) else tuple(grid.n_space)
    if len(ns) != d:
        v.fail(owner, "n_space", f"have one entry per state variable ({d})", ns)
    if isinstance(grid.n_space, int):
        formula = "n_tau x n_space" + ("" if d == 1 else f"^{d}")
    else:
        formula = "n_tau x product of n_space"
    field = "n_tau" if grid.n_tau > max(ns) else "n_space"
    _check_points(owner, field, getattr(grid, field), grid.n_tau * math.prod(ns), formula)
    return ns


@dataclass(frozen=True)
class UniformGrid:
    """Uniform tensor grid: ``n_tau`` times in [0, T] and ``n_space`` nodes per state variable.

    Attributes:
        n_tau: number of time nodes (>= 2).
        n_space: nodes per state variable (>= 2; an int for all, or a tuple with one per
            variable).

    The grid may have at most :data:`MAX_POINTS` points in all.
    """

    n_tau: int = 51
    n_space: int | tuple[int, ...] = 201

    def __post_init__(self) -> None:
        _check_grid(self)

    def build(self, problem: PDEProblem, seed: int = 0) -> dict[str, PointSet]:
        d = problem.dim
        ns = _grid_nodes(self, d)
        axes = [np.linspace(0.0, problem.maturity, self.n_tau)]
        weights = [trapezoid_weights(self.n_tau, 0.0, problem.maturity)]
        for i in range(d):
            axes.append(np.linspace(problem.lower[i], problem.upper[i], ns[i]))
            weights.append(trapezoid_weights(ns[i], problem.lower[i], problem.upper[i]))
        return _tensor_sets(problem, axes, weights)

    def to_dict(self) -> dict[str, Any]:
        ns = self.n_space if isinstance(self.n_space, int) else list(self.n_space)
        return {"type": "UniformGrid", "n_tau": self.n_tau, "n_space": ns}


def stretched_nodes(n: int, low: float, high: float, center: float, width: float | None
                    ) -> np.ndarray:
    """``n >= 2`` nodes on [low, high] clustered at ``center``: ``x = center + width sinh(xi)``
    with xi uniform (``width=None``: uniform nodes). Both ends are nodes; a smaller width clusters
    more strongly (spacing at the center is about ``width`` times the uniform xi step)."""
    v.positive_int("stretched_nodes", "n", n, minimum=2)
    if width is None:
        return np.linspace(low, high, n)
    v.positive("stretched_nodes", "width", width)
    xi = np.linspace(np.arcsinh((low - center) / width), np.arcsinh((high - center) / width), n)
    x = center + width * np.sinh(xi)
    x[0], x[-1] = low, high
    return x


def trapezoid_weights_nodes(x: np.ndarray) -> np.ndarray:
    """Composite trapezoidal weights of increasing nodes ``x`` (uniform or not).

    They sum to ``x[-1] - x[0]`` and integrate polynomials of degree <= 1 exactly."""
    h = np.diff(x)
    w = np.zeros(len(x))
    w[:-1] += 0.5 * h
    w[1:] += 0.5 * h
    return w


def _tensor_sets(problem: PDEProblem, axes: list[np.ndarray], weights: list[np.ndarray]
                 ) -> dict[str, PointSet]:
    """Split a tensor grid (axes tau, x_1, ..., x_d with per-axis weights) into named point sets:
    tau = 0 points form "initial", other points on a face go to the first matching face in
    ``problem.faces()`` order, the rest is "interior"; weights renormalised per set."""
    d = problem.dim
    mesh = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([m.ravel() for m in mesh], axis=1)
    wmesh = np.meshgrid(*weights, indexing="ij")
    w = np.prod(np.stack([m.ravel() for m in wmesh], axis=1), axis=1)
    idx = [np.indices(mesh[0].shape)[k].ravel() for k in range(d + 1)]
    taken = idx[0] == 0
    out = {"initial": PointSet("initial", pts[taken], _normalise(w[taken]))}
    for face in problem.faces():
        k = face.axis + 1
        on = (idx[k] == 0) if face.side == "min" else (idx[k] == len(axes[k]) - 1)
        on &= ~taken
        out[face.name] = PointSet(face.name, pts[on], _normalise(w[on]), face)
        taken |= on
    out["interior"] = PointSet("interior", pts[~taken], _normalise(w[~taken]))
    return out


@dataclass(frozen=True)
class ClusteredGrid:
    """Tensor grid whose state nodes cluster where the value bends (sinh stretching), with
    non-uniform trapezoidal weights (the loss still approximates the same integral) or, with
    ``state_weights="nodes"``, equal weights per node along the state axes.

    Each state variable uses ``problem.cluster_hints()`` (centre and width per variable: the strike
    for spots, v = 0 for the Heston variance) with the width multiplied by ``stretch``; tau nodes
    are ``T (k / (n_tau - 1))^tau_power`` (``tau_power`` > 1 clusters at tau = 0).

    Attributes:
        n_tau: number of time nodes (>= 2).
        n_space: nodes per state variable (>= 2; an int for all, or a tuple with one per
            variable).
        stretch: multiplies the problem's cluster widths (> 0; larger is closer to uniform).
        tau_power: exponent of the time map (>= 1).
        state_weights: :class:`~training.pinn.options.StateWeights`: "area" (default;
            trapezoidal, the integral over the box) or "nodes" (each node of a state axis
            weighs the same, so the region where the nodes cluster weighs more; the tau axis
            keeps its trapezoidal weights). On a box much wider than the region of interest
            (S up to 4 K) the area weights let the far field dominate the loss.

    The grid may have at most :data:`MAX_POINTS` points in all.
    """

    n_tau: int = 21
    n_space: int | tuple[int, ...] = 41
    stretch: float = 1.0
    tau_power: float = 1.0
    state_weights: StateWeights = StateWeights.AREA

    def __post_init__(self) -> None:
        _check_grid(self)
        object.__setattr__(self, "stretch", v.positive("ClusteredGrid", "stretch", self.stretch))
        if v.real("ClusteredGrid", "tau_power", self.tau_power) < 1.0:
            v.fail("ClusteredGrid", "tau_power", "be >= 1", self.tau_power)
        object.__setattr__(self, "tau_power", float(self.tau_power))
        object.__setattr__(self, "state_weights", v.option("ClusteredGrid", "state_weights",
                                                           self.state_weights, StateWeights))

    def build(self, problem: PDEProblem, seed: int = 0) -> dict[str, PointSet]:
        ns = _grid_nodes(self, problem.dim)
        tau = problem.maturity * np.linspace(0.0, 1.0, self.n_tau) ** self.tau_power
        axes, weights = [tau], [trapezoid_weights_nodes(tau)]
        for i, (center, width) in enumerate(problem.cluster_hints()):
            x = stretched_nodes(ns[i], problem.lower[i], problem.upper[i], center,
                                None if width is None else width * self.stretch)
            axes.append(x)
            weights.append(trapezoid_weights_nodes(x) if self.state_weights == StateWeights.AREA
                           else np.ones_like(x))
        return _tensor_sets(problem, axes, weights)

    def to_dict(self) -> dict[str, Any]:
        ns = self.n_space if isinstance(self.n_space, int) else list(self.n_space)
        out = {"type": "ClusteredGrid", "n_tau": self.n_tau, "n_space": ns,
               "stretch": self.stretch, "tau_power": self.tau_power}
        if self.state_weights != StateWeights.AREA:  # absent: the default, as before the field
            out["state_weights"] = str(self.state_weights)
        return out


@dataclass(frozen=True)
class _Sampler:
    """Equal-weight random points: ``n_interior`` inside, ``n_initial`` on tau = 0 and
    ``n_boundary`` on each face (each >= 1; at most :data:`MAX_POINTS` in all)."""

    n_interior: int = 8192
    n_initial: int = 1024
    n_boundary: int = 512

    def __post_init__(self) -> None:
        o = type(self).__name__
        for name in ("n_interior", "n_initial", "n_boundary"):
            v.positive_int(o, name, getattr(self, name))
        self._check_size(1)

    def _check_size(self, n_faces: int) -> None:
        """Refuse more than :data:`MAX_POINTS` points with ``n_faces`` faces."""
        counts = {"n_interior": self.n_interior, "n_initial": self.n_initial,
                  "n_boundary": n_faces * self.n_boundary}
        field = max(counts, key=lambda k: counts[k])
        total = sum(counts.values())
        faces = "" if n_faces == 1 else f"{n_faces} faces x "
        _check_points(type(self).__name__, field, getattr(self, field), total,
                      f"n_interior + n_initial + {faces}n_boundary")

    def _unit(self, n: int, dim: int, seed: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def build(self, problem: PDEProblem, seed: int = 0) -> dict[str, PointSet]:
        d = problem.dim
        self._check_size(len(problem.faces()))
        lo = np.array([0.0, *problem.lower])
        hi = np.array([problem.maturity, *problem.upper])
        out: dict[str, PointSet] = {}

        def equal(n: int) -> np.ndarray:
            return np.full(n, 1.0 / n)

        u = self._unit(self.n_interior, d + 1, seed)
        out_int = lo + u * (hi - lo)
        ini = lo + np.concatenate(
            [np.zeros((self.n_initial, 1)), self._unit(self.n_initial, d, seed + 1)], axis=1
        ) * (hi - lo)
        ini[:, 0] = 0.0
        out["initial"] = PointSet("initial", ini, equal(self.n_initial))
        for j, face in enumerate(problem.faces()):
            p = lo + self._unit(self.n_boundary, d + 1, seed + 2 + j) * (hi - lo)
            k = face.axis + 1
            p[:, k] = lo[k] if face.side == "min" else hi[k]
            out[face.name] = PointSet(face.name, p, equal(self.n_boundary), face)
        out["interior"] = PointSet("interior", out_int, equal(self.n_interior))
        return out


@dataclass(frozen=True)
class SobolSampler(_Sampler):
    """Scrambled Sobol points (scipy.stats.qmc), equal weights; counts rounded up to powers of 2
    are not required (scipy warns about balance only)."""

    def _unit(self, n: int, dim: int, seed: int) -> np.ndarray:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return qmc.Sobol(d=dim, scramble=True, rng=np.random.default_rng(seed)).random(n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "SobolSampler",
            "n_interior": self.n_interior,
            "n_initial": self.n_initial,
            "n_boundary": self.n_boundary,
        }


@dataclass(frozen=True)
class RandomSampler(_Sampler):
    """Independent uniform points (numpy Generator seeded per set), equal weights."""

    def _unit(self, n: int, dim: int, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).random((n, dim))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "RandomSampler",
            "n_interior": self.n_interior,
            "n_initial": self.n_initial,
            "n_boundary": self.n_boundary,
        }


def add_parameter_samples(problem: PDEProblem, sets: dict[str, PointSet], copies: int = 1,
                          seed: int = 0) -> dict[str, PointSet]:
    """Append sampled parameter values to every point set of a parametric problem.

    Each set is repeated ``copies`` times and every point gets its own parameter vector: a
    scrambled Sobol sequence over the declared box ``problem.parameter_ranges`` (one stream per
    set, seeded by ``[seed, set index]``), randomly permuted so that neighbouring states see
    spread-out parameters. A face set, which has one state dimension less than the interior
    and far fewer points, is repeated ``copies`` times ``round(sqrt(n_interior / n_face))``
    more (at least once): otherwise a 1D face (tau only) would see a few dozen parameter
    vectors, and the residual there would be small at them but not between them. Weights are
    divided by the number of copies (they still sum to 1), so each term approximates the
    residual's mean square over states, time and the parameter box. Sets are returned unchanged
    for a problem without declared parameters. The copies may hold at most :data:`MAX_POINTS`
    points in all.
    """
    ranges = problem.parameter_ranges
    if not ranges:
        return sets
    v.positive_int("add_parameter_samples", "copies", copies)
    lo = np.array([r.low for r in ranges])
    hi = np.array([r.high for r in ranges])
    n_interior = len(sets["interior"]) if "interior" in sets else 0

    def repeats(ps: PointSet) -> int:
        if ps.face is not None and len(ps) > 0:
            return copies * max(1, round(math.sqrt(n_interior / len(ps))))
        return copies

    total = sum(len(ps) * repeats(ps) for ps in sets.values())
    _check_points("add_parameter_samples", "copies", copies, total,
                  f"{sum(len(ps) for ps in sets.values()):,} points with their copies")
    out: dict[str, PointSet] = {}
    for j, (name, ps) in enumerate(sets.items()):
        reps = repeats(ps)
        n = len(ps) * reps
        if n == 0:
            out[name] = PointSet(name, np.zeros((0, ps.points.shape[1] + len(ranges))),
                                 ps.weights, ps.face)
            continue
        rng = np.random.default_rng([seed, j])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # n need not be a power of 2
            u = qmc.Sobol(d=len(ranges), scramble=True, rng=rng).random(n)
        u = u[rng.permutation(n)]
        pts = np.concatenate([np.tile(ps.points, (reps, 1)), lo + u * (hi - lo)], axis=1)
        out[name] = PointSet(name, pts, np.tile(ps.weights, reps) / reps, ps.face)
    return out


def with_parameter_values(sets: dict[str, PointSet], values: list[float] | tuple[float, ...]
                          ) -> dict[str, PointSet]:
    """Append the same parameter values (length m) to every point: one slice of a parametric
    problem's input box, e.g. today's parameters."""
    vals = np.asarray(values, dtype=np.float64)
    return {name: PointSet(name, np.concatenate(
        [ps.points, np.broadcast_to(vals, (len(ps), len(vals)))], axis=1), ps.weights, ps.face)
        for name, ps in sets.items()}


@dataclass(frozen=True)
class AdaptiveResampling:
    """Residual-based adaptive refinement (RAR) during the Adam phase.

    Every ``every`` Adam steps, ``n_candidates`` uniform random interior points are drawn, and the
    ``n_add`` with the largest |PDE residual| join an extra ``"adaptive"`` point set (equal
    weights, loss weight 1), up to ``max_points`` points in all. ``n_candidates`` and
    ``max_points`` are at most :data:`MAX_POINTS`.
    """

    every: int = 500
    n_candidates: int = 4096
    n_add: int = 128
    max_points: int = 2048

    def __post_init__(self) -> None:
        for name in ("every", "n_candidates", "n_add", "max_points"):
            v.positive_int("AdaptiveResampling", name, getattr(self, name))
        for name in ("n_candidates", "max_points"):
            value = getattr(self, name)
            if value > MAX_POINTS:
                v.fail("AdaptiveResampling", name, f"be at most {MAX_POINTS:,}", value)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "AdaptiveResampling", **self.__dict__}


Collocation = UniformGrid | ClusteredGrid | SobolSampler | RandomSampler


def collocation_from_dict(d: dict[str, Any]) -> Collocation:
    """Inverse of a collocation set's ``to_dict`` (``"type"`` names the class); unknown or
    missing keys raise one ``ValueError`` naming them."""
    if not isinstance(d, Mapping):
        v.fail("collocation_from_dict", "d", "be a mapping with a 'type' key", d)
    d = dict(d)
    name = d.pop("type", None)
    classes = {"UniformGrid": UniformGrid, "ClusteredGrid": ClusteredGrid,
               "SobolSampler": SobolSampler,
               "RandomSampler": RandomSampler}
    if name not in classes:
        v.fail("collocation_from_dict", "type", f"be one of {sorted(classes)}", name)
    if "n_space" in d and isinstance(d["n_space"], list):
        d["n_space"] = tuple(d["n_space"])
    return classes[name](**v.keys_of("collocation_from_dict", classes[name], d))
