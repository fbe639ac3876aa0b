"""Typed options and statuses: StrEnums that accept their plain strings and refuse others with the
project's message."""

import json
import re

import pytest

from training.options import DType
from training.pinn import (
    BaseFunction,
    FaceResiduals,
    InitialCondition,
    LossType,
    PINNConfig,
    PINNModel,
    PINNSolution,
    PINNStatus,
    UniformGrid,
    solve,
)
from training.pinn.losses import loss_terms, resolve_faces

from .conftest import bs_put

TINY = dict(width=4, depth=1, collocation=UniformGrid(3, 5), num_threads=1)


def test_status_values_are_the_stored_strings():
    assert [s.value for s in PINNStatus] == ["completed", "converged", "time_limit", "diverged"]
    assert PINNStatus.TIME_LIMIT == "time_limit" and f"{PINNStatus.DIVERGED}" == "diverged"


def test_solver_status_is_the_enum_and_saved_as_its_string(tmp_path):
    sol = solve(bs_put(), PINNConfig(adam_steps=2, lbfgs_iterations=2, **TINY))
    assert type(sol.stats["status"]) is PINNStatus
    assert sol.stats["status"] is PINNStatus.COMPLETED and sol.stats["status"] == "completed"
    path = sol.save(tmp_path / "sol")
    assert json.loads((path / "config.json").read_text())["stats"]["status"] == "completed"
    assert PINNSolution.load(path).stats["status"] is PINNStatus.COMPLETED


def test_time_limit_and_convergence_statuses():
    cfg = PINNConfig(adam_steps=10**6, lbfgs_iterations=1, time_limit=0.2, **TINY)
    assert solve(bs_put(), cfg).stats["status"] is PINNStatus.TIME_LIMIT
    # One neuron on 2 x 3 points: L-BFGS stalls long before 3000 iterations.
    cfg = PINNConfig(adam_steps=2, lbfgs_iterations=3000, width=1, depth=1,
                     collocation=UniformGrid(2, 3), num_threads=1)
    sol = solve(bs_put(), cfg)
    assert sol.stats["status"] is PINNStatus.CONVERGED and sol.stats["steps"] < 3002


OPTIONS = {
    "loss": (LossType, "classical"),
    "initial_condition": (InitialCondition, "hard"),
    "face_residuals": (FaceResiduals, "auto"),
    "base_function": (BaseFunction, "split"),
    "dtype": (DType, "float32"),
}


@pytest.mark.parametrize("field", list(OPTIONS))
def test_config_converts_plain_strings_to_the_enum(field):
    kind, text = OPTIONS[field]
    cfg = PINNConfig(**{field: text})
    value = getattr(cfg, field)
    assert type(value) is kind and value == text and value is kind(text)
    assert cfg == PINNConfig(**{field: kind(text)})
    assert type(getattr(PINNConfig(), field)) is kind
    d = cfg.to_dict()
    assert type(d[field]) is str and d[field] == text
    assert PINNConfig.from_dict(json.loads(json.dumps(d))) == cfg


def test_classical_and_best_recipes_hold_enums():
    cfg = PINNConfig(loss="classical")
    assert cfg.loss == "classical" and cfg.loss is LossType.CLASSICAL
    assert PINNConfig.classical() == cfg
    best = PINNConfig.best(base="split")
    assert best.initial_condition is InitialCondition.BASE and best.base is BaseFunction.SPLIT
    assert best.face_residuals is FaceResiduals.AUTO
    assert PINNConfig.best(base=None).base is None
    assert PINNConfig.best(base=None).initial_condition is InitialCondition.SOFT
    assert best.leg_factors is True and PINNConfig().leg_factors is False


def test_leg_factors_is_a_flag_and_absent_means_one_factor():
    with pytest.raises(ValueError, match=re.escape(
            "The 'leg_factors' parameter of PINNConfig must be true or false. Got 'yes' "
            "instead.")):
        PINNConfig(leg_factors="yes")
    d = PINNConfig.best().to_dict()
    assert d["leg_factors"] is True
    del d["leg_factors"]  # a configuration saved before the option existed
    assert PINNConfig.from_dict(d).leg_factors is False


@pytest.mark.parametrize("field", list(OPTIONS))
@pytest.mark.parametrize("bad", ["nope", 1, None])
def test_config_refuses_other_values_naming_field_allowed_values_and_value(field, bad):
    allowed = ", ".join(repr(m.value) for m in OPTIONS[field][0])
    msg = f"The '{field}' parameter of PINNConfig must be one of {allowed}. Got {bad!r} instead."
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        PINNConfig(**{field: bad})


def test_model_and_loss_functions_refuse_unknown_options():
    p = bs_put()
    with pytest.raises(ValueError, match=re.escape(
            "The 'initial_condition' parameter of PINNModel must be one of 'soft', 'hard', "
            "'base'. Got 'exact' instead.")):
        PINNModel(p, 4, 1, initial_condition="exact")
    with pytest.raises(ValueError, match=re.escape(
            "The 'base_function' parameter of PINNModel must be one of 'risk_free', 'split', "
            "'smoothed_payoff'. Got 'rf' instead.")):
        PINNModel(p, 4, 1, base_function="rf")
    with pytest.raises(ValueError, match=re.escape(
            "The 'faces' parameter of resolve_faces must be one of 'reduced', 'full', 'auto', "
            "'pointwise'. Got 'half' instead.")):
        resolve_faces(p, {}, "half")
    with pytest.raises(ValueError, match=re.escape(
            "The 'loss' parameter of loss_terms must be one of 'boundary_safe', 'classical'. "
            "Got 'l2' instead.")):
        loss_terms(p, PINNModel(p, 4, 1), {}, loss="l2")
    assert PINNModel(p, 4, 1, initial_condition="soft").initial_condition is InitialCondition.SOFT


def test_solution_stats_hold_enums():
    sol = solve(bs_put(), PINNConfig.best(adam_steps=1, lbfgs_iterations=0, lstsq_rounds=0,
                                          **TINY))
    assert sol.stats["base"] is BaseFunction.RISK_FREE
    assert all(type(f) is FaceResiduals for f in sol.stats["faces"].values())
    assert json.loads(json.dumps(sol.stats))["faces"] == {k: str(f)
                                                          for k, f in sol.stats["faces"].items()}
