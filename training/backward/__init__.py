"""Risky (XVA) values of netting sets by backward differential regression (docs/backward.md).

:func:`solve` fits one twin network per date of a backward recursion whose steps are
conditional expectations over one date interval, with the XVA source solved in closed form;
:class:`RiskySurrogate` holds the result; :mod:`.exposure` turns it into exposure profiles.
"""

from .dates import date_grid
from .exposure import ExposureProfile, exposure_profile
from .solver import default_regressor, solve
from .source import Scheme, Source
from .surrogate import DateFit, RiskySurrogate

#: Changes whenever the numbers a solve returns for the same arguments change (the labels'
#: variance reduction, the output-layer solve, a default): caches key on it.
SOLVER_VERSION = 3

__all__ = ["SOLVER_VERSION", "DateFit", "ExposureProfile", "RiskySurrogate", "Scheme", "Source",
           "date_grid", "default_regressor", "exposure_profile", "solve"]
