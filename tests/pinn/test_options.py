"""Typed options and statuses: StrEnums that accept their plain strings and refuse others with the
project's message."""

import json

from training.pinn import PINNConfig, PINNSolution, PINNStatus, UniformGrid, solve

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
