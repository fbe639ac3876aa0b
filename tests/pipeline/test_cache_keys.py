"""Cache keys cover what the cached numbers depend on: a change of any of it recomputes."""

from __future__ import annotations

import pytest


def test_training_key_covers_the_whole_reference_and_the_regressor(small_config):
    """A cached fit is scored against the reference's prices, gradients and gammas: a change of
    any of them (a fixed analytic Greek, say) must not reuse the old curves; nor may a change of
    a regressor default that the config does not name."""
    import numpy as np

    import training
    from pipeline import steps
    from pipeline.config import load_config

    s = load_config(small_config).scenario("bs")
    ref = {"method": "analytic", "price": np.ones(3), "grad": np.ones((3, 1)),
           "gamma": np.ones((3, 1))}
    key = steps.training_key("h", s, ref)
    assert steps.training_key("h", s, {**ref}) == key
    for part in ("grad", "gamma"):
        assert steps.training_key("h", s, {**ref, part: 2 * ref[part]}) != key
    assert steps.training_key("h", s, {**ref, "method": "fd"}) != key

    class Changed(training.DifferentialRegressor):
        def get_params(self, deep=True):
            return {**super().get_params(deep), "clip_norm": 2.0}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "DifferentialRegressor", Changed)
        assert steps.training_key("h", s, ref) != key


def test_backward_key_covers_the_random_numbers(monkeypatch):
    import simulators
    from pipeline.backward_step import cache_key
    from pipeline.config import BackwardSettings

    objs = {"model": simulators.BlackScholes(vol=0.2),
            "product": simulators.NettingSet([simulators.Leg("forward", 1.0)], 1.0),
            "sampler": simulators.UniformSampler(low=0.5, high=1.5)}
    key = cache_key(objs, None, BackwardSettings(), 7)
    monkeypatch.setattr(simulators, "numbers_id", lambda backend: "other")
    assert cache_key(objs, None, BackwardSettings(), 7) != key
