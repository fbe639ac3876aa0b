"""Training data that is already a tensor on the training device (the GPU hand-off's logic).

``DifferentialRegressor(device="cuda")`` validates, scales and trains on CUDA arrays where they
live. The same code runs here on CPU tensors and is checked against the NumPy path, which is the
independent oracle: scaler constants, validation errors and a whole fit must agree. The device
itself (no host copy, GPU fit = CPU fit) is checked by ``test_regressor_gpu.py`` with ``-m gpu``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training import DifferentialRegressor
from training._validation import check_xy, on_cuda
from training.scaling import DifferentialScaler

CPU = torch.device("cpu")


def _data(n: int = 512, d: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1.0, 5.0, 0.1] + [0.0, 100.0, -2.0]
    y = np.sin(X[:, 0]) + 0.01 * X[:, 1] ** 2 + X[:, 2]
    dydx = np.stack([np.cos(X[:, 0]), 0.02 * X[:, 1], np.ones(n)], axis=1)
    return X, y, dydx


@pytest.mark.parametrize("variant", ["plain", "constant_column", "zero_gradient_column",
                                     "no_gradient", "constant_label"])
def test_scaler_on_tensors_equals_the_numpy_fit(variant):
    X, y, dydx = _data()
    if variant == "constant_column":
        X[:, 1] = 7.0
    if variant == "zero_gradient_column":
        dydx[:, 2] = 0.0
    if variant == "constant_label":
        y[:] = 3.0
    z = None if variant == "no_gradient" else dydx
    ref = DifferentialScaler.fit(X, y, z)
    got = DifferentialScaler.fit(torch.as_tensor(X), torch.as_tensor(y),
                                 None if z is None else torch.as_tensor(z))
    for a, b in zip(ref.to_dict().values(), got.to_dict().values(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=0)
    Xt = torch.as_tensor(X)
    np.testing.assert_allclose(got.x(Xt).numpy(), ref.x(X), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(got.z(torch.as_tensor(dydx)).numpy(), ref.z(dydx), rtol=1e-13)


def test_scaler_on_tensors_near_float64_limit_takes_the_rescaled_path():
    X = np.array([[1e308], [-1e308], [1e308]])
    y = np.array([1e308, 1e308, -1e308])
    ref = DifferentialScaler.fit(X, y, None)
    got = DifferentialScaler.fit(torch.as_tensor(X), torch.as_tensor(y), None)
    assert np.isfinite(got.x_std).all() and np.isfinite(got.y_std)
    np.testing.assert_allclose(got.x_std, ref.x_std, rtol=1e-13)


@pytest.mark.parametrize("case, message", [
    ("nan_x", "X contains NaN or infinite values (1 entries)"),
    ("inf_dydx", "dydx contains NaN or infinite values (2 entries)"),
    ("short_y", "y must have shape (10,) to match X of shape (10, 2); got shape (9,)"),
    ("dydx_shape", "dydx must have the shape of X (10, 2); got shape (10, 3)"),
    ("x_1d", "X must be 2-D with shape (n_samples, n_inputs); got shape (10,)"),
])
def test_tensor_validation_says_what_the_numpy_path_says(case, message):
    X, y, dydx = np.ones((10, 2)), np.ones(10), np.ones((10, 2))
    if case == "nan_x":
        X[3, 1] = np.nan
    elif case == "inf_dydx":
        dydx[1, 0] = dydx[2, 1] = np.inf
    elif case == "short_y":
        y = y[:9]
    elif case == "dydx_shape":
        dydx = np.ones((10, 3))
    else:
        X = X[:, 0]
    for device, wrap in ((None, lambda a: a), (CPU, torch.as_tensor)):
        with pytest.raises(ValueError) as info:
            check_xy(wrap(X), wrap(y), wrap(dydx), device=device)
        assert str(info.value).startswith(message), (device, str(info.value))


def test_tensor_inputs_share_memory_and_come_back_float64():
    X = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    y32 = torch.ones(6, 1, dtype=torch.float32)
    Xa, ya, za = check_xy(X, y32, None, device=CPU)
    assert Xa.data_ptr() == X.data_ptr()  # float64 and contiguous: no copy
    assert ya.dtype == torch.float64 and tuple(ya.shape) == (6,) and za is None
    with pytest.raises(TypeError, match="X must hold real numbers"):
        check_xy(torch.ones(3, 1, dtype=torch.complex128), torch.ones(3), None, device=CPU)


def test_reversed_views_are_copied_not_fatal():
    """A view with negative strides (X[:, ::-1]) is copied first: torch's DLPack import would
    abort the process on it."""
    X, y, _ = _data(n=16)
    Xa, ya, _ = check_xy(X[:, ::-1], y[::-1], None, device=CPU)
    np.testing.assert_array_equal(Xa.numpy(), X[:, ::-1])
    np.testing.assert_array_equal(ya.numpy(), y[::-1])


class _Fake:
    def __init__(self, device_type: int | None = None, cai: bool = False):
        if device_type is not None:
            self.__dlpack_device__ = lambda: (device_type, 0)
        if cai:
            self.__cuda_array_interface__ = {}


def test_on_cuda_recognises_cuda_memory_only():
    assert not on_cuda(np.ones(3)) and not on_cuda(torch.ones(3)) and not on_cuda(None)
    assert on_cuda(_Fake(2)) and on_cuda(_Fake(13)) and on_cuda(_Fake(cai=True))
    assert not on_cuda(_Fake(1)) and not on_cuda(_Fake(3))  # host and pinned host memory


def test_fit_on_tensors_equals_the_fit_on_numpy():
    """The in-place path (``_fit`` on tensors, as for CUDA inputs) against the NumPy path."""
    X, y, dydx = _data(n=1024)
    kw = dict(epochs=4, hidden_units=8, hidden_layers=2, seed=3, validation_fraction=0.25)
    ref = DifferentialRegressor(**kw).fit(X, y, dydx)
    reg = DifferentialRegressor(**kw)
    Xt, yt, zt = check_xy(torch.as_tensor(X), torch.as_tensor(y), torch.as_tensor(dydx),
                          device=CPU)
    reg._fit(Xt, yt, zt, CPU)._name(["a", "b", "c"], "v")
    v_ref, g_ref = ref.predict_value_and_gradient(X)
    v, g = reg.predict_value_and_gradient(X)
    np.testing.assert_allclose(v, v_ref, rtol=1e-9, atol=1e-9 * np.abs(v_ref).max())
    np.testing.assert_allclose(g, g_ref, rtol=1e-9, atol=1e-9 * np.abs(g_ref).max())
    assert reg.history_.val_loss == pytest.approx(ref.history_.val_loss, rel=1e-9)
