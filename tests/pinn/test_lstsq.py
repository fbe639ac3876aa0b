"""Least-squares solve of the output layer."""

import numpy as np
import pytest
import torch
from torch import nn

from training.pinn import PINNConfig, UniformGrid, solve
from training.pinn.lstsq import solve_output_layer

from .conftest import bs_put
from .test_training import _relative_l2


def test_recovers_an_exact_linear_fit_in_one_round():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([0.5, -2.0, 1.25], dtype=torch.float64) + 0.75
    layer = nn.Linear(3, 1, dtype=torch.float64)
    losses = solve_output_layer(layer, lambda: layer(x)[:, 0] - y, rounds=2)
    assert 1 <= len(losses) <= 2 and losses[0] < 1e-20
    np.testing.assert_allclose(layer.weight.detach().numpy()[0], [0.5, -2.0, 1.25], atol=1e-12)
    assert float(layer.bias.detach()[0]) == pytest.approx(0.75, abs=1e-12)


def test_keeps_the_parameters_when_the_loss_cannot_fall():
    layer = nn.Linear(2, 1, dtype=torch.float64)
    before = [t.detach().clone() for t in layer.parameters()]
    const = torch.ones(5, dtype=torch.float64)
    assert solve_output_layer(layer, lambda: const + 0.0 * layer.bias.sum(), rounds=3) == []
    for a, b in zip(before, layer.parameters(), strict=True):
        torch.testing.assert_close(a, b.detach())


def test_lowers_the_loss_and_the_error_of_a_trained_pinn():
    p = bs_put()
    cfg = PINNConfig.best(adam_steps=150, lbfgs_iterations=100, collocation=UniformGrid(16, 41),
                          num_threads=1, lstsq_rounds=0)
    plain = solve(p, cfg)
    polished = solve(p, cfg.replace(lstsq_rounds=3))
    assert plain.stats["lstsq_rounds"] == 0 and polished.stats["lstsq_rounds"] >= 1
    assert polished.history["loss"][-1] < 0.2 * plain.history["loss"][-1]
    assert _relative_l2(polished) < 0.5 * _relative_l2(plain)  # closed form x e^{-c tau}


# ----- the assembled Jacobian against one parameter step per column -------------------------
def _model_and_sets(problem, cfg, seed=0):
    """A seeded model with a random output layer (so V takes both signs where it can) and the
    tensor point sets of ``cfg``'s collocation (the initial set only for the soft condition)."""
    from training.pinn.collocation import add_parameter_samples
    from training.pinn.network import PINNModel

    torch.manual_seed(seed)
    model = PINNModel(problem, cfg.width, cfg.depth, cfg.initial_condition, cfg.base_function,
                      cfg.leg_factors)
    with torch.no_grad():
        for t in model.mlp.net[-1].parameters():
            t.normal_(0.0, 0.3)
    sets = {}
    built = add_parameter_samples(problem, cfg.collocation.build(problem, seed=seed), 1, seed)
    for name, ps in built.items():
        if (name == "initial" and cfg.initial_condition != "soft") or len(ps) == 0:
            continue
        sets[name] = (torch.as_tensor(ps.points), torch.as_tensor(ps.weights), ps.face)
    return model, sets


def _parameter_step_jacobian(layer, vector, step=1e-2):
    params = [layer.weight, layer.bias]
    theta = nn.utils.parameters_to_vector(params).detach().clone()
    r0 = vector().detach()
    cols = []
    for j in range(len(theta)):
        shifted = theta.clone()
        shifted[j] += step
        with torch.no_grad():
            nn.utils.vector_to_parameters(shifted, params)
        cols.append((vector().detach() - r0) / step)
    with torch.no_grad():
        nn.utils.vector_to_parameters(theta, params)
    return torch.stack(cols, dim=1)


def _jacobian_cases():
    from simulators import Leg, NettingSet
    from training.pinn import ParametricPDE, TwoAssetPDE

    from .conftest import heston_put

    collar = NettingSet((Leg("call", 110.0), Leg("put", 90.0, -1.0)), 1.0)
    mixed = NettingSet((Leg("call", 100.0, 1.0, "worst_of"),
                        Leg("put", 100.0, -1.0, "basket", (0.5, 0.5))), 0.5)
    two = TwoAssetPDE(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rate=0.03, rho=0.5,
                      netting=mixed, xva=bs_put().xva)
    small = dict(width=6, depth=2, collocation=UniformGrid(5, 9))
    return {
        "soft, classical, Dirichlet data": (bs_put(), PINNConfig(loss="classical", **small),
                                            "reduced"),
        "soft, collar of both signs": (_collar_bs(collar), PINNConfig.best(base=None, **small),
                                       "auto"),
        "hard, forward": (_collar_bs(NettingSet((Leg("forward", 100.0),), 1.0)),
                          PINNConfig(initial_condition="hard", **small), "auto"),
        "base with the sign feature and leg factors, per-point faces": (
            two, PINNConfig.best(base="risk_free", **small), "pointwise"),
        "base with the sign feature, one factor": (
            two, PINNConfig.best(base="risk_free", leg_factors=False, **small), "auto"),
        "Heston, classical Neumann at v_max": (heston_put(), PINNConfig(loss="classical",
                                                                        **small), "reduced"),
        "parametric collar, split base, leg factors": (
            ParametricPDE(problem=_collar_bs(collar),
                          parameters={"vol": (0.2, 0.3), "lambda_b": (0.0, 0.2)}),
            PINNConfig.best(base="split", **small), "auto"),
    }


def _collar_bs(netting):
    from training.pinn import BlackScholesPDE

    return BlackScholesPDE(strike=100.0, maturity=1.0, vol=0.25, rate=0.03, netting=netting,
                           xva=bs_put().xva)


@pytest.mark.parametrize("case", list(_jacobian_cases()))
def test_the_assembled_jacobian_equals_one_parameter_step_per_column(case):
    from training.pinn.losses import residual_vector, resolve_faces
    from training.pinn.lstsq import output_jacobian, output_layer

    problem, cfg, faces = _jacobian_cases()[case]
    model, sets = _model_and_sets(problem, cfg)
    chosen = resolve_faces(problem, sets, faces)
    args = (problem, model, sets, cfg.loss, cfg.bc_weight, cfg.ic_weight, chosen)
    fast = output_jacobian(*args)
    oracle = _parameter_step_jacobian(output_layer(model), lambda: residual_vector(*args))
    assert fast.shape == oracle.shape
    assert float((fast - oracle).abs().max()) <= 1e-9 * float(oracle.abs().max())


def test_hidden_features_and_their_derivatives_equal_autograd():
    from training.pinn.lstsq import hidden_features
    from training.pinn.network import MLP

    torch.manual_seed(1)
    mlp = MLP([0.0, 0.0, 0.0, 0.1], [1.0, 400.0, 300.0, 0.4], 2, width=5, depth=3)
    z = torch.rand(7, 4, dtype=torch.float64) * torch.tensor([1.0, 400.0, 300.0, 0.3]) \
        + torch.tensor([0.0, 0.0, 0.0, 0.1])
    h, h_t, h_x, h_xx = hidden_features(mlp, z, n_states=2)
    hidden = nn.Sequential(*list(mlp.net)[:-1])

    def f(zz):
        return hidden((zz - mlp.center) / mlp.half_width)

    jac = torch.autograd.functional.jacobian(lambda zz: f(zz[None])[0], z[0])
    hes = torch.stack([torch.autograd.functional.hessian(lambda zz, k=k: f(zz[None])[0, k],
                                                         z[0]) for k in range(5)])
    torch.testing.assert_close(h[0], f(z[:1])[0])
    torch.testing.assert_close(h_t[0], jac[:, 0])
    torch.testing.assert_close(h_x[0], jac[:, 1:3])
    torch.testing.assert_close(h_xx[0], hes[:, 1:3, 1:3])


def test_the_jacobian_is_the_same_in_small_blocks(monkeypatch):
    import training.pinn.lstsq as lstsq
    from training.pinn.losses import resolve_faces

    problem, cfg, faces = _jacobian_cases()["base with the sign feature and leg factors, per-point faces"]
    model, sets = _model_and_sets(problem, cfg)
    args = (problem, model, sets, cfg.loss, cfg.bc_weight, cfg.ic_weight,
            resolve_faces(problem, sets, faces))
    whole = lstsq.output_jacobian(*args)
    monkeypatch.setattr(lstsq, "BLOCK_ROWS", 50)  # a few points per block
    torch.testing.assert_close(lstsq.output_jacobian(*args), whole, rtol=1e-10, atol=1e-13)


def test_a_saved_pointwise_label_is_not_taken_for_a_face_residual():
    from training.pinn.losses import loss_terms

    problem, cfg, _ = _jacobian_cases()["base with the sign feature and leg factors, per-point faces"]
    model, sets = _model_and_sets(problem, cfg)
    with pytest.raises(ValueError, match="'spot_1_max' must be 'reduced', 'full' or a per-point"):
        loss_terms(problem, model, sets, faces={"spot_1_max": "pointwise"})
