"""Products: payoffs of the terminal state and their gradient."""

from .basket import BasketOption
from .european import European
from .extremes import BestOf, WorstOf

__all__ = ["BasketOption", "BestOf", "European", "WorstOf"]
