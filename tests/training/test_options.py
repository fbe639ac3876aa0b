"""Typed options of the array estimators: StrEnums equal to their strings, checked once, with the
project's message for anything else."""

import json
import re

import numpy as np
import pytest

from training import (
    DifferentialPolynomialRegression,
    DifferentialRegressor,
    DType,
    FitStatus,
    RidgePolynomialRegression,
    TrainMode,
)
from training._validation import Choice, option


def test_option_helper_converts_strings_and_names_field_allowed_values_and_value():
    assert option("Owner", "dtype", "float32", DType) is DType.FLOAT32
    assert option("Owner", "dtype", DType.FLOAT64, DType) is DType.FLOAT64
    for bad in ("float16", 64, None, b"float32"):
        msg = (f"The 'dtype' parameter of Owner must be one of 'float64', 'float32'. "
               f"Got {bad!r} instead.")
        with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
            option("Owner", "dtype", bad, DType)


def test_choice_constraint():
    c = Choice(TrainMode)
    assert c.accepts("standard") and c.accepts(TrainMode.DIFFERENTIAL)
    assert not c.accepts("Standard") and not c.accepts(None) and not c.accepts(1)
    assert c.describe() == "one of 'standard', 'differential'"


def test_enum_values_are_the_stored_strings():
    assert [m.value for m in DType] == ["float64", "float32"]
    assert [m.value for m in TrainMode] == ["standard", "differential"]
    assert [m.value for m in FitStatus] == ["completed", "early_stopped"]
    assert json.dumps({"mode": TrainMode.DIFFERENTIAL}) == '{"mode": "differential"}'


@pytest.mark.parametrize("dtype", ["float32", DType.FLOAT32])
def test_regressor_accepts_string_or_enum_and_reports_enums(tmp_path, dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    y, z = X.sum(axis=1), np.ones((64, 2))
    m = DifferentialRegressor(epochs=2, hidden_layers=1, hidden_units=4, dtype=dtype).fit(X, y, z)
    assert m.get_params()["dtype"] is dtype  # hyperparameters are stored as given
    assert m.predict(X).dtype == np.float64
    assert m.mode_ is TrainMode.DIFFERENTIAL and m.result_.mode is TrainMode.DIFFERENTIAL
    assert m.result_.status is FitStatus.COMPLETED and m.result_.status == "completed"
    saved = json.loads((m.save(tmp_path / "m") / "config.json").read_text())
    assert saved["mode"] == "differential" and saved["result"]["status"] == "completed"
    back = DifferentialRegressor.load(tmp_path / "m")
    assert back.mode_ is TrainMode.DIFFERENTIAL and back.result_.status is FitStatus.COMPLETED
    std = DifferentialRegressor(epochs=1, hidden_layers=1, hidden_units=4).fit(X, y)
    assert std.mode_ is TrainMode.STANDARD


def test_regressor_refuses_an_unknown_dtype():
    with pytest.raises(ValueError, match=re.escape(
            "The 'dtype' parameter of DifferentialRegressor must be one of 'float64', 'float32'. "
            "Got 'half' instead.")):
        DifferentialRegressor(dtype="half").fit(np.zeros((4, 1)), np.zeros(4))


def test_polynomial_modes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y, z = X.sum(axis=1), np.ones((30, 2))
    assert DifferentialPolynomialRegression(degree=1).fit(X, y, z).mode_ is TrainMode.DIFFERENTIAL
    assert DifferentialPolynomialRegression(degree=1).fit(X, y).mode_ is TrainMode.STANDARD
    assert RidgePolynomialRegression(degree=1).fit(X, y).mode_ is TrainMode.STANDARD
