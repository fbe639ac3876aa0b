"""DifferentialRegressor: accuracy against closed forms, persistence, parameter and input errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.training import problems as pb
from training import DifferentialRegressor, TrainResult

FAST = dict(epochs=30, hidden_units=16, hidden_layers=3)


def test_differential_beats_standard_on_bachelier_basket():
    """docs/methods.md §1: n = 7, m = 1024, value RMSE against the Bachelier formula, 3 seeds."""
    basket = pb.random_basket(7, seed=11)
    Xt, vt, _ = pb.basket_test(basket, 2048, seed=99)
    rmse = {"standard": [], "differential": []}
    for seed in range(3):
        X, y, z = pb.basket_training(basket, 1024, seed=seed)
        for mode, dydx in (("standard", None), ("differential", z)):
            m = DifferentialRegressor(epochs=40, seed=seed).fit(X, y, dydx)
            rmse[mode].append(np.sqrt(np.mean((m.predict(Xt) - vt) ** 2)))
    assert np.mean(rmse["differential"]) * 2 <= np.mean(rmse["standard"]), rmse


def test_linear_function_gradients_in_original_units():
    """y = c + b·x on inputs of very different scales: predicted gradients must be b (the
    σy/σx map-back), values must be exact up to training error."""
    rng = np.random.default_rng(0)
    scales = np.array([1e-3, 1.0, 1e3])
    X = rng.normal(size=(512, 3)) * scales + 5.0
    b = np.array([2e3, -1.0, 4e-3])
    y = 7.0 + X @ b
    z = np.broadcast_to(b, X.shape).copy()
    m = DifferentialRegressor(epochs=60, seed=1).fit(X, y, z)
    g = m.predict_gradient(X)
    np.testing.assert_allclose(g.mean(axis=0), b, rtol=2e-2)
    np.testing.assert_allclose(np.median(g, axis=0), b, rtol=2e-2)
    assert np.sqrt(np.mean((m.predict(X) - y) ** 2)) < 0.1 * y.std()


def test_history_result_and_modes():
    X, y, z = pb.bs_training(300, seed=0)
    m = DifferentialRegressor(epochs=5, seed=0).fit(X, y, z)
    assert m.mode_ == "differential"
    h = m.history_
    assert len(h) == 5 and len(h.value) == 5 and len(h.gradient) == 5 and all(np.isfinite(h.loss))
    d = 1
    alpha, beta = 1 / (1 + d), d / (1 + d)
    np.testing.assert_allclose(h.loss, alpha * np.array(h.value) + beta * np.array(h.gradient))
    assert isinstance(m.result_, TrainResult) and m.result_.status == "completed"
    assert m.result_.batch_size == 256
    json.dumps(m.result_.to_dict())
    s = DifferentialRegressor(epochs=5, seed=0).fit(X, y)
    assert s.mode_ == "standard" and s.result_.beta == 0.0 and s.history_.gradient == [0.0] * 5
    lam0 = DifferentialRegressor(epochs=5, seed=0, lam=0.0).fit(X, y, z)
    np.testing.assert_array_equal(lam0.predict(X), s.predict(X))


def test_validation_split_and_early_stopping():
    X, y, z = pb.bs_training(1000, seed=0)
    m = DifferentialRegressor(
        epochs=40, validation_fraction=0.2, patience=3, seed=0, peak_lr=0.05, schedule="constant"
    ).fit(X, y, z)
    r = m.result_
    assert len(m.history_.val_loss) == r.epochs_run
    assert r.best_epoch == int(np.argmin(m.history_.val_loss))
    assert r.status in ("early_stopped", "completed")
    if r.status == "early_stopped":
        assert r.epochs_run == r.best_epoch + 1 + 3
    assert r.n_samples == 800


def test_seeded_fits_are_reproducible():
    X, y, z = pb.bs_training(300, seed=0)
    a = DifferentialRegressor(epochs=3, seed=4).fit(X, y, z).predict(X)
    b = DifferentialRegressor(epochs=3, seed=4).fit(X, y, z).predict(X)
    c = DifferentialRegressor(epochs=3, seed=5).fit(X, y, z).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_save_load_round_trip(tmp_path):
    X, y, z = pb.basket_training(pb.random_basket(3, seed=0), 400, seed=0)
    m = DifferentialRegressor(epochs=3, validation_fraction=0.1, seed=2, **{"hidden_units": 8})
    m.fit(X, y, z)
    path = m.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "weights.pt"]
    state = torch.load(path / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    m2 = DifferentialRegressor.load(path)
    Xt = X[:50] + 0.01
    np.testing.assert_array_equal(m2.predict(Xt), m.predict(Xt))
    np.testing.assert_array_equal(m2.predict_gradient(Xt), m.predict_gradient(Xt))
    assert m2.get_params() == m.get_params()
    assert m2.history_.loss == m.history_.loss


def test_torch_tensor_and_float32_inputs():
    X, y, z = pb.bs_training(300, seed=0)
    a = DifferentialRegressor(epochs=3).fit(X, y, z)
    b = DifferentialRegressor(epochs=3).fit(
        torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(z)
    )
    np.testing.assert_array_equal(a.predict(X), b.predict(torch.from_numpy(X)))
    f = DifferentialRegressor(epochs=3, dtype="float32").fit(X.astype(np.float32), y, z)
    assert next(f.network_.parameters()).dtype == torch.float32
    assert f.predict(X).dtype == np.float64


def test_zero_differential_column_is_guarded():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = X[:, 0] ** 2
    z = np.column_stack([2 * X[:, 0], np.zeros(300)])
    m = DifferentialRegressor(epochs=5).fit(X, y, z)
    assert np.all(np.isfinite(m.scaler_.lambda_j)) and m.scaler_.lambda_j[1] == 1.0
    assert np.all(np.isfinite(m.predict(X)))


@pytest.mark.parametrize(
    "params, message",
    [
        (
            dict(lam=-1),
            r"^The 'lam' parameter of DifferentialRegressor must be >= 0\. Got -1 instead\.$",
        ),
        (dict(activation="relu"), r"activation.*C¹ activation.*Got 'relu' instead"),
        (dict(epochs=0), r"The 'epochs' parameter of \S+ must be an integer in \[1, 10000000\]\."),
        (dict(batch_size="big"), r"'batch_size' parameter .* or one of 'auto'"),
        (dict(peak_lr=0.0), r"'peak_lr' parameter of DifferentialRegressor must be > 0"),
        (dict(dtype="float16"), r"'dtype' parameter .* one of 'float64', 'float32'"),
        (dict(validation_fraction=1.0), r"'validation_fraction' parameter"),
    ],
)
def test_bad_hyperparameters(params, message):
    X, y, z = pb.bs_training(50, seed=0)
    with pytest.raises(ValueError, match=message):
        DifferentialRegressor(**params).fit(X, y, z)


def test_bad_inputs():
    X, y, z = pb.bs_training(50, seed=0)
    m = DifferentialRegressor(epochs=1)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        m.predict(X)
    with pytest.raises(ValueError, match=r"y must have shape \(50,\).*got shape \(49,\)"):
        m.fit(X, y[:-1], z)
    with pytest.raises(ValueError, match=r"dydx must have the shape of X \(50, 1\); got shape"):
        m.fit(X, y, np.zeros((50, 2)))
    with pytest.raises(ValueError, match="X must be 2-D"):
        m.fit(X[:, 0], y)
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="y contains NaN or infinite values"):
        m.fit(X, bad, z)
    badz = z.copy()
    badz[0, 0] = np.inf
    with pytest.raises(ValueError, match="dydx contains NaN or infinite values"):
        m.fit(X, y, badz)
    m.fit(X, y, z)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 1\) as in fit"):
        m.predict(np.zeros((3, 2)))
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            DifferentialRegressor(device="cuda").fit(X, y, z)


def test_a_cuda_index_beyond_the_devices_is_one_clear_error(monkeypatch):
    """'cuda:3' on a one-GPU machine names the field and the count (torch's own message is
    "invalid device ordinal", raised later from inside the fit)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    m = DifferentialRegressor(device="cuda:3")
    with pytest.raises(RuntimeError, match="The 'device' parameter of DifferentialRegressor "
                                           "must name an available device: there are 1 CUDA "
                                           "devices. Got 'cuda:3' instead."):
        m._resolve_device()


class _DLPackOnly:
    """An array known only through the DLPack protocol (as a CuPy or JAX array would be)."""

    def __init__(self, a):
        self._a = a

    def __dlpack__(self, **kwargs):
        return self._a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


def test_dlpack_inputs_auto_device_and_progress_bar():
    X, y, z = pb.bs_training(300, seed=0)
    a = DifferentialRegressor(epochs=2, device="auto", progress=True).fit(X, y, z)
    b = DifferentialRegressor(epochs=2).fit(_DLPackOnly(X), _DLPackOnly(y), _DLPackOnly(z))
    np.testing.assert_array_equal(a.predict(X), b.predict(_DLPackOnly(X)))
    assert str(a.device_) in ("cpu", "cuda")


def test_labels_near_the_float64_limit_give_finite_predictions():
    """Labels ×1e200: the scaler's moments are taken on rescaled columns, so the fit and its
    predictions stay finite and equal 1e200 × the fit on unscaled labels (same network)."""
    import warnings

    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 1.5, (256, 1))
    y, z = np.maximum(X[:, 0] - 1.0, 0.0), (X > 1.0).astype(float)
    small = DifferentialRegressor(epochs=3, seed=0).fit(X, y, z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = DifferentialRegressor(epochs=3, seed=0).fit(X, 1e200 * y, 1e200 * z)
        pred = big.predict(X)
    assert np.all(np.isfinite(pred))
    np.testing.assert_allclose(pred, 1e200 * small.predict(X), rtol=1e-6)


def test_non_finite_prediction_is_an_error_naming_the_input():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 1.5, (64, 2))
    reg = DifferentialRegressor(epochs=1, seed=0, dtype="float32").fit(X, X.sum(axis=1))
    assert np.isfinite(reg.predict(np.array([[1.0, 1e30]]))).all()
    with pytest.raises(FloatingPointError, match="value is not finite for 1 of 2 rows.*column 1"):
        reg.predict(np.array([[1.0, 1.0], [1.0, 1e300]]))  # past float32's range


FORMAT_1 = Path(__file__).parent / "fixtures" / "model_format_1"


def test_config_names_inputs_and_output_and_holds_the_scaler(tmp_path):
    X, y, z = pb.basket_training(pb.random_basket(3, seed=0), 300, seed=0)
    m = DifferentialRegressor(epochs=2, hidden_units=8).fit(X, y, z)
    assert m.input_names_ == ["x0", "x1", "x2"] and m.output_name_ == "y"
    config = json.loads((m.save(tmp_path / "a") / "config.json").read_text())
    assert config["format_version"] == 2
    assert config["input_names"] == ["x0", "x1", "x2"] and config["output_name"] == "y"
    s = config["scaler"]
    np.testing.assert_array_equal(s["x_mean"], m.scaler_.x_mean)
    np.testing.assert_array_equal(s["x_std"], m.scaler_.x_std)
    np.testing.assert_array_equal(s["lambda_j"], m.scaler_.lambda_j)
    assert (s["y_mean"], s["y_std"]) == (m.scaler_.y_mean, m.scaler_.y_std)

    m.fit(X, y, z, input_names=("spot", "vol", "rate"), output_name="price")
    loaded = DifferentialRegressor.load(m.save(tmp_path / "b"))
    assert loaded.input_names_ == ["spot", "vol", "rate"] and loaded.output_name_ == "price"


def test_names_from_a_dataframe_and_a_series():
    pd = pytest.importorskip("pandas")
    X, y, z = pb.basket_training(pb.random_basket(2, seed=0), 300, seed=0)
    df = pd.DataFrame(X, columns=["s1", "s2"])
    m = DifferentialRegressor(epochs=2, hidden_units=8).fit(df, pd.Series(y, name="call"), z)
    assert m.input_names_ == ["s1", "s2"] and m.output_name_ == "call"
    np.testing.assert_array_equal(m.predict(df), m.predict(X))
    with pytest.raises(ValueError, match=r"X has columns \['s2', 's1'\].*fitted on \['s1', 's2'\]"):
        m.predict(df[["s2", "s1"]])
    with pytest.raises(ValueError, match=r"'input_names' parameter .* the columns of X"):
        m.fit(df, y, z, input_names=["a", "b"])
    assert m.fit(X, y, z, input_names=df.columns).input_names_ == ["s1", "s2"]  # an Index
    unnamed = DifferentialRegressor(epochs=2, hidden_units=8).fit(pd.DataFrame(X), y, z)
    assert unnamed.input_names_ == ["x0", "x1"]  # integer column labels are not names
    unnamed.predict(df)  # default names: any columns are accepted


@pytest.mark.parametrize(
    "names, output, message",
    [
        (["a"], None, r"'input_names' parameter of DifferentialRegressor.fit must be 2 non-empty"),
        (["a", "a"], None, r"'input_names' parameter .* must be distinct"),
        (["a", 3], None, r"'input_names' parameter .* must be 2 non-empty strings"),
        ("ab", None, r"'input_names' parameter .* must be a sequence of 2 strings"),
        (None, "", r"'output_name' parameter of DifferentialRegressor.fit must be a non-empty"),
    ],
)
def test_bad_names(names, output, message):
    X, y, z = pb.basket_training(pb.random_basket(2, seed=0), 50, seed=0)
    with pytest.raises(ValueError, match=message):
        DifferentialRegressor(epochs=1).fit(X, y, z, input_names=names, output_name=output)


def test_model_saved_in_format_1_still_loads():
    """The fixture was written by the format-1 code (before names were saved); its predictions
    at three points were recorded then. Reproduced exactly on the machine that wrote them, to
    1e-16 on another (torch 2.11, other CPU): checked to 1e-13."""
    config = json.loads((FORMAT_1 / "config.json").read_text())
    assert config["format_version"] == 1 and "input_names" not in config
    m = DifferentialRegressor.load(FORMAT_1)
    assert m.input_names_ == ["x0", "x1"] and m.output_name_ == "y"
    expected = json.loads((FORMAT_1.parent / "model_format_1_predictions.json").read_text())
    X = np.array(expected["X"])
    np.testing.assert_allclose(m.predict(X), expected["value"], rtol=1e-13, atol=0)
    np.testing.assert_allclose(m.predict_gradient(X), expected["gradient"], rtol=1e-13, atol=1e-16)


def test_unknown_format_is_refused(tmp_path):
    path = tmp_path / "m"
    path.mkdir()
    config = json.loads((FORMAT_1 / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "format_version": 3}))
    with pytest.raises(ValueError, match=r"does not hold a DifferentialRegressor \(formats 1, 2\)"):
        DifferentialRegressor.load(path)


def test_a_fit_no_better_than_a_constant_warns():
    """peak_lr 1e6 saturates the network into a constant (it predicted 1221 for a call worth
    below 0.5): the fit warns; an ordinary fit of the same data, and a 2-epoch one that is still
    learning, do not."""
    import warnings

    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.5, (2048, 1))
    y = np.maximum(x[:, 0] - 1.0, 0.0) + 0.05 * rng.standard_normal(2048)
    z = (x > 1.0).astype(float)
    with pytest.warns(RuntimeWarning, match="the network predicts a constant"):
        DifferentialRegressor(peak_lr=1e6, epochs=3, num_threads=1).fit(x, y, z)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        DifferentialRegressor(epochs=10, num_threads=1).fit(x, y, z)
        DifferentialRegressor(epochs=2, num_threads=1).fit(x[:256], y[:256], z[:256])
