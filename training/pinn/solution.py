"""The trained PINN as a pricing function with autograd Greeks, saved as weights plus JSON."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import _validation as v
from .._persistence import (
    as_path,
    check_folder,
    make_folder,
    read_json,
    read_weights,
    require_fields,
    save_files,
)
from .network import PINNModel
from .options import PINNStatus
from .problems.base import PDEProblem, problem_from_dict

if TYPE_CHECKING:
    from .config import PINNConfig

#: Version of the saved layout; 2: the base-trial-value network of a two-signed payoff has a
#: third output (the sign feature of :mod:`training.pinn.network`).
FORMAT_VERSION = 2


#: Names of parameter Greeks that differ from ``d_<parameter>``.
PARAMETER_GREEKS = {"vol": "vega", "rate": "rho"}


def parameter_greek(name: str, problem: PDEProblem) -> str:
    """Key of dV/d(name) in :meth:`PINNSolution.greeks`: ``vega`` (vol) and ``rho`` (rate) for
    Black-Scholes, ``d_<name>`` otherwise (``d_lambda_b``, ``d_vol_1``, ``d_kappa``; ``d_rate``
    where ``rho`` is a correlation, as for the two-asset and Heston problems)."""
    nominal = getattr(problem, "problem", problem)
    key = PARAMETER_GREEKS.get(name, f"d_{name}")
    return f"d_{name}" if key == "rho" and "rho" in nominal.parameter_names else key


def _reals(field: str, value: Any) -> np.ndarray:
    """``value`` as float64, refused in one line when it is text or not numbers (``"0.5"``
    was parsed, ``["a"]`` gave NumPy's own message)."""
    a = np.asarray(value)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"The '{field}' parameter of PINNSolution must hold real numbers. "
                         f"Got dtype {a.dtype} instead.")
    return a.astype(np.float64)


@dataclass
class PINNSolution:
    """A trained PINN for ``problem``.

    ``points`` arguments are states of shape ``(n, d)`` (columns ``problem.state_names``, e.g.
    ``("spot",)``, ``("spot_1", "spot_2")`` or ``("spot", "variance")``; a 1D array is accepted for
    d = 1). ``tau`` is the time to maturity in years (scalar or shape (n,)); the default
    ``tau = maturity`` prices today. Values are in the currency of the strike, undiscounted
    beyond what the PDE does (V is the value at the state's date).

    Attributes:
        problem: the PDE problem.
        model: the trained :class:`PINNModel` (returns V / value_scale).
        config: the training :class:`PINNConfig`.
        history: loss history, name -> array over recorded steps ("step", "loss", "lr", one
            entry per loss term).
        stats: ``train_seconds``, ``steps``, ``status`` (a :class:`PINNStatus`: "completed",
            "converged", "time_limit" or "diverged"; saved as that string), ``lstsq_rounds``,
            ``faces`` (face name -> "reduced", "full" or "pointwise"), ``face_reduced_share``
            (face name -> share of its points with the reduced PDE) and ``base``.
    """

    problem: PDEProblem
    model: PINNModel
    config: PINNConfig
    history: dict[str, np.ndarray] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    # ----- evaluation -------------------------------------------------------------------------
    def _inputs(self, points: Any, tau: Any, params: Mapping[str, Any] | None = None
                ) -> torch.Tensor:
        p = self.problem
        param = next(self.model.parameters())
        x = torch.as_tensor(_reals("points", points), dtype=param.dtype)
        if x.ndim == 1 and p.dim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != p.dim:
            raise ValueError(
                f"The 'points' parameter of PINNSolution must have shape (n, {p.dim}) with columns "
                f"{p.state_names}. Got shape {tuple(x.shape)} instead."
            )
        n = x.shape[0]

        def column(field: str, value: Any) -> torch.Tensor:
            a = _reals(field, value)
            if a.ndim > 1 or a.size not in (1, n):
                raise ValueError(f"The '{field}' parameter of PINNSolution must be a number or "
                                 f"hold one per point ({n}). Got shape {a.shape} instead.")
            return torch.as_tensor(np.broadcast_to(a, (n,)).copy(), dtype=param.dtype)

        t = column("tau", p.maturity if tau is None else tau)
        cols = [t[:, None], x]
        ranges = p.parameter_ranges
        if params is not None and not isinstance(params, Mapping):
            raise ValueError(f"The 'params' parameter of PINNSolution must be a mapping of "
                             f"parameter names to values. Got {type(params).__name__} instead.")
        given = dict(params or {})
        unknown = sorted(set(given) - {r.name for r in ranges})
        if unknown:
            raise ValueError(
                f"The 'params' parameter of PINNSolution must name declared parameters "
                f"{[r.name for r in ranges]}. Got {unknown} instead."
            )
        for r in ranges:
            value = given.get(r.name, p.problem.parameter_value(r.name))  # type: ignore[attr-defined]
            cols.append(column(f"params[{r.name!r}]", value)[:, None])
        z = torch.cat(cols, dim=1)
        names = ("tau", *p.state_names, *(r.name for r in ranges))
        lo = (0.0, *p.input_lower)
        hi = (p.maturity, *p.input_upper)
        for j, (name, a, b) in enumerate(zip(names, lo, hi, strict=True)):
            c = z[:, j]
            slack = 1e-9 * max(abs(a), abs(b), 1.0)  # round-off at the box's edges
            bad = ~torch.isfinite(c) | (c < a - slack) | (c > b + slack)
            if bool(bad.any()):
                got = float(c[bad][0])
                raise ValueError(
                    f"PINNSolution: {name} must lie in the solved domain [{a:g}, {b:g}]; got "
                    f"{got:g} ({int(bad.sum())} of {n} points outside)")
        return z.to(param.device)

    def price(self, points: Any, tau: Any = None, params: Mapping[str, Any] | None = None
              ) -> np.ndarray:
        """Value V at ``points`` (n, d) and time to maturity ``tau``; returns (n,).

        ``params`` (parametric problems only): declared parameter -> value (scalar or (n,));
        parameters not given take the nominal problem's values."""
        z = self._inputs(points, tau, params)
        with torch.no_grad():
            u = self.model(z)
        return (u * self.problem.value_scale).cpu().numpy().astype(np.float64)

    def greeks(self, points: Any, tau: Any = None, params: Mapping[str, Any] | None = None
               ) -> dict[str, np.ndarray]:
        """Price and sensitivities by automatic differentiation of the network.

        Returns a dict with ``price`` (n,), ``theta`` = dV/dt = -dV/dtau per year (n,) and:

        * 1D (spot): ``delta`` (n,), ``gamma`` (n,);
        * baskets (spot_1, spot_2): ``delta`` (n, 2), ``gamma`` (n, 2) (d2V/dS_i^2),
          ``cross_gamma`` (n,) (d2V/dS1 dS2);
        * Heston (spot, variance): ``delta`` (n,), ``gamma`` (n,), ``vega`` = dV/dv (n,)
          (per unit of variance), ``vanna`` = d2V/dS dv (n,);
        * parametric problems, per declared parameter: dV/d(parameter) (n,) under the key of
          :func:`parameter_greek` (``vega`` = dV/dvol, ``rho`` = dV/drate for Black-Scholes,
          ``d_lambda_b``, ``d_vol_1``, ...), per unit of the parameter (vega per 1.00 of vol,
          not per vol point).
        """
        p = self.problem
        z = self._inputs(points, tau, params).requires_grad_(True)
        u = self.model(z)
        g = torch.autograd.grad(u.sum(), z, create_graph=True)[0]
        d = p.dim
        hess = torch.stack(
            [torch.autograd.grad(g[:, 1 + i].sum(), z, retain_graph=True)[0][:, 1:1 + d]
             for i in range(d)],
            dim=1,
        )
        k = p.value_scale

        def arr(t: torch.Tensor) -> np.ndarray:
            return (t.detach() * k).cpu().numpy().astype(np.float64)

        out = {"price": arr(u), "theta": arr(-g[:, 0])}
        names = p.state_names
        if names == ("spot",):
            out.update(delta=arr(g[:, 1]), gamma=arr(hess[:, 0, 0]))
        elif names == ("spot", "variance"):
            out.update(delta=arr(g[:, 1]), gamma=arr(hess[:, 0, 0]), vega=arr(g[:, 2]),
                       vanna=arr(hess[:, 0, 1]))
        else:
            out.update(delta=arr(g[:, 1:1 + d]), gamma=arr(torch.diagonal(hess, dim1=1, dim2=2)),
                       cross_gamma=arr(hess[:, 0, 1]))
        for j, r in enumerate(p.parameter_ranges):
            out[parameter_greek(r.name, p)] = arr(g[:, 1 + d + j])
        return out

    def delta(self, points: Any, tau: Any = None) -> np.ndarray:
        """dV/dS (1D and Heston: (n,); baskets: (n, 2))."""
        return self.greeks(points, tau)["delta"]

    def gamma(self, points: Any, tau: Any = None) -> np.ndarray:
        """d2V/dS2 (1D and Heston: (n,); baskets: (n, 2))."""
        return self.greeks(points, tau)["gamma"]

    def at(self, problem: PDEProblem) -> PINNSolution:
        """The same trained network with another nominal problem of its parametric family
        (``problem`` differs from the nominal one in declared parameters only and lies inside the
        ranges): prices and Greeks then default to ``problem``'s parameters."""
        from .problems.parametric import ParametricPDE

        if not isinstance(self.problem, ParametricPDE):
            raise ValueError("The 'problem' of PINNSolution.at needs a parametric solution "
                             f"(ParametricPDE). Got {type(self.problem).__name__} instead.")
        family = self.problem.at(problem)
        model = PINNModel(family, self.config.width, self.config.depth,
                          self.config.initial_condition, self.config.base_function,
                          self.config.leg_factors)
        param = next(self.model.parameters())
        model = model.to(device=param.device, dtype=param.dtype)
        model.load_state_dict(self.model.state_dict())
        model.eval()
        return PINNSolution(problem=family, model=model, config=self.config,
                            history=self.history, stats=dict(self.stats))

    # ----- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``weights.pt`` (state dict), ``config.json`` and ``history.npz`` into ``path``.
        A path that is empty, not a str or os.PathLike, or an existing file raises one error
        naming it (:mod:`training._persistence`)."""
        path = make_folder("PINNSolution", as_path("PINNSolution.save", path))
        state = {k: t.detach().cpu() for k, t in self.model.state_dict().items()}
        meta = {
            "format_version": FORMAT_VERSION,
            "kind": "PINNSolution",
            "problem": self.problem.to_dict(),
            "config": self.config.to_dict(),
            "stats": self.stats,
            "dtype": str(next(self.model.parameters()).dtype).removeprefix("torch."),
        }
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(val, dtype=np.float64)
                         for k, val in self.history.items()})
        save_files("PINNSolution", path, state, meta, {"history.npz": buf.getvalue()})
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> PINNSolution:
        """Read a solution written by :meth:`save` (weights loaded with ``weights_only=True``).

        A missing folder or file raises ``FileNotFoundError``; a damaged one (``config.json`` not
        JSON or lacking fields, ``weights.pt`` not a torch file or not matching ``config.json``,
        ``history.npz`` not a NumPy archive) ``ValueError``, naming the path and what is wrong;
        a ``device`` that is not available ``RuntimeError``."""
        from .config import PINNConfig

        dev = v.available_device("PINNSolution.load", "device",
                                 v.device_name("PINNSolution.load", "device", device))
        path = check_folder("PINNSolution", as_path("PINNSolution.load", path))
        meta = read_json("PINNSolution", path)
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"The 'format_version' field of {path / 'config.json'} must be {FORMAT_VERSION}. "
                f"Got {meta.get('format_version')!r} instead."
            )
        require_fields("PINNSolution", path, meta, ("problem", "config"))
        problem = problem_from_dict(meta["problem"])
        config = PINNConfig.from_dict(meta["config"])
        model = PINNModel(problem, config.width, config.depth, config.initial_condition,
                          config.base_function, config.leg_factors)
        model = model.to(device=dev, dtype=_saved_dtype(path, meta))
        model.load_state_dict(read_weights("PINNSolution", path, model.state_dict(),
                                           sha256=meta.get("weights_sha256")))
        model.eval()
        stats = dict(meta.get("stats", {}))
        if "status" in stats:
            stats["status"] = PINNStatus(stats["status"])
        return cls(problem=problem, model=model, config=config, history=_read_history(path),
                   stats=stats)


def _saved_dtype(path: Path, meta: dict[str, Any]) -> torch.dtype:
    """The torch dtype named by the ``dtype`` field of a saved solution (float64 if absent)."""
    name = meta.get("dtype", "float64")
    if name not in ("float64", "float32"):
        raise ValueError(f"Cannot load PINNSolution from {path}: the 'dtype' field of "
                         f"config.json must be 'float64' or 'float32'. Got {name!r} instead.")
    return getattr(torch, name)


def _read_history(path: Path) -> dict[str, np.ndarray]:
    """The loss history in ``path/history.npz`` (empty if the file is absent); ``ValueError``
    if it is not a NumPy archive of arrays."""
    file = path / "history.npz"
    if not file.exists():
        return {}
    history = None
    try:
        archive = np.load(file, allow_pickle=False)
        if isinstance(archive, np.lib.npyio.NpzFile):
            with archive as h:
                history = {k: h[k] for k in h.files}
    except (ValueError, EOFError, zipfile.BadZipFile):
        pass  # reported below, with the single arrays that are not an archive
    if history is None:
        raise ValueError(f"Cannot load PINNSolution from {path}: history.npz is not a NumPy "
                         "archive of arrays.")
    return history
