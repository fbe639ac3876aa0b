"""Shared cases of the PINN tests (parameter sets of docs/methods.md §2, labelled ours there)."""

import pytest
import torch

from simulators.xva import XVA
from training.pinn import BasketPDE, BlackScholesPDE, HestonPDE, WorstOfPDE

XVA_CASE = XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)
#: XVA_CASE's discount spread of a one-signed positive value, by hand: (1 - R_C) lambda_C + s_F
#: with the funding spread s_F = (1 - R_B) lambda_B: e^{-C_PUT tau} V_rf is the risky put
C_PUT = (1 - 0.4) * 0.05 + (1 - 0.4) * 0.02


def bs_put(xva=XVA_CASE, **kw):
    args = dict(strike=100.0, maturity=1.0, vol=0.25, rate=0.03, dividend=0.01, kind="put", xva=xva)
    return BlackScholesPDE(**{**args, **kw})


def basket_put(xva=XVA_CASE, **kw):
    args = dict(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rate=0.03, dividends=(0.0, 0.0),
                rho=0.5, kind="put", weights=(0.5, 0.5), xva=xva)
    return BasketPDE(**{**args, **kw})


def worst_of_put(xva=XVA_CASE, **kw):
    args = dict(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rate=0.03, dividends=(0.0, 0.0),
                rho=0.5, kind="put", xva=xva)
    return WorstOfPDE(**{**args, **kw})


def heston_put(xva=XVA_CASE, **kw):
    args = dict(strike=100.0, maturity=1.0, rate=0.025, dividend=0.0, kappa=1.5, theta=0.04,
                xi=0.3, rho=-0.9, kind="put", xva=xva)
    return HestonPDE(**{**args, **kw})


PROBLEMS = {"bs": bs_put, "basket": basket_put, "worst_of": worst_of_put, "heston": heston_put}


@pytest.fixture(autouse=True)
def _one_thread():
    """Small PINN graphs run fastest on one thread, and the CPU is shared."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
