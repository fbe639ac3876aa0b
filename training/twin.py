"""Twin network: an MLP that returns its value and its input gradient in one forward pass.

Shapes: inputs ``x`` (n, d); value ``y`` (n,); gradient ``g = dy/dx`` (n, d). The network is

    z_l = a_{l-1} W_lᵀ + b_l,   a_l = φ(z_l)   (l = 1..L, a_0 = x),   y = a_L w_outᵀ + b_out

with a C¹ activation φ (softplus or ELU with α = 1; ReLU is refused: its derivative is a step, so
the gradient output would be piecewise constant and the differential loss could not train it). The
*explicit* backward pass (Huge & Savine's construction) runs the adjoint recursion inside the model:

    ā_L = w_out,   z̄_l = ā_l ⊙ φ'(z_l),   ā_{l-1} = z̄_l W_l,   dy/dx = ā_0,

built from ordinary differentiable tensor operations, so training backpropagates through it
(second-order terms included). :meth:`TwinNetwork.value_and_gradient` also offers
``method="autograd"`` (``torch.autograd.grad(..., create_graph=True)``) as a cross-check (equal to
1e-10 in float64, tested). The explicit pass is the default because it is the faster of the two;
the measured step times are generated into docs/training.md from benchmarks/results/training.json.

The explicit pass is the TorchScript-compatible function :func:`twin_pass`, shared by
:meth:`TwinNetwork.value_and_gradient` and the exported graphs of :mod:`training.export`. With
``portable=True`` it writes the activations in elementary operations (exp, log, where), which ONNX
runtimes implement in float64 as well (ONNX Runtime has no float64 Softplus or Elu kernel):

    softplus(z) = z if z > 20 else max(z, 0) + log(1 + exp(−|z|)),
    elu(z)      = z if z > 0 else exp(z) − 1,

the same threshold as ``torch.nn.functional.softplus``; the two forms differ by rounding only.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = ("softplus", "elu")
INITS = ("glorot", "lecun", "he")


def _activation(
    name: str, z: torch.Tensor, portable: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return φ(z) and φ'(z) for a C¹ activation; ``portable`` writes φ in elementary operations
    (module docstring)."""
    if name == "softplus":
        if portable:
            soft = torch.relu(z) + torch.log(1.0 + torch.exp(-torch.abs(z)))
            a = torch.where(z > 20.0, z, soft)
        else:
            a = F.softplus(z)
        return a, torch.sigmoid(z)
    if name == "elu":
        if portable:
            a = torch.where(z > 0.0, z, torch.exp(torch.clamp(z, max=0.0)) - 1.0)
        else:
            a = F.elu(z)
        # φ'(z) = 1 for z > 0, exp(z) = φ(z) + 1 for z <= 0: clamp(a, max=0) + 1 covers both.
        return a, torch.clamp(a, max=0.0) + 1.0
    raise ValueError("unknown activation: expected 'softplus' or 'elu'")


def _act_value(name: str, z: torch.Tensor) -> torch.Tensor:
    return F.softplus(z) if name == "softplus" else F.elu(z)


def twin_pass(
    x: torch.Tensor,
    weights: list[torch.Tensor],
    biases: list[torch.Tensor],
    activation: str,
    portable: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Value (n,) and input gradient (n, d) of the MLP with layers ``weights[l]`` (out, in) and
    ``biases[l]`` (out,), the last of width 1, by the explicit adjoint recursion of the module
    docstring. Differentiable with respect to the parameters; compiles with ``torch.jit.script``.
    """
    n_layers = len(weights)
    a = x
    derivs: list[torch.Tensor] = []
    for layer in range(n_layers - 1):
        a, da = _activation(
            activation, torch.addmm(biases[layer], a, weights[layer].t()), portable
        )
        derivs.append(da)
    w_out = weights[n_layers - 1]  # (1, h)
    y = torch.addmm(biases[n_layers - 1], a, w_out.t())[:, 0]
    g = derivs[n_layers - 2] * w_out  # z̄_L = w_out ⊙ φ'(z_L), (n, h)
    for layer in range(n_layers - 2, 0, -1):
        g = torch.mm(g, weights[layer]) * derivs[layer - 1]
    g = torch.mm(g, weights[0])  # (n, d)
    return y, g


class TwinNetwork(nn.Module):
    """MLP ``R^d -> R`` with an explicit, differentiable input-gradient pass.

    Parameters
    ----------
    n_inputs : int
        Input dimension d.
    hidden_layers, hidden_units : int
        Depth and width of the hidden part (default 4 × 20, as in the source).
    activation : {"softplus", "elu"}
        C¹ activation.
    init : {"glorot", "lecun", "he"}
        Weight initialisation (normal, std sqrt(2/(fan_in+fan_out)), sqrt(1/fan_in),
        sqrt(2/fan_in)); biases start at zero.
    generator : torch.Generator, optional
        Source of randomness for the initial weights (no global seeding).
    dtype, device : torch dtype and device of the parameters.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layers: int = 4,
        hidden_units: int = 20,
        activation: str = "softplus",
        init: str = "glorot",
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {init!r}")
        for name, value in (("n_inputs", n_inputs), ("hidden_layers", hidden_layers),
                            ("hidden_units", hidden_units)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                why = " (the backward pass needs a hidden layer)" if name == "hidden_layers" else ""
                shown = int(value) if isinstance(value, numbers.Integral) else repr(value)
                raise ValueError(f"The {name!r} parameter of TwinNetwork must be an int >= 1"
                                 f"{why}. Got {shown} instead.")
        self.n_inputs = int(n_inputs)
        self.activation = activation
        sizes = [self.n_inputs] + [int(hidden_units)] * int(hidden_layers) + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            if init == "glorot":
                std = math.sqrt(2.0 / (fan_in + fan_out))
            elif init == "lecun":
                std = math.sqrt(1.0 / fan_in)
            else:
                std = math.sqrt(2.0 / fan_in)
            w = torch.randn(fan_out, fan_in, generator=generator, dtype=torch.float64) * std
            self.weights.append(nn.Parameter(w.to(dtype=dtype, device=device)))
            self.biases.append(nn.Parameter(torch.zeros(fan_out, dtype=dtype, device=device)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Value only: ``x`` (n, d) -> ``y`` (n,)."""
        a = x
        for W, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            a = _act_value(self.activation, torch.addmm(b, a, W.t()))
        return torch.addmm(self.biases[-1], a, self.weights[-1].t())[:, 0]

    def value_and_gradient(
        self, x: torch.Tensor, method: str = "explicit"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Value (n,) and input gradient (n, d), differentiable with respect to the parameters.

        ``method="explicit"`` runs the adjoint recursion of the module docstring;
        ``method="autograd"`` calls ``torch.autograd.grad(y.sum(), x, create_graph=True)``.
        """
        if method == "autograd":
            xg = x if x.requires_grad else x.detach().requires_grad_(True)
            with torch.enable_grad():
                y = self.forward(xg)
                (g,) = torch.autograd.grad(y.sum(), xg, create_graph=torch.is_grad_enabled())
            return y, g
        if method != "explicit":
            raise ValueError(f"method must be 'explicit' or 'autograd'; got {method!r}")
        return twin_pass(x, list(self.weights), list(self.biases), self.activation)
