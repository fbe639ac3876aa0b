"""Fixtures for the dataset-layer tests."""

from __future__ import annotations

import pytest

import simulators as sim
from tests.data._helpers import SimulateSpy


@pytest.fixture
def spy(monkeypatch) -> SimulateSpy:
    """Counts calls of ``simulators.simulate`` made through ``data.generate``."""
    s = SimulateSpy(sim.simulate)
    monkeypatch.setattr(sim, "simulate", s)
    return s


@pytest.fixture
def root(tmp_path):
    """An empty datasets root."""
    return tmp_path / "datasets"
