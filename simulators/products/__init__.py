"""Products: payoffs of the terminal state and their gradient."""

from .basket import BasketOption
from .european import European
from .extremes import BestOf, WorstOf
from .netting import Leg, NettingSet

__all__ = ["BasketOption", "BestOf", "European", "Leg", "NettingSet", "WorstOf", "payoff_sign"]


def payoff_sign(product: object, model: object) -> int:
    """+1 if ``product``'s payoff is >= 0 on every terminal state ``model`` can reach, -1 if
    <= 0, else 0 (what decides whether the risky value is ``e^{-c tau}`` times the risk-free
    one). A netting set's sign can depend on the model (:meth:`NettingSet.sign_for`: Bachelier
    assets can be negative); a single option's or forward's cannot."""
    if isinstance(product, NettingSet):
        return product.sign_for(model)
    return product.sign  # type: ignore[attr-defined]
