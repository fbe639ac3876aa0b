"""The network conventions of the boundary-safe PINN's public code, for the Table 2 study.

The source authors' public TensorFlow code (repository ``JoelPerezVillarino/S-PINN``, package
``libs/pinns``, which holds the Black-Scholes, basket, worst-of and Heston problems of the source)
differs from :class:`training.pinn.network.MLP` in four conventions, none of which the source's
text states:

* inputs divided by the box's upper corner, ``(tau / T, S / S_max)`` in [0, 1], instead of an
  affine map to [-1, 1];
* Glorot-uniform weights (zero biases) instead of Glorot-normal: the same variance;
* the output in price units through a scaled output layer, ``V = g (h . w) + b`` with the gain
  ``g = S_max - K`` (a fixed number multiplying the trained weights ``w``), instead of ``V / K``
  from a plain linear layer; the trial value stays ``u = V / K``;
* L-BFGS with 100 correction pairs (ours: 50), set by the study through ``lbfgs_history``.

:func:`solve_with_source_network` trains the recipe with the first three (the optimisers, loss,
grid and initial condition are the recipe's), so the study tells whether the conventions explain
the gap to the published numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from training import _validation as v
from training.pinn import BlackScholesPDE, PINNConfig
from training.pinn.network import PINNModel, tanh_layers
from training.pinn.options import InitialCondition
from training.pinn.solution import PINNSolution
from training.pinn.solver import PINNSolver

#: L-BFGS correction pairs of the source's code (``maxcor``).
SOURCE_LBFGS_HISTORY = 100


class SourceMLP(nn.Module):
    """tanh MLP ``(tau, S) -> u = V / K`` with the source code's conventions.

    Args:
        upper: the box's upper corner ``(T, S_max)`` (years, price units); inputs ``z`` of shape
            (n, 2) = (tau, S) are divided by it.
        width, depth: neurons per hidden layer and hidden layers.
        gain: the output layer's fixed gain ``S_max - K`` (price units).
        scale: the value scale K (price units); the output ``gain (h . w) + b`` is a price and
            is divided by it.
    """

    def __init__(self, upper: list[float], width: int, depth: int, gain: float,
                 scale: float) -> None:
        super().__init__()
        self.register_buffer("upper", torch.tensor(upper, dtype=torch.float64))
        self.net = tanh_layers(len(upper), 1, width, depth, nn.init.xavier_uniform_)
        self.gain = float(gain)
        self.scale = float(scale)

    def forward(self, z: Tensor) -> Tensor:
        """z (n, 2) = (tau, S) -> (n, 1) = V / K."""
        h, out = self.net[:-1](z / self.upper), self.net[-1]
        return (self.gain * (h @ out.weight.T) + out.bias) / self.scale


class SourceNetworkSolver(PINNSolver):
    """:class:`PINNSolver` whose soft-initial-condition trial value is a :class:`SourceMLP`
    (seeded by ``config.seed``); only for the 1D Black-Scholes problem."""

    def _build_model(self) -> PINNModel:
        """The recipe's model with its MLP replaced by a :class:`SourceMLP` on the box
        ``(T, S_max)``, gain ``S_max - K`` and scale K, initialised from ``config.seed``."""
        model = super()._build_model()
        p, cfg = self.problem, self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model.mlp = SourceMLP([p.maturity, p.s_max], cfg.width, cfg.depth,
                                  gain=p.s_max - p.strike, scale=p.value_scale)
        return model.to(device=self.device, dtype=self.dtype)


def solve_with_source_network(problem: BlackScholesPDE, config: PINNConfig) -> PINNSolution:
    """Train ``config`` (soft initial condition, no least-squares solves) on the 1D ``problem``
    with a :class:`SourceMLP` in place of the recipe's MLP."""
    o = "solve_with_source_network"
    if not isinstance(problem, BlackScholesPDE):
        v.fail(o, "problem", "be a 1D BlackScholesPDE", type(problem).__name__)
    if config.initial_condition is not InitialCondition.SOFT:
        v.fail(o, "config.initial_condition", "be 'soft'", config.initial_condition.value)
    for name in ("lstsq_rounds", "lstsq_every"):  # they solve for our MLP's output layer
        if getattr(config, name):
            v.fail(o, f"config.{name}", "be 0", getattr(config, name))
    return SourceNetworkSolver(problem, config).solve()
