"""Monte-Carlo path simulators with hand-written adjoints.

Every path yields its input state x, its discounted payoff y and the pathwise gradient dy/dx.
``transition`` / ``transition_vjp`` move model states one step and pull cotangents back.
Importing this package is cheap: Numba kernels compile (or load from cache) on first use.
"""

# first: points Numba's cache at this source version's folder before any kernel is defined
from . import _numba_cache  # noqa: F401, I001

from .bachelier import BachelierBasket, random_bachelier_basket
from .black_scholes import BlackScholes
from .bs_basket import BlackScholesBasket
from .heston import Heston
from .products import BasketOption, BestOf, European, Leg, NettingSet, WorstOf, payoff_sign
from .rng import NUMBERS_VERSION, numbers_id
from .sample import Sample
from .samplers import FixedSampler, ForwardSampler, UniformSampler
from .simulate import simulate
from .transition import transition, transition_vjp
from .xva import XVA

__all__ = [
    "NUMBERS_VERSION",
    "XVA",
    "BachelierBasket",
    "BasketOption",
    "BestOf",
    "BlackScholes",
    "BlackScholesBasket",
    "Heston",
    "Leg",
    "NettingSet",
    "European",
    "FixedSampler",
    "ForwardSampler",
    "Sample",
    "UniformSampler",
    "WorstOf",
    "numbers_id",
    "payoff_sign",
    "random_bachelier_basket",
    "simulate",
    "transition",
    "transition_vjp",
]
