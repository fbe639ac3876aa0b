"""Pricing PDE problems: Black-Scholes 1D, two-asset basket and worst-of, Heston."""

from .base import Derivatives, Face, PDEProblem, problem_from_dict
from .basket import BasketPDE, TwoAssetPDE, WorstOfPDE
from .black_scholes import BlackScholesPDE
from .heston import HestonPDE
from .parametric import ParameterRange, ParametricPDE

__all__ = [
    "BasketPDE",
    "BlackScholesPDE",
    "Derivatives",
    "Face",
    "HestonPDE",
    "PDEProblem",
    "ParameterRange",
    "ParametricPDE",
    "TwoAssetPDE",
    "WorstOfPDE",
    "problem_from_dict",
]
