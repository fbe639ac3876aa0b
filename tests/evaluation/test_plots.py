"""Report figures: page-wide PNGs, sorted line data, a meaningful slice axis, no clipped text."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from evaluation import plots
from evaluation.metrics import learning_curve_summary
from tests.evaluation.report_fixture import _curve, bs_call


def png_width(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])[0]


def basket(n: int = 200, weights=(0.3, 0.7), seed: int = 3):
    """Two spots, a call on the basket level (price a function of B only), its gradient."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.6, 1.4, size=(n, 2))
    w = np.asarray(weights)
    price, delta = bs_call(x @ w, 1.0, 0.2, 1.0)
    return x, price, delta[:, None] * w[None, :], {
        "model": {"type": "BachelierBasket", "vols": [0.2, 0.2],
                  "correlation": [[1.0, 0.5], [0.5, 1.0]]},
        "product": {"type": "BasketOption", "weights": list(weights), "strike": 1.0,
                    "maturity": 1.0, "kind": "call"}}


def heston(n: int = 200, seed: int = 4):
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(60, 140, n), rng.uniform(0.01, 0.16, n)])
    price, delta = bs_call(x[:, 0] / 100, 1.0, 0.2, 1.0)
    price = 100 * price * (1 + 2 * x[:, 1])
    return x, price, np.column_stack([delta, 200 * price])


def all_figures() -> dict[str, Figure]:
    x1 = np.linspace(0.5, 1.6, 120)
    p1, d1 = bs_call(x1, 1.1, 0.2, 1.0)
    xb, pb, gb, params = basket()
    xh, ph, gh = heston()
    pts = learning_curve_summary(_curve(0.004, 1.0, np.random.default_rng(1), 2))
    g = np.linspace(0.6, 1.4, 21)
    grid_x, grid_y = np.meshgrid(g, g)
    return {
        "learning curve": plots.learning_curve_figure(pts, ["spot_0", "spot_1"], title="LC"),
        "slices 1-D": plots.slices_figure(x1[:, None], p1, d1[:, None],
                                          {"differential": (p1 + 1e-3, d1[:, None])}, ["spot"]),
        "slices basket": plots.slices_figure(
            xb, pb, gb, {"standard": (pb * 1.01, gb)}, ["spot_0", "spot_1"],
            axis=plots.slice_axis(xb, ["spot_0", "spot_1"], params)),
        "slices heston": plots.slices_figure(
            xh, ph, gh, {"PINN": (ph + 0.01, gh)}, ["spot", "variance"],
            axis=plots.slice_axis(xh, ["spot", "variance"])),
        "error map": plots.pinn_error_map_figure(g, g, 1e-4 * np.sin(grid_x), grid_x + grid_y,
                                                 "spot_0", "spot_1"),
        "loss": plots.loss_history_figure({"step": [0, 1, 2], "total": [1.0, 0.5, 0.1]}),
        "xva": plots.xva_figure(x1, p1, 0.98 * p1),
    }


def line_plots(fig: Figure) -> list[Line2D]:
    """Lines drawn as lines (not markers only), without the horizontal zero rules."""
    out = []
    for ax in fig.axes:
        for line in ax.get_lines():
            x = np.asarray(line.get_xdata(), dtype=float)
            if line.get_linestyle() in ("None", "none", " ", "") or len(x) < 3:
                continue
            out.append(line)
    return out


def test_figures_are_page_wide_pngs() -> None:
    for name, fig in all_figures().items():
        data = plots.to_png(fig, dpi=100)
        assert png_width(data) >= 1000, name
    # full-width figures span the page at 100 dpi, half-width ones get a higher resolution
    assert plots.PAGE_WIDTH_IN * 100 >= 1000
    small = all_figures()["loss"]
    assert small.get_size_inches()[0] == plots.HALF_WIDTH_IN
    assert png_width(plots.to_png(small, dpi=100)) >= plots.MIN_PNG_WIDTH


def test_no_label_is_clipped() -> None:
    """Every label, tick label and title lies inside the figure, even with wide tick labels."""
    figs = all_figures()
    x = np.linspace(1e4, 9e4, 50)
    figs["wide ticks"] = plots.xva_figure(x, 123456.789 + x, 123456.0 + x, xlabel="spot",
                                          title="values of order 1e5")
    xs = np.linspace(-3e6, 3e6, 50)  # cut off on the left by the former fixed margins
    figs["wide prices"] = plots.slices_figure(
        xs[:, None], -3 * xs, np.full((50, 1), -3.0),
        {"standard": (-3 * xs + 300 * np.sin(xs), np.full((50, 1), -3.001))}, ["spot"])
    for name, fig in figs.items():
        fig.canvas.draw()
        box = fig.get_tightbbox(fig.canvas.get_renderer())  # inches
        w, h = fig.get_size_inches()
        eps = 1e-3
        assert box.x0 >= -eps and box.y0 >= -eps, (name, box)
        assert box.x1 <= w + eps and box.y1 <= h + eps, (name, box, w, h)
        assert any(ax.get_ylabel() for ax in fig.axes), name


def test_line_plots_run_along_sorted_x() -> None:
    for name, fig in all_figures().items():
        for line in line_plots(fig):
            x = np.asarray(line.get_xdata(), dtype=float)
            assert np.all(np.diff(x) >= 0), (name, line.get_label())


def test_xva_of_two_inputs_is_drawn_along_the_basket_level() -> None:
    """200 unsorted 2-D points: one line along the basket level, not a sawtooth along spot_0."""
    x, price, _, params = basket()
    axis = plots.slice_axis(x, ["spot_0", "spot_1"], params)
    fig = plots.xva_figure(x, price, 0.97 * price, "spot_0", axis=axis)
    lines = line_plots(fig)
    assert lines
    for line in lines:
        assert np.all(np.diff(np.asarray(line.get_xdata())) >= 0)
    risk_free = next(li for li in lines if li.get_label() == "risk-free")
    np.testing.assert_allclose(risk_free.get_xdata(), np.sort(x @ [0.3, 0.7]))
    assert np.all(np.diff(risk_free.get_ydata()) >= -1e-12)  # a call: no sawtooth
    assert "basket level" in fig.axes[1].get_xlabel()


def test_basket_slices_use_the_basket_level() -> None:
    x, price, grad, params = basket()
    w = np.array([0.3, 0.7])
    axis = plots.slice_axis(x, ["spot_0", "spot_1"], params)
    assert axis.curve and axis.keep.all()
    np.testing.assert_allclose(axis.values, x @ w)
    fig = plots.slices_figure(x, price, grad, {"differential": (price, grad)},
                              ["spot_0", "spot_1"], axis=axis)
    top = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in top] == ["price", "basket delta"]
    order = np.argsort(x @ w, kind="stable")
    ref_price = next(li for li in top[0].get_lines() if li.get_label() == "reference")
    np.testing.assert_allclose(ref_price.get_xdata(), (x @ w)[order])
    np.testing.assert_allclose(ref_price.get_ydata(), price[order])
    # dV/dB = grad . w / |w|^2 recovers the delta of the basket call
    ref_delta = next(li for li in top[1].get_lines() if li.get_label() == "reference")
    _, delta = bs_call((x @ w)[order], 1.0, 0.2, 1.0)
    np.testing.assert_allclose(ref_delta.get_ydata(), delta, rtol=1e-12)
    for ax in fig.axes:
        if ax.get_xlabel():
            assert "basket level" in ax.get_xlabel()
    # a lognormal basket is not a function of B: the points are a projection (dots)
    bs = {**params, "model": {"type": "BlackScholesBasket"}}
    assert not plots.slice_axis(x, ["spot_0", "spot_1"], bs).curve


def test_heston_slices_hold_the_variance_near_its_median() -> None:
    x, price, grad = heston()
    axis = plots.slice_axis(x, ["spot", "variance"])
    kept = x[axis.keep]
    assert len(kept) == math.ceil(plots.SLICE_FRACTION * len(x))
    med = np.median(x[:, 1])
    far = np.abs(x[~axis.keep, 1] - med)
    assert np.max(np.abs(kept[:, 1] - med)) <= np.min(far)  # the nearest points
    np.testing.assert_allclose(axis.values, x[:, 0])
    assert axis.direction is None and axis.curve
    assert axis.label.startswith("spot (variance ≈ ")
    fig = plots.slices_figure(x, price, grad, {"PINN": (price, grad)}, ["spot", "variance"],
                              axis=axis)
    ref = next(li for li in fig.axes[0].get_lines() if li.get_label() == "reference")
    assert len(ref.get_xdata()) == len(kept)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == [
        "price", "delta wrt spot", "dV / dvariance"]


def test_worst_of_and_fallback_axes() -> None:
    x = np.random.default_rng(0).uniform(50, 150, size=(100, 2))
    worst = plots.slice_axis(x, ["spot_0", "spot_1"], {"product": {"type": "WorstOf"}})
    np.testing.assert_allclose(worst.values, x.min(axis=1))
    assert not worst.curve and "worst level" in worst.label
    np.testing.assert_allclose(worst.direction, [1.0, 1.0])
    mean = plots.slice_axis(x, ["spot_0", "spot_1"], {"product": {"type": "NettingSet"}})
    np.testing.assert_allclose(mean.values, x.mean(axis=1))
    one = plots.slice_axis(x[:, 0], ["spot"])
    assert one.curve and one.label == "spot"
    with pytest.raises(ValueError, match="'x' parameter of slice_axis"):
        plots.slice_axis(np.empty((0, 2)), ["spot_0", "spot_1"])


def test_learning_curve_units_and_equal_cost_mc_standard_error() -> None:
    """Strike-100 set-ups are drawn in price units (no ×100); the dashed line is the standard
    error of an m-path Monte-Carlo price, value_std / sqrt(m), at every training size."""
    rows = [{"mode": "differential", "m": m, "seed": 0, "value_rmse": 1.0 / m ** 0.5,
             "delta_rmse": [0.1 / m ** 0.5]} for m in (256, 1024, 4096)]
    pts = learning_curve_summary(rows)
    fig = plots.learning_curve_figure(pts, ["spot"], {"value_std": 4.0, "delta_std": [0.5]},
                                      unit_spot=False)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "RMSE (price units)"
    se = [ln for ln in ax.get_lines() if ln.get_label() == "MC standard error, m paths"]
    assert len(se) == 1
    np.testing.assert_allclose(se[0].get_ydata(), 4.0 / np.sqrt([256, 1024, 4096]))
    unit = plots.learning_curve_figure(pts, ["spot"], {"value_std": 4.0}, unit_spot=True)
    assert unit.axes[0].get_ylabel() == "RMSE ×100 (unit spot)"
    line = [ln for ln in unit.axes[0].get_lines() if ln.get_label() == "differential"][0]
    np.testing.assert_allclose(line.get_ydata(), 100 / np.sqrt([256, 1024, 4096]))
