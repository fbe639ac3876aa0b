"""benchmarks/pinn_source.py --table5: the recipe cut into time segments, scored after each."""

import numpy as np

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


def test_table2_least_squares_study_is_its_own_row(tmp_path, monkeypatch):
    seen = []

    def fake_run_bs(p, cfg):
        seen.append(cfg)
        e = {"log10_rel_L1": -3.0, "log10_rel_L2": -3.0, "log10_rel_Linf": -2.0}
        return {"space_time_grid": e, "train_seconds": 1.0, "status": "completed", "steps": 6}

    monkeypatch.setattr(pinn_source, "run_bs", fake_run_bs)
    out = tmp_path / "r.json"
    pinn_source.main(["--seeds", "0", "--cap", "5", "--output", str(out)])
    pinn_source.main(["--seeds", "0", "--cap", "5", "--lstsq-rounds", "3", "--output", str(out)])
    assert [c.lstsq_rounds for c in seen] == [0, 3]
    assert (seen[1].adam_steps, seen[1].lbfgs_iterations, seen[1].width, seen[1].depth) == \
        (3000, 3000, 40, 4)  # the recipe itself is unchanged
    import json

    runs = json.loads(out.read_text())["source_reproduction"]["runs"]
    assert sorted(r["study"] for r in runs) == ["table2", "table2 + least squares"]
