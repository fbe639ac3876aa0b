"""PINN hyperparameters: :class:`PINNConfig`, validated on construction and round-tripped
through JSON (``to_dict`` / ``from_dict``)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import _validation as v
from ..options import DType
from .collocation import (
    AdaptiveResampling,
    ClusteredGrid,
    Collocation,
    RandomSampler,
    SobolSampler,
    UniformGrid,
    collocation_from_dict,
)
from .options import BaseFunction, FaceResiduals, InitialCondition, LossType

_DTYPES = {DType.FLOAT64: torch.float64, DType.FLOAT32: torch.float32}

#: The classes a ``collocation`` field may hold.
_COLLOCATIONS = (UniformGrid, ClusteredGrid, SobolSampler, RandomSampler)

#: The option fields of :class:`PINNConfig` and their enumerations, in the order they are checked.
_OPTIONS = {
    "loss": LossType,
    "initial_condition": InitialCondition,
    "dtype": DType,
    "face_residuals": FaceResiduals,
    "base_function": BaseFunction,
}


@dataclass(frozen=True)
class PINNConfig:
    """Hyperparameters of one PINN training (validated on construction).

    The options ``loss``, ``initial_condition``, ``face_residuals``, ``base_function`` and
    ``dtype`` are StrEnums (:mod:`training.pinn.options`, :class:`training.options.DType`); their
    plain strings are accepted and converted on construction, and ``to_dict`` writes the strings.

    Attributes:
        loss: "boundary_safe" (reduced-PDE residuals on faces, weights 1) or "classical"
            (lambda-weighted Dirichlet/Neumann data terms).
        initial_condition: "soft" (data term), "hard" (payoff + tau N) or "base"
            (base function times (1 + tau N_a) + tau N_b; see :mod:`training.pinn.network`).
        width, depth: tanh MLP size (neurons per hidden layer, hidden layers).
        collocation: :class:`UniformGrid` (trapezoidal weights), :class:`ClusteredGrid`
            (trapezoidal weights, or one weight per state node with ``state_weights="nodes"``),
            :class:`SobolSampler` or :class:`RandomSampler`.
        adam_steps: Adam steps (full batch).
        learning_rate: initial Adam learning rate lr0.
        decay_rate, decay_steps: inverse-time decay ``lr = lr0 / (1 + decay_rate k / decay_steps)``.
        lbfgs_iterations: L-BFGS iterations after Adam (strong-Wolfe line search).
        lbfgs_history: L-BFGS memory.
        lstsq_rounds: least-squares solves of the output layer after L-BFGS (hidden layers
            fixed; see :mod:`training.pinn.lstsq`); 0 switches them off. They run even when the
            time limit stopped the gradient steps, and their time counts in ``train_seconds``.
        lstsq_every: during L-BFGS, one least-squares round of the output layer after about
            every this many iterations (at the end of an L-BFGS round; the L-BFGS memory is then
            cleared), so the hidden layers keep adapting to an exactly solved output layer; 0
            (default) switches it off. Counted in ``stats["lstsq_interleaved"]``, not in steps.
        bc_weight, ic_weight: lambda weights of the classical loss's data terms.
        face_residuals: "reduced" (the source's: each face's residual is the PDE with its
            boundary condition substituted), "full" (the whole PDE on those faces: no far-field
            condition), "auto" (per face, reduced where the exact risk-free solution satisfies
            the substituted condition, see :func:`~training.pinn.losses.resolve_faces`; the
            choice is recorded in ``stats["faces"]``) or "pointwise" (the same choice per
            point; a face with both is recorded as "pointwise", and the share of its points
            with the reduced PDE in ``stats["face_reduced_share"]``).
        base_function: the base of the "base" trial value: "risk_free" (the problem's risk-free
            value of the payoff) or "split" (``e^{-c+ tau} V_rf(P) - e^{-c- tau} V_rf(N)`` over
            the payoff's one-signed parts P - N; equals ``e^{-c tau} V_rf`` for a one-signed
            payoff, and is the linear approximation a PINN must beat for two-signed ones) or
            "smoothed_payoff" (the payoff smoothed by each leg's local variance, no pricing
            formula: :mod:`training.pinn.smoothed`).
        leg_factors: with the "base" trial value, one factor ``B_l s N_l`` per one-signed leg
            of the netting set (a forward counts as its call minus its put) instead of one for
            their sum (see :mod:`training.pinn.network`); ignored otherwise.
        adaptive: residual-based adaptive resampling during Adam, or None.
        parameter_copies: for a parametric problem (:class:`~training.pinn.problems
            .ParametricPDE`), copies of the collocation set, every point with its own sampled
            parameter values (:func:`~training.pinn.collocation.add_parameter_samples`); ignored
            otherwise.
        dtype: "float64" (default) or "float32".
        device: torch device string of type "cpu" or "cuda" ("cuda:1"; a ``torch.device`` is
            stored as its string); TF32 is disabled on CUDA. Whether CUDA is available is checked
            by ``solve`` (a configuration saved on a GPU machine still loads on a CPU one).
        seed: seeds the network initialisation and the collocation samplers (no global seeding);
            an integer in [0, 2**63).
        checkpoint_every: save a checkpoint every this many steps (0: never).
        checkpoint_dir: directory of ``checkpoint.pt`` (required if checkpoint_every > 0).
        progress: show a progress bar (rich) during training (True or False).
        time_limit: wall-clock budget in seconds for the whole training, or None.
        num_threads: torch intra-op threads during training (restored afterwards); None keeps
            the current setting. 1 is fastest for small grids on a busy CPU.
    """

    loss: LossType = LossType.BOUNDARY_SAFE
    initial_condition: InitialCondition = InitialCondition.SOFT
    width: int = 40
    depth: int = 4
    collocation: Collocation = field(default_factory=UniformGrid)
    adam_steps: int = 3000
    learning_rate: float = 3e-3
    decay_rate: float = 1.0
    decay_steps: int = 1000
    lbfgs_iterations: int = 3000
    lbfgs_history: int = 50
    lstsq_rounds: int = 0
    lstsq_every: int = 0
    bc_weight: float = 1.0
    ic_weight: float = 1.0
    face_residuals: FaceResiduals = FaceResiduals.REDUCED
    base_function: BaseFunction = BaseFunction.RISK_FREE
    leg_factors: bool = False
    adaptive: AdaptiveResampling | None = None
    parameter_copies: int = 1
    dtype: DType = DType.FLOAT64
    device: str = "cpu"
    seed: int = 0
    checkpoint_every: int = 0
    checkpoint_dir: str | None = None
    progress: bool = False
    time_limit: float | None = None
    num_threads: int | None = None

    def __post_init__(self) -> None:
        o = "PINNConfig"
        for name, kind in _OPTIONS.items():
            self._set(name, v.option(o, name, getattr(self, name), kind))
        for name in ("width", "depth", "decay_steps", "lbfgs_history", "parameter_copies"):
            v.positive_int(o, name, getattr(self, name))
        for name in ("adam_steps", "lbfgs_iterations", "lstsq_rounds", "lstsq_every",
                     "checkpoint_every"):
            v.non_negative_int(o, name, getattr(self, name))
        self._set("seed", v.seed(o, "seed", self.seed))
        self._set("learning_rate", v.positive(o, "learning_rate", self.learning_rate))
        for name in ("decay_rate", "bc_weight", "ic_weight"):
            self._set(name, v.non_negative(o, name, getattr(self, name)))
        for name in ("leg_factors", "progress"):
            v.boolean(o, name, getattr(self, name))
        self._check_collocation()
        self._set("device", v.device_name(o, "device", self.device))
        self._check_checkpoint()
        if self.time_limit is not None:
            self._set("time_limit", v.positive(o, "time_limit", self.time_limit))
        if self.num_threads is not None:
            v.positive_int(o, "num_threads", self.num_threads)

    def _set(self, name: str, value: Any) -> None:
        """Store a checked (and normalised) value in the frozen instance."""
        object.__setattr__(self, name, value)

    def _check_collocation(self) -> None:
        """``collocation`` one of the collocation classes, ``adaptive`` None or
        :class:`AdaptiveResampling`."""
        if not isinstance(self.collocation, _COLLOCATIONS):
            v.fail("PINNConfig", "collocation",
                   "be one of " + ", ".join(c.__name__ for c in _COLLOCATIONS), self.collocation)
        if self.adaptive is not None and not isinstance(self.adaptive, AdaptiveResampling):
            v.fail("PINNConfig", "adaptive", "be an AdaptiveResampling or None", self.adaptive)

    def _check_checkpoint(self) -> None:
        """``checkpoint_dir`` None or a non-empty path (stored as a str, for JSON); required when
        ``checkpoint_every > 0``."""
        d = self.checkpoint_dir
        if d is not None:
            text = os.fspath(d) if isinstance(d, (str, os.PathLike)) else None
            if not isinstance(text, str) or not text:
                v.fail("PINNConfig", "checkpoint_dir", "be a non-empty path (str) or None", d)
            self._set("checkpoint_dir", text)
        if self.checkpoint_every and self.checkpoint_dir is None:
            v.fail("PINNConfig", "checkpoint_dir", "be set when checkpoint_every > 0", None)

    # ----- recipes --------------------------------------------------------------------------
    @classmethod
    def faithful(cls, **overrides: Any) -> PINNConfig:
        """The source's recipe: 4 x 40 tanh, 201 x 51 uniform grid (1D) with trapezoidal weights,
        boundary-safe residuals, soft initial condition, 3000 Adam steps, 3000 L-BFGS iterations.
        For 2D problems pass e.g. ``collocation=UniformGrid(n_tau=21, n_space=41)``."""
        return cls(**overrides)

    @classmethod
    def classical(cls, **overrides: Any) -> PINNConfig:
        """The baseline: as :meth:`faithful` with lambda-weighted Dirichlet/Neumann terms."""
        return cls(**{"loss": LossType.CLASSICAL, **overrides})

    @property
    def base(self) -> BaseFunction | None:
        """The base function of the trial value: "risk_free", "split", "smoothed_payoff" (all
        with ``initial_condition="base"``) or None (no base function in the trial value)."""
        return self.base_function if self.initial_condition is InitialCondition.BASE else None

    @classmethod
    def best(cls, base: str | None = "risk_free", **overrides: Any) -> PINNConfig:
        """Our best variant: boundary-safe residuals, per-face reduced or full PDE ("auto"),
        3 x 32 tanh, 300 Adam steps (lr 2e-3), 1200 L-BFGS iterations, then 3 least-squares
        solves of the output layer.

        Args:
            base: "risk_free": trial value ``B (1 + tau N_a) + tau N_b`` (plus the sign
                feature ``tau h(B) N_c`` for a payoff of both signs, see
                :mod:`training.pinn.network`) with B the exact
                risk-free value of the same payoff (exact at tau = 0; for a one-signed payoff
                the risky value is exactly ``e^{-c tau} B``, so the network only learns that
                factor); "split": B the sign-split value (see ``base_function``);
                "smoothed_payoff": B the payoff smoothed by each leg's local variance (no
                pricing formula); None: no base, the network alone, the payoff a data term at
                tau = 0 (``initial_condition="soft"``, as in the boundary-safe PINN's source;
                the hard ``payoff / K + tau N`` keeps a payoff's kinks and is refused for
                them, see :mod:`training.pinn.network`).

        With a base, a netting set gets one factor per one-signed leg (``leg_factors``).
        A short Adam phase matters: L-BFGS barely moves after a long one. The output-layer
        least squares then lowers the loss further in seconds (see the PINN documentation)."""
        if base not in (*BaseFunction, None):
            v.fail("PINNConfig.best", "base",
                   "be 'risk_free', 'split', 'smoothed_payoff' or None", base)
        recipe = {
            "initial_condition": InitialCondition.SOFT if base is None else InitialCondition.BASE,
            "base_function": base or BaseFunction.RISK_FREE,
            "width": 32,
            "depth": 3,
            "adam_steps": 300,
            "learning_rate": 2e-3,
            "lbfgs_iterations": 1200,
            "lstsq_rounds": 3,
            "face_residuals": FaceResiduals.AUTO,
            "leg_factors": True,
        }
        return cls(**{**recipe, **overrides})

    def replace(self, **changes: Any) -> PINNConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d.update({name: d[name].value for name in _OPTIONS})  # plain strings in JSON and YAML
        d["collocation"] = self.collocation.to_dict()
        d["adaptive"] = None if self.adaptive is None else self.adaptive.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PINNConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise one ``ValueError`` naming them."""
        d = v.keys_of("PINNConfig.from_dict", cls, d)
        if "collocation" in d:
            d["collocation"] = collocation_from_dict(d["collocation"])
        if d.get("adaptive") is not None:
            if not isinstance(d["adaptive"], dict):
                v.fail("PINNConfig.from_dict", "adaptive", "be a mapping or None", d["adaptive"])
            a = {k: val for k, val in d["adaptive"].items() if k != "type"}
            d["adaptive"] = AdaptiveResampling(**v.keys_of("PINNConfig.from_dict",
                                                           AdaptiveResampling, a))
        return cls(**d)
