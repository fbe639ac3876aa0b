"""Helpers for the dataset-layer tests: small specs, a reference simulation, a simulate spy."""

from __future__ import annotations

import data
import simulators as sim


def bs_spec(name: str = "bs", n_paths: int = 5000, seed: int = 7, chunk_paths: int = 1500,
            **changes) -> data.DatasetSpec:
    """A small Black-Scholes call dataset spec (x = spot at T1, forward-sampled)."""
    spec = data.DatasetSpec(
        name=name,
        model=sim.BlackScholes(vol=0.2, rate=0.01, dividend=0.0),
        product=sim.European(strike=1.10, maturity=1.0, kind="call"),
        sampler=sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.5),
        seed=seed, n_paths=n_paths, chunk_paths=chunk_paths,
    )
    return spec.replace(**changes) if changes else spec


def basket_spec(n_paths: int = 3000, chunk_paths: int = 1000, **changes) -> data.DatasetSpec:
    """A 7-asset Bachelier basket spec (Huge-Savine random basket)."""
    model, product = sim.random_bachelier_basket(dim=7, seed=1)
    spec = data.DatasetSpec(name="basket", model=model, product=product,
                            sampler=sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.5),
                            seed=11, n_paths=n_paths, chunk_paths=chunk_paths)
    return spec.replace(**changes) if changes else spec


def reference(spec: data.DatasetSpec) -> sim.Sample:
    """The whole sample simulated in one call."""
    return sim.simulate(spec.model, spec.product, spec.sampler, n_paths=spec.n_paths,
                        seed=spec.seed, antithetic=spec.antithetic, xva=spec.xva,
                        dtype=spec.precision)


class SimulateSpy:
    """Wraps ``simulators.simulate`` and records the (first_path, n_paths) of each call."""

    def __init__(self, real) -> None:
        self.real = real
        self.calls: list[tuple[int, int]] = []

    def __call__(self, *args, **kwargs):
        self.calls.append((kwargs.get("first_path", 0), kwargs.get("n_paths")))
        return self.real(*args, **kwargs)
