"""Bad input to DifferentialRegressor's seed, save, load and export gives one clear error naming
the path (or the parameter) and what is wrong, with a fitting type; before, raw errors from torch,
json or pathlib surfaced (and ``save("")`` wrote into the current folder)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from training import DifferentialRegressor


@pytest.fixture(scope="module")
def data():
    X = np.random.default_rng(0).normal(size=(32, 2))
    return X, X.sum(axis=1), np.ones_like(X)


@pytest.fixture(scope="module")
def model(data):
    return DifferentialRegressor(hidden_layers=1, hidden_units=8, epochs=1).fit(*data)


@pytest.fixture
def saved(model, tmp_path):
    return model.save(tmp_path / "m")


def _cannot_load(path, problem):
    return re.escape(f"Cannot load DifferentialRegressor from {path}: {problem}")


# ----- seed -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2**70, 2**63, -1, True])
def test_seed_out_of_range_is_refused_at_fit(data, seed):
    """2**70 ended in torch's "Overflow when unpacking long long"."""
    msg = (f"The 'seed' parameter of DifferentialRegressor must be an integer in [0, 2**63). "
           f"Got {seed!r} instead.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        DifferentialRegressor(seed=seed, epochs=1).fit(*data)


def test_largest_seed_fits(data):
    m = DifferentialRegressor(seed=2**63 - 1, hidden_layers=1, hidden_units=4, epochs=1)
    assert np.all(np.isfinite(m.fit(*data).predict(data[0])))


# ----- size ------------------------------------------------------------------------------------


@pytest.mark.parametrize("field,value,rule", [
    ("hidden_units", 16_385, "an int in the range [1, 16384]"),
    ("hidden_layers", 1025, "an int in the range [1, 1024]"),
    ("epochs", 10**7 + 1, "an int in the range [1, 10000000]"),
])
def test_sizes_beyond_one_machine_are_refused(data, field, value, rule):
    with pytest.raises(ValueError, match=rf"The '{field}' parameter of DifferentialRegressor "
                                         rf"must be"):
        DifferentialRegressor(**{field: value}).fit(*data)


def test_a_network_of_more_than_2_27_weights_is_refused_before_it_is_built(data):
    """16384 units x 2 layers is allowed per field but has 2.7e8 weights; the message counts
    them, and the count is the network's own (``n_weights`` against torch's parameters)."""
    from training.regressor import n_weights
    from training.twin import TwinNetwork

    for d, depth, width in [(2, 1, 8), (7, 4, 20), (3, 3, 5)]:
        net = TwinNetwork(d, depth, width, "softplus", "glorot")
        assert n_weights(d, depth, width) == sum(p.numel() for p in net.parameters())
    with pytest.raises(ValueError, match=re.escape(
            "The 'hidden_units' parameter of DifferentialRegressor.fit must be such that the "
            "network has at most 134217728 weights (268517377 with 2 inputs and 2 hidden "
            "layers). Got 16384 instead.")):
        DifferentialRegressor(hidden_layers=2, hidden_units=16384, epochs=1).fit(*data)


# ----- save -----------------------------------------------------------------------------------


def test_save_refuses_an_empty_path(model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    msg = "The 'path' parameter of DifferentialRegressor.save must be a non-empty path. Got ''"
    with pytest.raises(ValueError, match=re.escape(msg)):
        model.save("")
    assert not list(tmp_path.iterdir())  # nothing written into the current folder


@pytest.mark.parametrize("path", [None, b"/tmp/m", 3])
def test_save_refuses_a_path_of_another_type(model, path):
    msg = (f"The 'path' parameter of DifferentialRegressor.save must be a str or os.PathLike "
           f"path. Got {path!r} instead.")
    with pytest.raises(TypeError, match=re.escape(msg)):
        model.save(path)


def test_save_onto_an_existing_file(model, tmp_path):
    file = tmp_path / "f"
    file.write_text("x")
    msg = f"Cannot save DifferentialRegressor to {file}: it is an existing file, not a folder."
    with pytest.raises(FileExistsError, match=re.escape(msg)):
        model.save(file)
    with pytest.raises(NotADirectoryError, match="a part of the path is an existing file"):
        model.save(file / "sub")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_save_where_no_folder_can_be_made(model):
    with pytest.raises(OSError, match=re.escape("Cannot save DifferentialRegressor to /proc/x")):
        model.save("/proc/x")


# ----- load -----------------------------------------------------------------------------------


def test_load_of_a_missing_folder_or_a_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=_cannot_load(tmp_path / "no", "no such folder.")):
        DifferentialRegressor.load(tmp_path / "no")
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(NotADirectoryError, match=_cannot_load(file, "it is a file, not the")):
        DifferentialRegressor.load(file)
    with pytest.raises(ValueError, match="The 'path' parameter of DifferentialRegressor.load "
                                         "must be a non-empty path"):
        DifferentialRegressor.load("")


def test_load_of_bad_json(saved):
    (saved / "config.json").write_text("{x")
    problem = "config.json is not valid JSON (line 1 column 2)."
    with pytest.raises(ValueError, match=_cannot_load(saved, problem)):
        DifferentialRegressor.load(saved)
    (saved / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=_cannot_load(saved, "config.json does not hold a JSON")):
        DifferentialRegressor.load(saved)


def test_load_of_a_config_lacking_fields_or_with_bad_parameters(saved):
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({k: v for k, v in config.items()
                                                   if k != "scaler"}))
    with pytest.raises(ValueError, match=_cannot_load(saved, "config.json lacks the fields "
                                                             "'scaler'.")):
        DifferentialRegressor.load(saved)
    bad = {**config, "params": {**config["params"], "colour": "red"}}
    (saved / "config.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=_cannot_load(saved, "config.json has unknown "
                                                             "parameters 'colour'.")):
        DifferentialRegressor.load(saved)
    for missing in ("activation", "dtype"):  # would load with today's default, silently
        bad = {**config, "params": {k: v for k, v in config["params"].items() if k != missing}}
        (saved / "config.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=_cannot_load(saved, "the 'params' of config.json "
                                                                 f"lack '{missing}'.")):
            DifferentialRegressor.load(saved)
    bad = {**config, "params": {**config["params"], "hidden_units": 0}}
    (saved / "config.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="The 'hidden_units' parameter of DifferentialRegressor"):
        DifferentialRegressor.load(saved)


SCALER = ("'scaler', 'mode' or 'result' in config.json is damaged (ValueError: the scaler must "
          "hold finite x_mean, x_std > 0 and lambda_j of shape (2,)")


NAMES = "'input_names' in config.json must be a list of 2 distinct non-empty strings"


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("n_inputs", 10**8, "config.json describes a network of"),
    ("n_inputs", -3, "'n_inputs' in config.json must be an integer in [1, "),
    ("n_inputs", 1.5, "'n_inputs' in config.json must be an integer in [1, "),
    ("n_inputs", True, "'n_inputs' in config.json must be an integer in [1, "),
    ("input_names", {"a": 1}, NAMES),
    ("input_names", ["a"], NAMES),
    ("input_names", ["a", "a"], NAMES),
    ("input_names", ["a", ""], NAMES),
    ("output_name", 5, "'output_name' in config.json must be a non-empty string"),
    ("result", {"history": {"evil": 1}}, "'scaler', 'mode' or 'result' in config.json is "
                                         "damaged"),
    ("mode", "sideways", "'scaler', 'mode' or 'result' in config.json is damaged"),
    ("scaler", {"x_mean": [0.0], "x_std": [1.0, 1.0], "y_mean": 0.0, "y_std": 1.0,
                "lambda_j": [1.0, 1.0]}, SCALER),
    ("scaler", {"x_mean": [0.0, 0.0], "x_std": [0.0, 1.0], "y_mean": 0.0, "y_std": 1.0,
                "lambda_j": [1.0, 1.0]}, SCALER),
    ("scaler", {"x_mean": [[1, 2], [3, 4]], "x_std": [1.0, 1.0], "y_mean": 0.0, "y_std": 1.0,
                "lambda_j": [1.0, 1.0]}, SCALER),
])
def test_load_of_a_damaged_config_is_refused_before_building_the_network(saved, field, value,
                                                                         problem):
    """Every field checked, before the network a damaged file describes is allocated (10**8
    inputs would be gigabytes)."""
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**config, field: value}))
    with pytest.raises(ValueError, match=re.escape(f"Cannot load DifferentialRegressor from "
                                                   f"{saved}: {problem}")):
        DifferentialRegressor.load(saved)


def _without_weights_hash(saved: Path) -> None:
    """As a folder saved before config.json held the SHA-256 of weights.pt: the weights' own
    checks are then the ones that speak."""
    config = json.loads((saved / "config.json").read_text())
    del config["weights_sha256"]
    (saved / "config.json").write_text(json.dumps(config))


def test_load_of_missing_or_garbage_weights(saved):
    _without_weights_hash(saved)
    (saved / "weights.pt").unlink()
    with pytest.raises(FileNotFoundError, match=_cannot_load(saved, "weights.pt is missing.")):
        DifferentialRegressor.load(saved)
    for content in (b"garbage", b""):
        (saved / "weights.pt").write_bytes(content)
        with pytest.raises(ValueError,
                           match=_cannot_load(saved, "weights.pt is not a torch weights file")):
            DifferentialRegressor.load(saved)
    torch.save(torch.zeros(3), saved / "weights.pt")
    with pytest.raises(ValueError, match=_cannot_load(
            saved, "weights.pt does not match config.json: it does not hold a state dict")):
        DifferentialRegressor.load(saved)


def test_load_of_weights_of_another_network(data, saved, tmp_path):
    """A torch "size mismatch" RuntimeError before."""
    X, y, _ = data
    other = DifferentialRegressor(hidden_layers=1, hidden_units=8, epochs=1)
    other.fit(np.c_[X, X, X[:, :1]], y).save(tmp_path / "other")
    (tmp_path / "other" / "weights.pt").replace(saved / "weights.pt")
    with pytest.raises(ValueError, match=_cannot_load(
            saved, "weights.pt is not the file config.json was saved with")):
        DifferentialRegressor.load(saved)
    _without_weights_hash(saved)
    problem = "weights.pt does not match config.json: weights.0 has shape (8, 5), expected (8, 2)."
    with pytest.raises(ValueError, match=_cannot_load(saved, problem)):
        DifferentialRegressor.load(saved)


def test_weights_of_another_model_of_the_same_shape_are_refused(data, saved, tmp_path):
    """A save into the folder of another model that stopped between its two files left the new
    weights beside the old config.json, whose scaler they were then loaded with, silently."""
    X, y, z = data
    other = DifferentialRegressor(hidden_layers=1, hidden_units=8, epochs=1, seed=1)
    other.fit(10 * X, y, z / 10).save(tmp_path / "other")
    (tmp_path / "other" / "weights.pt").replace(saved / "weights.pt")
    with pytest.raises(ValueError, match=_cannot_load(
            saved, "weights.pt is not the file config.json was saved with (its SHA-256 differs")):
        DifferentialRegressor.load(saved)


@pytest.mark.parametrize("field, value", [("seed", np.int64(3)), ("hidden_units", np.int64(4)),
                                          ("lam", np.float32(0.5)), ("epochs", np.int32(1))])
def test_numpy_scalar_settings_save_and_load(data, tmp_path, field, value):
    """fit takes NumPy scalars; save wrote weights.pt and then failed on json.dumps."""
    kw = {"hidden_layers": 1, "hidden_units": 8, "epochs": 1, field: value}
    m = DifferentialRegressor(**kw).fit(*data)
    loaded = DifferentialRegressor.load(m.save(tmp_path / "m"))
    assert loaded.get_params()[field] == value
    np.testing.assert_array_equal(loaded.predict(data[0]), m.predict(data[0]))


def test_a_save_that_cannot_be_written_leaves_the_folder_as_it_was(model, saved, data):
    before = {f.name: f.read_bytes() for f in saved.iterdir()}
    broken = DifferentialRegressor(hidden_layers=1, hidden_units=8, epochs=1).fit(*data)
    broken.result_.fit_seconds = object()
    with pytest.raises(ValueError, match=re.escape(
            f"Cannot save DifferentialRegressor to {saved}: its configuration cannot be "
            "written as JSON")):
        broken.save(saved)
    assert {f.name: f.read_bytes() for f in saved.iterdir()} == before


def test_damaged_schedule_names_the_folder(saved):
    config = json.loads((saved / "config.json").read_text())
    for schedule, why in (({"kind": "piecewise_linear"}, "KeyError: 'knots'"),
                          ({"kind": "x"}, "ValueError: unknown schedule")):
        config["params"]["schedule"] = schedule
        (saved / "config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=_cannot_load(
                saved, f"the 'schedule' in config.json is damaged ({why}")):
            DifferentialRegressor.load(saved)


def test_a_good_save_still_loads(model, saved, data):
    np.testing.assert_array_equal(DifferentialRegressor.load(saved).predict(data[0]),
                                  model.predict(data[0]))


# ----- export ---------------------------------------------------------------------------------


def test_export_to_a_folder(model, tmp_path):
    """An IsADirectoryError (ONNX) or a RuntimeError "open file failed" (TorchScript) from inside
    torch before."""
    pytest.importorskip("onnx")
    msg = (f"Cannot export DifferentialRegressor to {tmp_path}: it is a folder; give a file path "
           f"such as {tmp_path / 'model.onnx'}.")
    with pytest.raises(IsADirectoryError, match=re.escape(msg)):
        model.export_onnx(tmp_path)
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path / "model.pt"))):
        model.export_torchscript(tmp_path)


def test_export_to_a_bad_path(model, tmp_path):
    with pytest.raises(TypeError, match="The 'path' parameter of "
                                        "DifferentialRegressor.export_torchscript must be"):
        model.export_torchscript(None)
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(FileExistsError, match="a part of the path is an existing file"):
        model.export_torchscript(file / "m.pt")


def test_a_nan_knot_time_is_refused():
    from training.schedules import PiecewiseLinear

    with pytest.raises(ValueError, match="must have increasing times from 0 to 1"):
        PiecewiseLinear(((0.0, 0.01), (float("nan"), 0.02), (1.0, 0.001)))


def test_a_network_broken_by_its_last_steps_is_not_reported_as_completed(data):
    """The epoch losses are computed before each step, so a last step of rate 1e300 leaves a
    network of non-finite output behind finite losses."""
    from training.schedules import PiecewiseLinear

    X, y, z = data
    schedule = PiecewiseLinear(((0.0, 1e-3), (0.9, 1e-3), (1.0, 1e300)))
    model = DifferentialRegressor(epochs=20, hidden_units=4, hidden_layers=1, schedule=schedule)
    with pytest.raises(FloatingPointError, match="diverged in its last steps: the fitted "
                                                 "network's output is not finite"):
        model.fit(X, y, z)
    assert not hasattr(model, "network_") and not hasattr(model, "result_")


def test_models_saved_before_these_rules_still_load(saved):
    """A saved model with patience but no validation split (legal when it was saved), or
    without num_threads (recorded only by later versions), loads with the defaults."""
    config = json.loads((saved / "config.json").read_text())
    for params in ({**config["params"], "patience": 3},
                   {k: v for k, v in config["params"].items() if k != "num_threads"}):
        (saved / "config.json").write_text(json.dumps({**config, "params": params}))
        DifferentialRegressor.load(saved)


def test_patience_needs_a_validation_split(data):
    X, y, z = data
    with pytest.raises(ValueError, match=re.escape(
            "The 'patience' parameter of DifferentialRegressor must be None without "
            "'validation_fraction' (early stopping watches the validation loss). Got 1 instead.")):
        DifferentialRegressor(epochs=2, patience=1).fit(X, y, z)


def test_one_training_row_fits_without_a_library_warning(data):
    import warnings

    X, y, z = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DifferentialRegressor(epochs=2, hidden_units=4, hidden_layers=1).fit(X[:1], y[:1], z[:1])


@pytest.mark.parametrize("field", ["n_inputs", "hidden_layers", "hidden_units"])
def test_twin_network_needs_a_hidden_layer(field):
    from training.twin import TwinNetwork

    args = {"n_inputs": 2, "hidden_layers": 2, "hidden_units": 3, field: 0}
    with pytest.raises(ValueError, match=f"The '{field}' parameter of TwinNetwork must be an int "
                                         ">= 1"):
        TwinNetwork(**args)
