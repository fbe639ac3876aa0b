"""Exported twin networks (training.export): ONNX through ONNX Runtime and TorchScript through
torch.jit.load reproduce predict / predict_gradient from raw inputs, at any batch size."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from training import DifferentialRegressor
from training.export import INPUT_NAME, OUTPUT_NAMES, metadata

# Largest error relative to the output's largest magnitude. float64: measured ≤ 1e-15 (ONNX
# Runtime's kernels round differently from torch's); float32: measured ≤ 6e-7, from rounding the
# raw inputs and the scaling to float32 (predict scales in float64).
TOL = {"float64": 1e-13, "float32": 2e-6}
NP_DTYPE = {"float64": np.float64, "float32": np.float32}
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
BATCHES = (1, 7, 300)  # the export traces a batch of 2
FORMAT_1 = Path(__file__).parent / "fixtures" / "model_format_1"


def _data(n, seed):
    """Three inputs on very different scales (so the scaling matters) and a smooth label."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [0.2, 2.0, 30.0] + [1.0, 5.0, 100.0]
    y = np.sin(X[:, 0]) * X[:, 1] + 0.01 * X[:, 2] ** 1.5
    z = np.column_stack(
        [np.cos(X[:, 0]) * X[:, 1], np.sin(X[:, 0]), 0.015 * np.sqrt(X[:, 2])]
    )
    return X, y, z


@pytest.fixture(scope="module")
def models():
    X, y, z = _data(512, seed=0)
    out = {}
    for activation in ("softplus", "elu"):
        for dtype in ("float64", "float32"):
            m = DifferentialRegressor(
                epochs=5, hidden_layers=3, hidden_units=12, activation=activation, dtype=dtype
            )
            out[activation, dtype] = m.fit(
                X, y, z, input_names=["spot", "vol", "strike"], output_name="price"
            )
    return out


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _check(run, model, dtype):
    """``run(x)`` -> (value, gradient) arrays, against predict at several batch sizes."""
    Xt = _data(max(BATCHES), seed=1)[0]
    value, gradient = model.predict(Xt), model.predict_gradient(Xt)
    for n in BATCHES:
        v, g = run(Xt[:n].astype(NP_DTYPE[dtype]))
        assert v.shape == (n,) and g.shape == (n, 3)
        assert v.dtype == NP_DTYPE[dtype] and g.dtype == NP_DTYPE[dtype]
        assert _rel(v, value[:n]) <= TOL[dtype], (n, _rel(v, value[:n]))
        assert _rel(g, gradient[:n]) <= TOL[dtype], (n, _rel(g, gradient[:n]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ["softplus", "elu"])
def test_onnx_round_trip_through_onnxruntime(models, tmp_path, activation, dtype):
    model = models[activation, dtype]
    path = model.export_onnx(tmp_path / "sub" / "model.onnx")
    assert path == tmp_path / "sub" / "model.onnx" and path.is_file()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == INPUT_NAME and inp.shape[1] == 3 and not isinstance(inp.shape[0], int)
    assert [o.name for o in sess.get_outputs()] == list(OUTPUT_NAMES)
    assert inp.type == f"tensor({'double' if dtype == 'float64' else 'float'})"
    _check(lambda x: tuple(sess.run(None, {INPUT_NAME: x})), model, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ["softplus", "elu"])
def test_torchscript_round_trip_through_jit_load(models, tmp_path, activation, dtype):
    model = models[activation, dtype]
    path = model.export_torchscript(tmp_path / "model.pt")
    extra = {"diffml.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)
    assert loaded.input_names == ["spot", "vol", "strike"] and loaded.output_name == "price"
    assert json.loads(extra["diffml.json"]) == metadata(model)

    def run(x):
        with torch.no_grad():
            v, g = loaded(torch.from_numpy(x))
        return v.numpy(), g.numpy()

    _check(run, model, dtype)


def test_onnx_metadata_names_and_scaler(models, tmp_path):
    model = models["softplus", "float64"]
    proto = onnx.load(str(model.export_onnx(tmp_path / "m.onnx")))
    props = {p.key: p.value for p in proto.metadata_props}
    meta = json.loads(props["diffml"])
    assert meta["input_names"] == ["spot", "vol", "strike"] and meta["output_name"] == "price"
    assert meta["input"] == {"name": "x", "shape": ["n", 3]}
    assert meta["outputs"] == [
        {"name": "value", "shape": ["n"]},
        {"name": "gradient", "shape": ["n", 3]},
    ]
    assert meta["scaler"] == model.scaler_.to_dict() and meta["dtype"] == "float64"
    assert "spot, vol, strike" in proto.doc_string


def test_exported_gradient_is_the_derivative_of_the_exported_value(models, tmp_path):
    """Independent of predict: central differences of the ONNX value in raw units match the ONNX
    gradient (a wrong σy/σx map-back would be off by orders of magnitude on these inputs)."""
    model = models["softplus", "float64"]
    sess = ort.InferenceSession(
        str(model.export_onnx(tmp_path / "m.onnx")), providers=["CPUExecutionProvider"]
    )
    X = _data(20, seed=2)[0]
    _, g = sess.run(None, {"x": X})
    for j, h in enumerate((1e-5, 1e-4, 1e-3)):
        up, dn = X.copy(), X.copy()
        up[:, j] += h
        dn[:, j] -= h
        fd = (sess.run(None, {"x": up})[0] - sess.run(None, {"x": dn})[0]) / (2 * h)
        np.testing.assert_allclose(g[:, j], fd, rtol=1e-6, atol=1e-9 * np.abs(g[:, j]).max())


def test_model_saved_in_format_1_exports_with_default_names(tmp_path):
    model = DifferentialRegressor.load(FORMAT_1)
    sess = ort.InferenceSession(
        str(model.export_onnx(tmp_path / "old.onnx")), providers=["CPUExecutionProvider"]
    )
    meta = json.loads(sess.get_modelmeta().custom_metadata_map["diffml"])
    assert meta["input_names"] == ["x0", "x1"] and meta["output_name"] == "y"
    X = np.array([[0.9, 4.0], [1.2, 7.5]])
    v, g = sess.run(None, {"x": X})
    assert _rel(v, model.predict(X)) <= TOL["float64"]
    assert _rel(g, model.predict_gradient(X)) <= TOL["float64"]


def test_unfitted_model_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="not fitted yet"):
        DifferentialRegressor().export_onnx(tmp_path / "m.onnx")
    with pytest.raises(RuntimeError, match="not fitted yet"):
        DifferentialRegressor().export_torchscript(tmp_path / "m.pt")
