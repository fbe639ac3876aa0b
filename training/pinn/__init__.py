"""Boundary-safe physics-informed neural networks for (XVA) pricing PDEs.

Layout (following the mathematics): :mod:`.problems` (PDE, domain, generator, boundary
treatments), :mod:`.collocation` (points and quadrature weights), :mod:`.network` (tanh MLP and
trial functions), :mod:`.losses` (boundary-safe and classical loss terms), :mod:`.solver`
(Adam then L-BFGS), :mod:`.lstsq` (output-layer least squares), :mod:`.solution` (prices,
autograd Greeks, save/load), :mod:`.reuse` (reusing and warm-starting saved solutions when the
parameters move; parametric problems, with model and XVA parameters as network inputs, are
:class:`~.problems.parametric.ParametricPDE`); base functions in :mod:`.closed_form` (torch
closed forms and the conditional basket quadrature) and :mod:`.heston_cf` (Heston
characteristic function), tabulated per point set by :mod:`.tabulated`.

Methods: Villarino, Leitao and Garcia-Rodriguez's boundary-safe PINN for the Burgard-Kjaer XVA
PDE (see docs/pinn.md and docs/nonlinear-xva.md). Time is tau = time to maturity.
"""

from .closed_form import basket_by_conditioning, black_scholes, levy_basket, stulz_min
from .collocation import (
    AdaptiveResampling,
    ClusteredGrid,
    PointSet,
    RandomSampler,
    SobolSampler,
    UniformGrid,
    trapezoid_weights,
)
from .losses import derivatives, loss_terms, residual
from .network import MLP, PINNModel
from .options import (
    BaseFunction,
    FaceResiduals,
    InitialCondition,
    LossType,
    PINNStatus,
    StateWeights,
)
from .problems import (
    BasketPDE,
    BlackScholesPDE,
    Derivatives,
    Face,
    HestonPDE,
    ParameterRange,
    ParametricPDE,
    PDEProblem,
    TwoAssetPDE,
    WorstOfPDE,
    problem_from_dict,
)
from .reuse import Reuse, slice_residual
from .solution import PINNSolution
from .solver import PINNConfig, PINNSolver, solve

#: Changes whenever a solve's numbers for the same problem and settings change (losses, network,
#: base functions, closed forms, solver defaults): the pipeline's PINN caches key on it.
SOLVER_VERSION = 1

__all__ = [
    "MLP",
    "SOLVER_VERSION",
    "AdaptiveResampling",
    "BaseFunction",
    "BasketPDE",
    "BlackScholesPDE",
    "Derivatives",
    "Face",
    "FaceResiduals",
    "HestonPDE",
    "InitialCondition",
    "LossType",
    "PDEProblem",
    "ParameterRange",
    "ParametricPDE",
    "PINNConfig",
    "PINNModel",
    "PINNSolution",
    "PINNSolver",
    "PINNStatus",
    "Reuse",
    "TwoAssetPDE",
    "PointSet",
    "RandomSampler",
    "SobolSampler",
    "StateWeights",
    "UniformGrid",
    "ClusteredGrid",
    "WorstOfPDE",
    "black_scholes",
    "derivatives",
    "basket_by_conditioning",
    "levy_basket",
    "loss_terms",
    "problem_from_dict",
    "residual",
    "slice_residual",
    "solve",
    "stulz_min",
    "trapezoid_weights",
]
