"""Products: payoffs of the terminal state and their gradient."""

from .basket import BasketOption
from .european import European
from .extremes import BestOf, WorstOf
from .netting import Leg, NettingSet

__all__ = ["BasketOption", "BestOf", "European", "Leg", "NettingSet", "WorstOf"]
