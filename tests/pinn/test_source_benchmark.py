"""benchmarks/pinn_source.py --table5: the recipe cut into time segments, scored after each."""

import numpy as np
import pytest

from benchmarks import pinn_source


def test_table5_reference_is_the_put_closed_form_at_the_corners():
    p = pinn_source.basket_problem()
    taus, xs, ref = pinn_source.basket_reference(p, n_space=5)
    assert ref.shape == taus.shape == (4 * 25,)
    origin = (xs[:, 0] == 0.0) & (xs[:, 1] == 0.0)
    # both assets at 0: the put pays K at maturity, worth K e^{-r tau}
    np.testing.assert_allclose(ref[origin], p.strike * np.exp(-p.rate * taus[origin]), rtol=1e-12)
    far = (xs[:, 0] == p.s_max) & (xs[:, 1] == p.s_max)
    assert np.all(np.abs(ref[far]) < 1e-8)


def test_table5_segments_resume_and_record_a_curve(tmp_path):
    row = pinn_source.table5(width=4, depth=1, seed=0, cap=3.0, segment=1.0, workdir=tmp_path)
    steps = [c["steps"] for c in row["curve"]]
    assert len(steps) >= 2 and steps == sorted(steps) and steps[0] < steps[-1]
    seconds = [c["train_seconds"] for c in row["curve"]]
    assert seconds == sorted(seconds) and seconds[-1] <= 3.0 + 1.0
    assert row["status"] == "time_limit"
    assert row["recipe_seconds_at_this_rate"] == row["seconds_per_step"] * 6000
    table = pinn_source.table5_table([row])
    assert table.count("\n") == 2 + 1 + len(steps) - 1  # header, rule, published, one per point


def test_update_results_keeps_rows_written_by_another_process(tmp_path):
    import multiprocessing as mp

    from benchmarks._machine import update_results

    path = tmp_path / "r.json"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_rows, args=(str(path), i)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    data = update_results(path, lambda d: None)
    assert sorted(data["rows"]) == sorted(f"{i}-{j}" for i in range(3) for j in range(20))


def _append_rows(path: str, worker: int) -> None:
    from benchmarks._machine import update_results

    for j in range(20):
        update_results(path, lambda d, j=j: d.setdefault("rows", []).append(f"{worker}-{j}"))


def _record_runs(monkeypatch) -> list:
    """Replace the training of the Table 2 study by a stub; returns the (problem, config) list
    it is called with (and the solver, if not the default, as a third entry)."""
    seen = []

    def fake_run_bs(p, cfg, solver=None):
        seen.append((p, cfg) if solver is None else (p, cfg, solver))
        e = {"log10_rel_L1": -3.0, "log10_rel_L2": -3.0, "log10_rel_Linf": -2.0}
        return {"space_time_grid": e, "train_seconds": 1.0, "status": "completed", "steps": 6}

    monkeypatch.setattr(pinn_source, "run_bs", fake_run_bs)
    return seen


def test_table2_least_squares_study_is_its_own_row(tmp_path, monkeypatch):
    calls = _record_runs(monkeypatch)
    out = tmp_path / "r.json"
    pinn_source.main(["--seeds", "0", "--cap", "5", "--output", str(out)])
    pinn_source.main(["--seeds", "0", "--cap", "5", "--lstsq-rounds", "3", "--output", str(out)])
    seen = [c for _p, c in calls]
    assert [c.lstsq_rounds for c in seen] == [0, 3]
    assert (seen[1].adam_steps, seen[1].lbfgs_iterations, seen[1].width, seen[1].depth) == \
        (3000, 3000, 40, 4)  # the recipe itself is unchanged
    import json

    runs = json.loads(out.read_text())["source_reproduction"]["runs"]
    assert sorted(r["study"] for r in runs) == ["table2", "table2 + least squares"]


def test_table2_off_the_recipes_grid_is_labelled_as_such(tmp_path, monkeypatch):
    seen = _record_runs(monkeypatch)
    out = tmp_path / "r.json"
    pinn_source.main(["--seeds", "0", "--cap", "5", "--output", str(out)])
    pinn_source.main(["--seeds", "0", "--cap", "5", "--s-max", "200", "--output", str(out)])
    pinn_source.main(["--seeds", "0", "--cap", "5", "--n-space", "401", "--output", str(out)])
    pinn_source.main(["--seeds", "0", "--cap", "5", "--lbfgs-iterations", "12000",
                      "--output", str(out)])
    (p0, c0), (p1, c1), (p2, c2), (p3, c3) = seen
    assert (p0.s_max, c0.collocation.n_space, c0.collocation.n_tau) == (400.0, 201, 51)
    assert (c0.adam_steps, c0.lbfgs_iterations) == (3000, 3000)
    assert (p1.s_max, c1.collocation.n_space) == (200.0, 201)
    assert (p2.s_max, c2.collocation.n_space) == (400.0, 401)
    assert (p3.s_max, c3.collocation.n_space, c3.lbfgs_iterations) == (400.0, 201, 12000)
    import json

    runs = json.loads(out.read_text())["source_reproduction"]["runs"]
    assert sorted(r["study"] for r in runs) == [
        "table2", "table2, 12000 L-BFGS", "table2, S in [0, 200], 201 x 51 grid",
        "table2, S in [0, 400], 401 x 51 grid"]


def test_table2_rows_show_today_and_the_worst_point():
    e = {"log10_rel_L1": -3.0, "log10_rel_L2": -3.1, "log10_rel_Linf": -2.0}
    t = {"log10_rel_L1": -3.5, "log10_rel_L2": -3.6, "log10_rel_Linf": -3.3}
    row = {"study": "table2", "loss": "boundary_safe", "bc_weight": 1.0, "seed": 0,
           "space_time_grid": e, "today": t, "tau_ge_0.1T": {"log10_rel_L2": -3.2},
           "linf_at": {"tau": 0.0, "spot": 100.0, "error": 0.93},
           "train_seconds": 10.0, "status": "completed"}
    line = pinn_source.table([row]).splitlines()[-1]
    assert line == ("| table2 | boundary_safe | 1 | 0 | -3.00 | -3.10 | -2.00 | "
                    "-3.50 / -3.60 / -3.30 | -3.20 | (0, 100): +0.930 | 10 | completed |")


def test_table2_rejects_a_truncation_below_the_strike(capsys):
    with pytest.raises(SystemExit) as e:
        pinn_source.main(["--s-max", "50"])
    assert e.value.code == 2
    assert "--s-max" in capsys.readouterr().err


@pytest.mark.parametrize("args, named", [
    (["--seeds", "0,x"], "--seeds"),
    (["--seeds", "-1"], "--seeds"),
    (["--cap", "0"], "--cap"),
    (["--cap", "nan"], "--cap"),
    (["--s-max", "inf"], "--s-max"),
    (["--segment", "-5", "--table5"], "--segment"),
    (["--arch", "12by60", "--table5"], "--arch"),
    (["--table5", "--n-space", "401"], "--table5"),
])
def test_bad_options_exit_2_with_one_line(args, named, capsys):
    with pytest.raises(SystemExit) as e:
        pinn_source.main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert named in err[-1] and "Traceback" not in "\n".join(err)


def test_source_network_study_is_labelled_and_uses_the_source_solver(tmp_path, monkeypatch):
    from benchmarks.source_network import solve_with_source_network

    seen = _record_runs(monkeypatch)
    out = tmp_path / "r.json"
    pinn_source.main(["--seeds", "0", "--cap", "5", "--output", str(out)])
    pinn_source.main(["--seeds", "0", "--cap", "5", "--source-network", "--output", str(out)])
    (_p0, c0), (_p1, c1, solver) = seen
    assert (c0.lbfgs_history, c1.lbfgs_history) == (50, 100)
    assert solver is solve_with_source_network
    assert (c1.adam_steps, c1.lbfgs_iterations, c1.width, c1.depth, c1.collocation.n_space) == \
        (3000, 3000, 40, 4, 201)  # the rest of the recipe is unchanged
    import json

    runs = json.loads(out.read_text())["source_reproduction"]["runs"]
    assert sorted(r["study"] for r in runs) == ["table2", "table2, source code's network"]


@pytest.mark.parametrize("other", [["--table5"], ["--sweep"], ["--lstsq-rounds", "3"]])
def test_source_network_is_refused_off_table2(other, capsys):
    with pytest.raises(SystemExit) as e:
        pinn_source.main(["--source-network", *other])
    assert e.value.code == 2
    assert "--source-network" in capsys.readouterr().err.strip().splitlines()[-1]
