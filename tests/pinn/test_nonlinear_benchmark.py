"""The non-linear benchmark's FD convergence check, on a synthetic reference of known order."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.pinn_nonlinear import Case, case, fd_order


class _Grid:
    """A 'solution' with error ``c h^p`` on a grid of spacing h = scale / 100."""

    def __init__(self, tau: float, scale: int, order: float) -> None:
        self.tau, self.h, self.order = tau, scale / 100.0, order

    def price(self, x: np.ndarray) -> np.ndarray:
        exact = 100.0 + np.asarray(x, float) * self.tau
        return exact + 3.0 * self.h**self.order * np.sin(np.asarray(x, float))


class _Problem:
    maturity = 1.0


def _logs(l2: float) -> dict[str, float]:
    return {"l1": l2 + 0.1, "l2": l2, "linf": l2 + 0.5}


def _synthetic_run(problem: str, config) -> dict:
    """A run of ``problem`` with ``config`` (a PINNConfig) and made-up errors, in the schema of
    :func:`benchmarks.pinn_nonlinear.run` (the fields :func:`table` reads), so the table tests
    do not depend on which runs are stored in ``benchmarks/results/pinn.json``."""
    free = {k: {"box": _logs(v), "today": _logs(v), "near": _logs(v)}
            for k, v in (("split", -3.0), ("linear_c_plus", -2.2), ("linear_c_minus", -2.3),
                         ("risk_free", -1.5))}
    return {"problem": problem, "lambda_b": 0.02, "base": "split", "sign_feature": True,
            "leg_factors": True, "budget": "full", "box": _logs(-4.5), "today": _logs(-4.6),
            "near": _logs(-4.2), "near_today": _logs(-4.3), "near_xva": _logs(-2.0),
            "fd_error_estimate": {"box": _logs(-6.0), "today": _logs(-6.0)}, "free": free,
            "points": [{"x": [100.0], "price": 1e-4, "delta": 3e-4,
                        "gamma (d2V/dS1^2)": 2e-3, "reference_price": 5.0}],
            "train_seconds": 500.0, "status": "completed", "steps": 500,
            "config": config.to_dict()}


@pytest.mark.parametrize("order", [1.0, 2.0])
def test_fd_order_recovers_the_order_and_the_fine_grids_error(order):
    c = Case("synthetic", _Problem(), np.linspace(1.0, 3.0, 7)[:, None], np.zeros((1, 1)),
             lambda tau, scale: _Grid(tau, scale, order), config=None)
    out = fd_order(c, fractions=(1.0,))["1"]
    assert out["order"] == pytest.approx(order, abs=1e-9)
    x = np.linspace(1.0, 3.0, 7)
    fine_error = np.linalg.norm(3.0 * 0.01**order * np.sin(x))
    fine = np.linalg.norm(_Grid(1.0, 1, order).price(x[:, None]))
    assert out["fine_error"] == pytest.approx(np.log10(fine_error / fine), abs=1e-6)
    if order == 2.0:  # R = V_h + (V_h - V_2h) / 3 removes an h^2 error exactly
        assert out["richardson_error"] is None or out["richardson_error"] < -12.0
    else:  # R_h = exact + 2 h sin(x): R_h - R_2h = -2 (0.01) sin(x)
        rich = np.linalg.norm(0.02 * np.sin(x))
        assert out["richardson_error"] == pytest.approx(np.log10(rich / fine), abs=1e-6)


def test_a_run_with_other_face_residuals_is_its_own_row_and_says_so():
    from benchmarks.pinn_nonlinear import _key, table

    run = _synthetic_run("bs_forward", case("bs_forward", 0.02).config("full", "split"))
    assert run["config"]["face_residuals"] == "auto"
    other = {**run, "config": {**run["config"], "face_residuals": "pointwise"}}
    assert _key(run) != _key(other)
    rows = table([run, other]).splitlines()[2:]
    assert "(pointwise faces)" in rows[1] and "faces)" not in rows[0]


def test_a_run_on_more_threads_is_its_own_row_and_says_so():
    from benchmarks.pinn_nonlinear import _key, table

    run = _synthetic_run("bs_collar", case("bs_collar", 0.02).config("full", "split"))
    assert (run["config"]["num_threads"] or 1) == 1
    other = {**run, "config": {**run["config"], "num_threads": 2}}
    unset = {**run, "config": {**run["config"], "num_threads": None}}
    assert _key(run) != _key(other)
    assert _key(run) == _key(unset)  # no thread count: the default single thread
    rows = table([other, run]).splitlines()[2:]
    assert rows[1].endswith("(2 threads) |") and "threads" not in rows[0]


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_threads_option_refuses_anything_but_a_positive_integer(value, capsys):
    from benchmarks.pinn import main

    with pytest.raises(SystemExit) as e:
        main(["--section", "nonlinear", "--threads", value, "--write-docs"])
    assert e.value.code == 2
    assert f"--threads: must be an integer >= 1, got '{value}'" in capsys.readouterr().err


def _first_config(monkeypatch, **options):
    """The PINNConfig that ``pinn_nonlinear.main`` would train first with ``options`` (no
    training: ``run`` is replaced by a stop), and the namespace it was given."""
    import argparse

    import benchmarks.pinn_nonlinear as nl

    class Stop(Exception):
        pass

    seen = []

    def fake_run(c, budget, base):
        seen.append(c.config(budget, base))
        raise Stop

    monkeypatch.setattr(nl, "run", fake_run)
    args = argparse.Namespace(**{
        "write_docs": False, "quick": False, "problems": "bs_collar", "lambda_b": "0.02",
        "fd_order": False, "bases": "none", "width": None, "faces": None, "threads": None,
        **options})
    with pytest.raises(Stop):
        nl.main(args, machine={}, output="unused.json")
    return seen[0], args


def test_threads_option_reaches_every_runs_config(monkeypatch):
    config, _ = _first_config(monkeypatch, threads=3)
    assert config.num_threads == 3


def test_state_weights_option_reaches_the_grid_and_is_its_own_row(monkeypatch, capsys):
    import argparse

    import benchmarks.pinn_nonlinear as nl

    config, args = _first_config(monkeypatch, problems="worst_call_basket_put", bases="split",
                                 state_weights="nodes")
    assert str(config.collocation.state_weights) == "nodes" and config.collocation.n_space == 31
    with pytest.raises(ValueError, match="--state-weights and --stretch apply to a "
                                         "ClusteredGrid; this problem uses UniformGrid"):
        nl._with_grid(nl.case("bs_forward", 0.02).config, state_weights="nodes")("full",
                                                                              "split")
    # refused before anything trains, wherever the 1D problem is in the list
    mixed = argparse.Namespace(**{**vars(args), "problems": "worst_call_basket_put,bs_forward"})
    assert nl.main(mixed, machine={}, output="unused.json") == 2
    assert "not bs_forward" in capsys.readouterr().err
    run = _synthetic_run("worst_call_basket_put", nl._config_2d("full", "split"))
    assert run["config"]["collocation"]["type"] == "ClusteredGrid"
    other = {**run, "config": {**run["config"], "collocation": {
        **run["config"]["collocation"], "state_weights": "nodes"}}}
    assert nl._key(run) != nl._key(other)
    rows = nl.table([run, other]).splitlines()[2:]
    assert sum("node weights" in r for r in rows) == 1
    assert not any("stretch" in r for r in rows)  # the default stretch is not labelled


def test_stretch_option_reaches_the_grid_and_is_its_own_row(monkeypatch, capsys):
    import argparse

    import benchmarks.pinn_nonlinear as nl

    config, args = _first_config(monkeypatch, problems="worst_call_basket_put", bases="split",
                                 stretch=1.0, state_weights="nodes")
    grid = config.collocation
    assert grid.stretch == 1.0 and str(grid.state_weights) == "nodes" and grid.n_space == 31
    config, stretch_only = _first_config(monkeypatch, problems="worst_call_basket_put",
                                         bases="split", stretch=0.5)
    assert config.collocation.stretch == 0.5 and str(config.collocation.state_weights) == "area"
    # --stretch alone is refused for a 1D problem before anything trains
    one_d = argparse.Namespace(**{**vars(stretch_only), "problems": "bs_forward"})
    assert nl.main(one_d, machine={}, output="unused.json") == 2
    assert "not bs_forward" in capsys.readouterr().err
    run = {"problem": "worst_call_basket_put", "lambda_b": 0.02, "base": "split",
           "budget": "full", "config": config.to_dict()}
    default = {**run, "config": nl._config_2d("full", "split").to_dict()}
    assert nl._key(run) != nl._key(default)
    assert nl._grid_label(run) == "Clustered 13 × 31, stretch 0.5"
    assert nl._grid_label(default) == "Clustered 13 × 31"


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "x"])
def test_stretch_flag_refuses_what_is_not_a_positive_number(value, capsys):
    from benchmarks import pinn

    with pytest.raises(SystemExit) as exc:
        pinn.main(["--section", "nonlinear", "--problems", "worst_call_basket_put",
                   "--stretch", value])
    assert exc.value.code == 2
    assert "--stretch: must be a finite number > 0" in capsys.readouterr().err
