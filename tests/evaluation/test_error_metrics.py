"""evaluation.metrics: one error definition per input, in price units and relative to a stated
scale; every expected number below is worked out by hand in the comment beside it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.metrics import (
    errors_by_bucket,
    greek_name,
    is_unit_spot,
    learning_curve_summary,
    spot_inputs,
    summarise_errors,
    surrogate_errors,
)


def test_value_in_price_units_and_relative_to_the_rms_price() -> None:
    # errors (0.1, 0, -0.2, 0.1): RMSE sqrt((0.01 + 0 + 0.04 + 0.01) / 4) = sqrt(0.015)
    # prices (1, 2, 3, 4) on a strike-100-like scale do not matter: RMS sqrt(30 / 4) = sqrt(7.5)
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    e = surrogate_errors(ref + [0.1, 0.0, -0.2, 0.1], ref)
    assert e["value_rmse"] == pytest.approx(math.sqrt(0.015))
    assert e["value_scale"] == pytest.approx(math.sqrt(7.5))
    assert e["value_relative"] == pytest.approx(math.sqrt(0.015 / 7.5))
    assert "greek_rmse" not in e and "gamma_rmse" not in e
    # a strike-100 product: the same relative error, price errors 100 times larger
    big = surrogate_errors(100 * (ref + [0.1, 0.0, -0.2, 0.1]), 100 * ref)
    assert big["value_rmse"] == pytest.approx(100 * math.sqrt(0.015))
    assert big["value_relative"] == pytest.approx(e["value_relative"])


def test_delta_per_asset_is_never_pooled() -> None:
    # basket of two spots: errors (0.1, -0.1) on spot_0 and (0, 0.02) on spot_1
    ref = np.array([[0.5, 0.3], [0.7, 0.1]])
    pred = ref + [[0.1, 0.0], [-0.1, 0.02]]
    e = surrogate_errors([1.0, 2.0], [1.0, 2.0], pred, ref, inputs=["spot_0", "spot_1"])
    assert e["value_rmse"] == 0.0 and e["value_relative"] == 0.0
    assert e["greek_rmse"] == pytest.approx({"spot_0": 0.1, "spot_1": math.sqrt(0.0004 / 2)})
    # scales: RMS of the reference deltas sqrt((0.25 + 0.49) / 2) and sqrt((0.09 + 0.01) / 2)
    assert e["greek_scale"] == pytest.approx({"spot_0": math.sqrt(0.37),
                                              "spot_1": math.sqrt(0.05)})
    assert e["greek_relative"]["spot_0"] == pytest.approx(0.1 / math.sqrt(0.37))
    assert e["greek_relative"]["spot_1"] == pytest.approx(math.sqrt(0.0002) / math.sqrt(0.05))


def test_vega_of_a_vol_input() -> None:
    # inputs (spot, vol): delta exact, vega off by (+2, -2) on a reference of (30, 40)
    ref = np.array([[0.5, 30.0], [0.6, 40.0]])
    pred = ref + [[0.0, 2.0], [0.0, -2.0]]
    e = surrogate_errors([5.0, 6.0], [5.0, 6.0], pred, ref, inputs=["spot", "vol"])
    assert e["greek_rmse"] == {"spot": 0.0, "vol": pytest.approx(2.0)}
    assert e["greek_scale"]["vol"] == pytest.approx(math.sqrt((900 + 1600) / 2))
    assert e["greek_relative"]["vol"] == pytest.approx(2.0 / math.sqrt(1250))
    assert greek_name("vol") == "vega" and greek_name("vol_3") == "vega vol_3"


def test_heston_dv_dvariance_stays_apart_from_delta() -> None:
    # Heston (spot, variance): dV/dvariance of -60 where the reference has 20 (error -80, and
    # 0 at the other point) next to a delta error of 0.01: the delta's RMSE stays 0.01
    ref = np.array([[-0.4, 20.0], [-0.6, 30.0]])
    pred = ref + [[0.01, -80.0], [-0.01, 0.0]]
    e = surrogate_errors([10.0, 12.0], [10.0, 12.0], pred, ref, inputs=["spot", "variance"])
    assert e["greek_rmse"]["spot"] == pytest.approx(0.01)
    assert e["greek_rmse"]["variance"] == pytest.approx(math.sqrt(6400 / 2))
    assert e["greek_relative"]["variance"] == pytest.approx(math.sqrt(3200) / math.sqrt(650))
    assert greek_name("variance") == "dV/dvariance" and greek_name("spot") == "delta"


def test_gamma_keyed_by_spot_input() -> None:
    # Heston: one gamma column, d2V/dspot2, errors (0.001, -0.003) on (0.02, 0.01)
    x_ref = np.array([0.02, 0.01])
    e = surrogate_errors([1.0, 1.0], [1.0, 1.0], np.zeros((2, 2)), np.zeros((2, 2)),
                         inputs=["spot", "variance"], pred_gamma=x_ref + [0.001, -0.003],
                         ref_gamma=x_ref)
    assert e["gamma_rmse"] == {"spot": pytest.approx(math.sqrt((1e-6 + 9e-6) / 2))}
    assert e["gamma_scale"] == {"spot": pytest.approx(math.sqrt((4e-4 + 1e-4) / 2))}
    assert spot_inputs(["spot_0", "spot_1", "vol_0"]) == ["spot_0", "spot_1"]
    # a basket: one column per spot
    e = surrogate_errors([1.0], [1.0], np.zeros((1, 2)), np.zeros((1, 2)),
                         inputs=["spot_0", "spot_1"], pred_gamma=[[0.5, 0.1]],
                         ref_gamma=[[0.4, 0.1]])
    assert e["gamma_rmse"] == pytest.approx({"spot_0": 0.1, "spot_1": 0.0})


def test_zero_scale_gives_no_relative_error() -> None:
    e = surrogate_errors([0.01, 0.0], [0.0, 0.0])  # deep out of the money: no scale
    assert e["value_rmse"] == pytest.approx(math.sqrt(0.0001 / 2))
    assert e["value_relative"] is None


def test_errors_by_moneyness_bucket() -> None:
    # spot / strike 100: levels 0.7 | 0.9 | 1.0, 1.02 | 1.3 (edges 0.8, 0.95, 1.05, 1.2)
    level = np.array([70.0, 90.0, 100.0, 102.0, 130.0]) / 100.0
    ref = np.array([0.5, 2.0, 6.0, 8.0, 31.0])
    err = np.array([0.1, 0.0, 0.3, -0.1, 0.0])
    grad = np.array([0.1, 0.3, 0.5, 0.55, 0.9])[:, None]
    b = errors_by_bucket(level, ref + err, ref, grad + 0.01, grad, inputs=["spot"])
    assert [(r["low"], r["high"], r["n"]) for r in b] == [
        (None, 0.8, 1), (0.8, 0.95, 1), (0.95, 1.05, 2), (1.2, None, 1)]  # 1.05-1.2 empty
    atm = b[2]
    assert atm["value_rmse"] == pytest.approx(math.sqrt((0.09 + 0.01) / 2))
    assert atm["value_scale"] == pytest.approx(math.sqrt((36 + 64) / 2))
    assert atm["greek_rmse"] == {"spot": pytest.approx(0.01)}
    assert b[0]["value_rmse"] == pytest.approx(0.1) and b[3]["value_rmse"] == 0.0
    with pytest.raises(ValueError, match="'edges' parameter of errors_by_bucket must increase"):
        errors_by_bucket(level, ref, ref, edges=(1.0, 0.9))


def test_summary_over_seeds_and_learning_curve_points() -> None:
    seeds = [surrogate_errors([1.1, 2.0], [1.0, 2.0], [[0.6], [0.7]], [[0.5], [0.7]],
                              inputs=["spot"]),
             surrogate_errors([1.3, 2.0], [1.0, 2.0], [[0.8], [0.7]], [[0.5], [0.7]],
                              inputs=["spot"])]
    s = summarise_errors({"differential": seeds})
    # value RMSE sqrt(0.01/2) and sqrt(0.09/2): mean and sample sd
    a, b = math.sqrt(0.005), math.sqrt(0.045)
    assert s["value_rmse"]["differential"]["mean"] == pytest.approx((a + b) / 2)
    assert s["value_rmse"]["differential"]["sd"] == pytest.approx(abs(b - a) / math.sqrt(2))
    assert s["greek_rmse"]["differential"]["spot"]["mean"] == pytest.approx(
        (math.sqrt(0.005) + math.sqrt(0.045)) / 2)
    assert s["scale"]["value"] == pytest.approx(math.sqrt(2.5))
    assert s["scale"]["greek"] == {"spot": pytest.approx(math.sqrt((0.25 + 0.49) / 2))}
    entries = [{"mode": "differential", "m": 64, "seed": i,
                "value_rmse": e["value_rmse"], "value_relative": e["value_relative"],
                "greek_rmse": e["greek_rmse"]} for i, e in enumerate(seeds)]
    (p,) = learning_curve_summary(entries)
    assert p.inputs == ("spot",) and p.delta_mean == pytest.approx(((a + b) / 2,))
    assert p.value_rel_mean == pytest.approx((a + b) / 2 / math.sqrt(2.5))


def test_unit_spot_and_bad_shapes() -> None:
    assert is_unit_spot(1.1) and is_unit_spot(1.0)
    assert not is_unit_spot(100.0) and not is_unit_spot(None)
    with pytest.raises(ValueError, match="'inputs' parameter of surrogate_errors must name"):
        surrogate_errors([1.0], [1.0], [[0.1, 0.2]], [[0.1, 0.2]], inputs=["spot"])
    with pytest.raises(ValueError, match="'pred_grad' parameter of surrogate_errors"):
        surrogate_errors([1.0], [1.0], [[0.1]], [[0.1, 0.2]], inputs=["spot", "vol"])
