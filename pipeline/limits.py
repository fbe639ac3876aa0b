"""The bounds of every number in a run configuration, and the schemas of its solver options.

A configuration that ``diffml validate`` accepts stays within what one machine can run: path
counts and training sizes that fit in memory, step counts a kernel can loop over, networks torch
can allocate, finite floats everywhere. The constants below are the documented limits
(docs/pipeline.md, "Validation and limits"). Each check raises :class:`Refused`, which names the
field (relative to its section), the allowed range and the value received; ``pipeline.config``
adds the scenario.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

MAX_SEED = 2**63
"""Seeds (run, scenario, test set, training, PINN, random basket) lie in [0, 2**63)."""
MAX_PATHS = 2**31 - 1
"""Rows of one dataset (``n_paths``)."""
MAX_DATASET_BYTES = 16 * 2**30
"""A dataset's rows x (1 + 2 x inputs) x 8 bytes: training reads it whole into memory."""
MAX_CHUNK_PATHS = 2**24
"""Rows per dataset part and per Dask task (``chunk_paths``)."""
MAX_PARTS = 100_000
"""Parts of one dataset, ceil(rows / chunk_paths): ``data.schema.MAX_PARTS`` (repeated here so
that checking a configuration does not import the simulators)."""
MAX_TRAINING_SIZE = 2**24
"""Each entry of ``training.sizes``."""
MAX_CURVE_ENTRIES = 64
"""Entries of ``training.sizes`` and of ``training.seeds``."""
MAX_EPOCHS = 100_000
MAX_HIDDEN_LAYERS = 32
MAX_HIDDEN_UNITS = 1024
MAX_LAMBDA = 1e6
"""``training.lam``, the weight of the differential loss."""
MAX_LEARNING_RATE = 10.0
"""``training.peak_lr`` and the PINN's ``learning_rate``."""
MAX_TEST_POINTS = 2**20
MAX_SCENARIOS = 256
MAX_DASK_WORKERS = 64
MAX_THREADS_PER_WORKER = 64
MAX_HISTORY = 1000
MAX_REGRESSION_TOLERANCE = 1e6
MAX_TEXT = 500
"""Characters of a label."""
MAX_PATH_CHARS = 4096
"""Characters of ``output_root`` and ``dataset_root``."""

MAX_PARAMETER = 1e6
"""Absolute value of any other number of a model, product, sampler, XVA, test box or solver
option (spots, strikes, weights, quantities, Bachelier vols, grid bounds)."""
MAX_ASSETS = 100
MAX_YEARS = 100.0
"""Maturities and sampler horizons, in years."""
MAX_VOL = 5.0
"""Lognormal volatilities (Black-Scholes ``vol``, basket ``vols``, sampled vol ranges)."""
MAX_RATE = 1.0
"""Absolute value of rates, dividend yields, default intensities and the funding spread."""
MAX_VOL_MULT = 10.0
MAX_KAPPA = 1000.0
MAX_XI = 10.0
MAX_VARIANCE = 25.0
"""Heston ``theta``, the sampler's initial ``variance`` and the FD grid's ``v_max``."""
MAX_LOG_STD = 10.0
"""Standard deviation of log-spot of a lognormal model (Black-Scholes, its baskets, Heston at
sqrt(max(theta, variance))): vol x sqrt(maturity), and vol x vol_mult x sqrt(horizon) for a
forward sampler. Beyond it exp() underflows to zero spots and the labels become NaN."""
MAX_LOG_DRIFT = 10.0
"""|rate|, |dividend| and the XVA spread lambda_b + lambda_c + funding_spread, each times the
longest of maturity and horizon: discount and growth factors within e^10."""
MAX_STEPS_PER_YEAR = 100_000
MAX_TIME_STEPS = 100_000
"""Time steps of one path: ``steps_per_year`` x (sampler horizon or product maturity)."""

SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss")
"""Protocols of a Dask scheduler address that a plain ``distributed`` install can speak."""


def address_problem(address: str) -> str | None:
    """None for a scheduler address ``scheme://host:port`` (scheme in
    :data:`SCHEDULER_SCHEMES`, port in [1, 65535], nothing after the port); else what is wrong,
    as a rule that follows "must be"."""
    example = "a scheduler address such as tcp://host:8786"
    if not isinstance(address, str) or len(address) > 260 or any(c.isspace() for c in address):
        return example
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in SCHEDULER_SCHEMES:
        return f"{example} (protocol one of {', '.join(SCHEDULER_SCHEMES)})"
    host, colon, port = rest.rpartition(":")
    if (not colon or not host.strip("[]") or not (port.isascii() and port.isdigit())
            or "@" in host or "/" in host):
        return f"{example} (a host and a port, nothing after the port)"
    bracketed = host.startswith("[") and host.endswith("]")
    if ("[" in host or "]" in host or ":" in host) and not (
            bracketed and ":" in host and "[" not in host[1:-1] and "]" not in host[1:-1]):
        return f"{example} (an IPv6 host in brackets, e.g. tcp://[::1]:8786)"
    if not 0 < int(port) < 65536:
        return f"{example} with a port in [1, 65535]"
    return None


MAX_FD_SPACE_STEPS = 100_000
"""FD space steps per axis."""
MAX_FD_NODES = 2**20
"""FD grid nodes, all axes together."""
MAX_FD_TIME_STEPS = 100_000
MAX_FD_ITERATIONS = 10_000
MAX_DAMPING_STEPS = 100
MAX_PINN_STEPS = 1_000_000
"""PINN Adam steps, L-BFGS iterations, decay and checkpoint intervals."""
MAX_COLLOCATION_POINTS = 2**18
"""PINN collocation points: times x space nodes of a grid, or each count of a sampler."""
MAX_PINN_ACTIVATIONS = 2**26
"""PINN collocation points x width x depth: the activations that the second-derivative graph
holds at once (the 2-D default is 35k points x 32 x 3, about 3.4 million)."""
MAX_LBFGS_HISTORY = 1000
MAX_LSTSQ_ROUNDS = 100
MAX_TORCH_THREADS = 1024
MAX_TIME_LIMIT = 7 * 86_400.0
"""PINN ``time_limit``, seconds."""
MAX_BACKWARD_DATES = 500
"""Date intervals of a backward solve (``backward.dates``)."""
MIN_BACKWARD_PATHS = 256
MAX_BACKWARD_PATHS = 2_000_000
"""Regression examples per date (``backward.paths_per_date``)."""
MAX_BACKWARD_STATE_BYTES = 4 * 2**30
"""The states a backward solve holds at once: dates x paths_per_date x state columns x 8
bytes (every date's states are simulated before the first fit)."""
MIN_EXPOSURE_PATHS = 1000
MAX_EXPOSURE_PATHS = 2_000_000
"""Outer paths of an exposure profile (``backward.exposure.paths``)."""
MAX_BACKWARD_SEED = 2**32
"""RNG keys of the backward solve and its regressors lie in [0, 2**32): a backward block needs
the scenario's seed (or the run's) below it."""


class Refused(ValueError):
    """A value outside its bounds: ``field`` (dotted, relative to its section) and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field {field!r}: {reason}")
        self.field = field
        self.reason = reason


def shown(value: Any, width: int = 80) -> str:
    """``repr(value)``, cut to ``width`` characters."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def fail(field: str, rule: str, value: Any) -> None:
    raise Refused(field, f"must be {rule}. Got {shown(value)} instead.")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(field: str, value: Any, low: int, high: int) -> int:
    """A strict integer (no bool, no float) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(field, f"an integer in [{low}, {high}]", value)
    if not low <= value <= high:
        fail(field, f"an integer in [{low}, {high}]", value)
    return value


def real(field: str, value: Any, low: float, high: float, *, open_low: bool = False) -> float:
    """A finite number (int or float, no bool) in [low, high] (or (low, high])."""
    rule = f"a finite number in {'(' if open_low else '['}{low:g}, {high:g}]"
    if not _is_number(value):
        fail(field, rule, value)
    if isinstance(value, float) and not math.isfinite(value):
        fail(field, rule, value)
    if value < low or value > high or (open_low and value == low):
        fail(field, rule, value)
    return float(value)


# ---------------------------------------------------------------- simulators parameter blocks
_TEXT_KEYS = frozenset({"type", "kind", "underlying", "inputs"})
_FLAG_KEYS = frozenset({"vol_inputs"})
_INTEGER_KEYS = frozenset({"dim", "seed", "steps_per_year"})
_CAPS: dict[str, float] = {
    "maturity": MAX_YEARS, "horizon": MAX_YEARS, "vol": MAX_VOL,
    "rate": MAX_RATE, "dividend": MAX_RATE, "dividends": MAX_RATE, "lambda_b": MAX_RATE,
    "lambda_c": MAX_RATE, "funding_spread": MAX_RATE, "vol_mult": MAX_VOL_MULT,
    "kappa": MAX_KAPPA, "xi": MAX_XI, "theta": MAX_VARIANCE, "variance": MAX_VARIANCE,
    "steps_per_year": MAX_STEPS_PER_YEAR, "dim": MAX_ASSETS, "seed": MAX_SEED - 1,
}
_TYPE_CAPS: dict[tuple[str, str], float] = {("BlackScholesBasket", "vols"): MAX_VOL}
_SIGNED_BY_SIMULATORS = frozenset({
    "maturity", "horizon", "vol", "vols", "vol_mult", "kappa", "xi", "theta", "variance",
    "lambda_b", "lambda_c", "funding_spread"})
"""Keys whose sign the simulators check (with their own message); only the cap is checked
here."""


def check_block(block: Mapping[str, Any], section: str) -> None:
    """Every leaf of a model/product/sampler/XVA block: numbers finite and within their cap
    (:data:`_CAPS` by key, else :data:`MAX_PARAMETER`), integers strict, text only under
    ``type``, ``kind``, ``underlying`` and ``inputs``. Signs and shapes are the simulators'
    checks; this bounds magnitudes so that nothing overflows downstream. A refusal names the
    section as the field and the parameter in the simulators' format: ``The 'vol' parameter of
    BlackScholes must be a finite number <= 5. Got 1e+308 instead.``"""
    owner = block.get("type")
    _walk(block, "", None, owner if isinstance(owner, str) else section, section)


def _walk(value: Any, path: str, key: str | None, owner: str, section: str) -> None:
    def refuse(rule: str) -> None:
        raise Refused(section, f"The '{path}' parameter of {owner} must be {rule}. "
                               f"Got {shown(value)} instead.")

    if isinstance(value, Mapping):
        for k, item in value.items():
            if not isinstance(k, str):
                raise Refused(section, f"keys must be text. Got {shown(k)} instead.")
            _walk(item, f"{path}.{k}" if path else k, k, owner, section)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]", key, owner, section)
    elif value is None:
        return
    elif isinstance(value, str):
        if key not in _TEXT_KEYS:
            refuse("a number")
    elif isinstance(value, bool):
        if key not in _FLAG_KEYS:
            refuse("a number, not true/false")
    elif _is_number(value):
        cap = _TYPE_CAPS.get((owner, key or ""), _CAPS.get(key or "", MAX_PARAMETER))
        if key in _INTEGER_KEYS:
            low = 0 if key == "seed" else 1
            if not isinstance(value, int) or not low <= value <= cap:
                refuse(f"an integer in [{low}, {int(cap)}]")
        elif isinstance(value, float) and not math.isfinite(value):
            refuse("finite")
        elif key in _SIGNED_BY_SIMULATORS and value > cap:
            refuse(f"<= {cap:g}")
        elif key not in _SIGNED_BY_SIMULATORS and abs(value) > cap:
            refuse(f"in [{-cap:g}, {cap:g}]")
    else:
        refuse("a number, a list or a mapping")


def _log_vol(model: Any, sampler: Any) -> float | None:
    """The largest lognormal volatility the paths can see (None for a normal model)."""
    ranges = getattr(sampler, "params", None) or {}
    highs = [hi for name, (_, hi) in ranges.items() if name.startswith("vol")]
    name = type(model).__name__
    if name == "BlackScholes":
        return max([model.vol, *highs])
    if name == "BlackScholesBasket":
        return max([*model.vols, *highs])
    if name == "Heston":
        variances = [model.theta, getattr(sampler, "variance", None) or 0.0,
                     *[hi for n, (_, hi) in ranges.items() if n == "theta"]]
        return math.sqrt(max(variances))
    return None


def _check_scales(model: Any, product: Any, sampler: Any, xva: Any) -> None:
    years = max(product.maturity, getattr(sampler, "horizon", 0.0))
    vol = _log_vol(model, sampler)
    if vol is not None:
        std = vol * math.sqrt(product.maturity)
        if std > MAX_LOG_STD:
            fail("product.maturity", f"such that vol x sqrt(maturity) <= {MAX_LOG_STD:g}",
                 f"{vol:g} x sqrt({product.maturity:g}) = {std:.4g}")
        if hasattr(sampler, "horizon"):
            std = vol * sampler.vol_mult * math.sqrt(sampler.horizon)
            if std > MAX_LOG_STD:
                fail("sampler", f"such that vol x vol_mult x sqrt(horizon) <= {MAX_LOG_STD:g}",
                     f"{vol:g} x {sampler.vol_mult:g} x sqrt({sampler.horizon:g}) = {std:.4g}")
    ranges = getattr(sampler, "params", None) or {}
    rates = {"model.rate": abs(model.rate)}
    divs = getattr(model, "dividends", None) or [getattr(model, "dividend", 0.0)]
    rates["model.dividend"] = max(abs(q) for q in divs)
    if "rate" in ranges:
        rates["sampler.params.rate"] = max(abs(r) for r in ranges["rate"])
    if xva is not None:
        rates["xva"] = xva.lambda_b + xva.lambda_c + (xva.funding_spread or 0.0)
    for field, rate in rates.items():
        if rate * years > MAX_LOG_DRIFT:
            fail(field, f"such that |rate| x years <= {MAX_LOG_DRIFT:g} (years: the longest "
                 "of maturity and horizon)", f"{rate:g} x {years:g} = {rate * years:.4g}")


def check_objects(model: Any, product: Any, sampler: Any, xva: Any = None) -> None:
    """Bounds that need the built objects: the sampler fits the model (positive spots for
    lognormal models, the model's inputs), the number of assets, a path's time steps, and
    log-spot spreads and drifts whose exponentials stay finite and non-zero."""
    if model.dim > MAX_ASSETS:
        fail("model", f"a model of at most {MAX_ASSETS} assets", f"{model.dim} assets")
    try:
        sampler.validate(model)
    except ValueError as exc:
        raise Refused("sampler", str(exc)) from None
    if hasattr(model, "steps_per_year"):
        spans = [("product.maturity", product.maturity)]
        if hasattr(sampler, "horizon"):
            spans.append(("sampler.horizon", sampler.horizon))
        for name, tau in spans:
            steps = model.steps(tau)
            if steps > MAX_TIME_STEPS:
                fail("model.steps_per_year", f"such that steps_per_year x {name} "
                     f"<= {MAX_TIME_STEPS} time steps", f"{model.steps_per_year} x {tau:g} = "
                     f"{steps} steps")
    _check_scales(model, product, sampler, xva)


def check_parts(field: str, paths: int, chunk_paths: int) -> None:
    """ceil(paths / chunk_paths) parts within :data:`MAX_PARTS` (each part is a file and a
    Dask task)."""
    if -(-paths // chunk_paths) > MAX_PARTS:
        fail(field, f"at most {MAX_PARTS * chunk_paths} rows with chunk_paths {chunk_paths} "
             f"({MAX_PARTS} parts; raise chunk_paths to at least {-(-paths // MAX_PARTS)})",
             paths)


def check_dataset_size(field: str, paths: int, n_inputs: int) -> None:
    """Rows x (1 + 2 x inputs) x 8 bytes within :data:`MAX_DATASET_BYTES`."""
    row = (1 + 2 * n_inputs) * 8
    if paths * row > MAX_DATASET_BYTES:
        fail(field, f"at most {MAX_DATASET_BYTES // row} rows for {n_inputs} input(s) "
             f"({MAX_DATASET_BYTES // 2**30} GiB at {row} bytes a row)", paths)


# ---------------------------------------------------------------- solver options
Check = Callable[[str, Any], Any]


def _int_check(low: int, high: int, *, none: bool = False) -> Check:
    def check(field: str, value: Any) -> Any:
        return None if value is None and none else integer(field, value, low, high)
    return check


def _real_check(low: float, high: float, *, open_low: bool = False, none: bool = False
                ) -> Check:
    def check(field: str, value: Any) -> Any:
        if value is None and none:
            return None
        return real(field, value, low, high, open_low=open_low)
    return check


def _pair_check(item: Check, *, none: bool = False) -> Check:
    """One value or a list of two."""
    def check(field: str, value: Any) -> Any:
        if value is None and none:
            return None
        if isinstance(value, list):
            if len(value) != 2:
                fail(field, "one value or a list of two", value)
            return [item(f"{field}[{i}]", v) for i, v in enumerate(value)]
        return item(field, value)
    return check


def _choice_check(*allowed: Any) -> Check:
    def check(field: str, value: Any) -> Any:
        if isinstance(value, bool) or value not in allowed:
            fail(field, "one of " + ", ".join(shown(a) for a in allowed), value)
        return value
    return check


def _flag(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        fail(field, "true or false", value)
    return value


def _text(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_PATH_CHARS or any(
            ord(c) < 32 for c in value):
        fail(field, f"a path of 1-{MAX_PATH_CHARS} printable characters", value)
    return value


_DEVICE = re.compile(r"cpu|cuda(:[0-9]{1,2})?")


def _device(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        fail(field, "'cpu', 'cuda' or 'cuda:<index>'", value)
    return value


_positive = _real_check(0.0, MAX_PARAMETER, open_low=True, none=True)
_space_steps = _int_check(4, MAX_FD_SPACE_STEPS)
_FD_COMMON: dict[str, Check] = {
    "n_time": _int_check(1, MAX_FD_TIME_STEPS),
    "cluster": _positive,
}
FD_OPTIONS: dict[str, dict[str, Check]] = {
    "fd_black_scholes_1d": {**_FD_COMMON, "n_space": _space_steps, "s_max": _positive,
                            "center": _positive,
                            "rannacher_steps": _int_check(0, MAX_DAMPING_STEPS),
                            "tol": _real_check(0.0, 1.0, open_low=True),
                            "max_iter": _int_check(1, MAX_FD_ITERATIONS)},
    "fd_basket_2d": {**_FD_COMMON, "n_space": _pair_check(_space_steps),
                     "s_max": _pair_check(_positive, none=True),
                     "center": _pair_check(_positive, none=True),
                     "damping_steps": _int_check(0, MAX_DAMPING_STEPS)},
    "fd_heston_2d": {**_FD_COMMON, "n_space": _pair_check(_space_steps), "s_max": _positive,
                     "v_max": _real_check(0.0, MAX_VARIANCE, open_low=True),
                     "v_cluster": _positive, "center": _positive,
                     "damping_steps": _int_check(0, MAX_DAMPING_STEPS)},
}
"""Keyword arguments of each FD reference (by the name of its ``pipeline.references``
callable) and their checks."""


def _known(options: Mapping[str, Any], table: Mapping[str, Check], section: str) -> None:
    for key, value in options.items():
        if key not in table:
            fail(f"{section}.{key}", "a known key (one of " + ", ".join(sorted(table)) + ")",
                 key)
        table[key](f"{section}.{key}", value)


def check_fd(options: Mapping[str, Any], solver: str | None, dim: int, strike: float) -> None:
    """``reference.fd`` for the scenario's FD solver (``None``: the pair has none); ``strike``
    is the product's (largest) strike, below the grid's upper bound ``s_max``."""
    if solver is None:
        if options:
            fail("reference.fd", "empty: this model and product have no FD reference", options)
        return
    _known(options, FD_OPTIONS[solver], "reference.fd")
    steps = options.get("n_space")
    if steps is not None:
        per_axis = steps if isinstance(steps, list) else [steps] * dim
        if math.prod(per_axis) > MAX_FD_NODES:
            fail("reference.fd.n_space", f"at most {MAX_FD_NODES} grid nodes in all",
                 f"{' x '.join(map(str, per_axis))} = {math.prod(per_axis)}")
    centers = options.get("center")
    center = max(centers) if isinstance(centers, list) else centers
    s_max = options.get("s_max")
    if s_max is not None:
        floor = strike if center is None else center
        if min(s_max if isinstance(s_max, list) else [s_max]) <= floor:
            fail("reference.fd.s_max", f"> {'center' if center is not None else 'the strike'} "
                 f"{floor:g}", s_max)


_COLLOCATION_COUNT = _int_check(1, MAX_COLLOCATION_POINTS)
_GRID: dict[str, Check] = {"type": _choice_check("UniformGrid", "ClusteredGrid"),
                           "n_tau": _int_check(2, MAX_COLLOCATION_POINTS),
                           "n_space": lambda f, v: v}
COLLOCATION_OPTIONS: dict[str, dict[str, Check]] = {
    "UniformGrid": _GRID,
    "ClusteredGrid": {**_GRID, "stretch": _real_check(0.0, MAX_PARAMETER, open_low=True),
                      "tau_power": _real_check(1.0, 100.0),
                      "state_weights": _choice_check("area", "nodes")},
    "SobolSampler": {"type": _choice_check("SobolSampler", "RandomSampler"),
                     "n_interior": _COLLOCATION_COUNT, "n_initial": _COLLOCATION_COUNT,
                     "n_boundary": _COLLOCATION_COUNT},
}
COLLOCATION_OPTIONS["RandomSampler"] = COLLOCATION_OPTIONS["SobolSampler"]
_GRID_DEFAULTS = {"UniformGrid": (51, 201), "ClusteredGrid": (21, 41)}


def _collocation(field: str, value: Any, dim: int) -> int:
    """Checks a collocation block; returns its number of points."""
    if not isinstance(value, Mapping) or value.get("type") not in COLLOCATION_OPTIONS:
        fail(f"{field}.type", "one of " + ", ".join(sorted(COLLOCATION_OPTIONS)),
             value.get("type") if isinstance(value, Mapping) else value)
    kind = value["type"]
    _known(value, COLLOCATION_OPTIONS[kind], field)
    if kind not in _GRID_DEFAULTS:
        return sum(value.get(k, n) for k, n in (("n_interior", 8192), ("n_initial", 1024),
                                                ("n_boundary", 512)))
    n_tau = value.get("n_tau", _GRID_DEFAULTS[kind][0])
    n_space = value.get("n_space", _GRID_DEFAULTS[kind][1])
    if isinstance(n_space, list):
        if len(n_space) != dim:
            fail(f"{field}.n_space", f"one integer, or a list of {dim} (one per state variable)",
                 n_space)
        per_axis = [integer(f"{field}.n_space[{i}]", n, 2, MAX_COLLOCATION_POINTS)
                    for i, n in enumerate(n_space)]
    else:
        per_axis = [integer(f"{field}.n_space", n_space, 2, MAX_COLLOCATION_POINTS)] * dim
    total = n_tau * math.prod(per_axis)
    if total > MAX_COLLOCATION_POINTS:
        fail(field, f"a grid of at most {MAX_COLLOCATION_POINTS} points (n_tau x n_space per "
             "state variable)", f"{' x '.join(map(str, [n_tau, *per_axis]))} = {total}")
    return total


MAX_PARAMETER_COPIES = 64
"""Most copies of each collocation point at sampled parameter values (parametric PINNs)."""

_STEPS = _int_check(0, MAX_PINN_STEPS)
PINN_OPTIONS: dict[str, Check] = {
    "loss": _choice_check("boundary_safe", "classical"),
    "initial_condition": _choice_check("soft", "hard", "base"),
    "width": _int_check(1, MAX_HIDDEN_UNITS),
    "depth": _int_check(1, MAX_HIDDEN_LAYERS),
    "collocation": lambda f, v: v,
    "adam_steps": _STEPS,
    "learning_rate": _real_check(0.0, MAX_LEARNING_RATE, open_low=True),
    "decay_rate": _real_check(0.0, MAX_PARAMETER),
    "decay_steps": _int_check(1, MAX_PINN_STEPS),
    "lbfgs_iterations": _STEPS,
    "lbfgs_history": _int_check(1, MAX_LBFGS_HISTORY),
    "lstsq_rounds": _int_check(0, MAX_LSTSQ_ROUNDS),
    "lstsq_every": _STEPS,
    "parameter_copies": _int_check(1, MAX_PARAMETER_COPIES),
    "bc_weight": _real_check(0.0, MAX_PARAMETER),
    "ic_weight": _real_check(0.0, MAX_PARAMETER),
    "face_residuals": _choice_check("reduced", "full", "auto", "pointwise"),
    "base_function": _choice_check("risk_free", "split", "smoothed_payoff"),
    "leg_factors": _flag,
    "dtype": _choice_check("float64", "float32"),
    "device": _device,
    "seed": _int_check(0, MAX_SEED - 1),
    "checkpoint_every": _STEPS,
    "checkpoint_dir": _text,
    "progress": _flag,
    "time_limit": _real_check(0.0, MAX_TIME_LIMIT, open_low=True, none=True),
    "num_threads": _int_check(1, MAX_TORCH_THREADS, none=True),
}
"""Fields of ``training.pinn.PINNConfig`` a config may set, and their checks (``adaptive``
resampling is not configurable from YAML)."""


def check_pinn(options: Mapping[str, Any], variant: str, dim: int) -> None:
    """``pinn.options`` for a problem with ``dim`` state variables; the ``best`` variant also
    takes ``base`` ('risk_free', 'split', 'smoothed_payoff' or null)."""
    table = dict(PINN_OPTIONS)
    if variant == "best":
        table["base"] = _choice_check("risk_free", "split", "smoothed_payoff", None)
    _known(options, table, "pinn.options")
    default = ({"type": "UniformGrid"} if dim == 1 else
               {"type": "UniformGrid", "n_tau": 21, "n_space": 41})
    points = _collocation("pinn.options.collocation", options.get("collocation", default), dim)
    width, depth = (32, 3) if variant == "best" else (40, 4)
    width, depth = options.get("width", width), options.get("depth", depth)
    if points * width * depth > MAX_PINN_ACTIVATIONS:
        fail("pinn.options", f"such that collocation points x width x depth <= "
             f"{MAX_PINN_ACTIVATIONS}", f"{points} x {width} x {depth} = "
             f"{points * width * depth}")
    if options.get("checkpoint_every") and not options.get("checkpoint_dir"):
        fail("pinn.options.checkpoint_dir", "set when checkpoint_every > 0",
             options.get("checkpoint_dir"))


BACKWARD_REGRESSOR_OPTIONS: dict[str, Check] = {
    "hidden_layers": _int_check(1, MAX_HIDDEN_LAYERS),
    "hidden_units": _int_check(1, MAX_HIDDEN_UNITS),
    "epochs": _int_check(1, MAX_EPOCHS),
    "lam": _real_check(0.0, MAX_LAMBDA),
    "peak_lr": _real_check(0.0, MAX_LEARNING_RATE, open_low=True),
    "seed": _int_check(0, 2**31 - 1),
    "num_threads": _int_check(1, MAX_TORCH_THREADS),
}
"""Hyperparameters of the ``DifferentialRegressor`` each date of a backward solve clones
(``backward.regressor``), and their checks; the others keep
``training.backward.default_regressor``'s values. Date k fits with seed ``seed + k``."""


def check_backward(regressor: Mapping[str, Any], dates: int, paths_per_date: int,
                   state_columns: int) -> None:
    """``backward.regressor`` keys and values, and the states the solve holds in memory
    (:data:`MAX_BACKWARD_STATE_BYTES`)."""
    _known(regressor, BACKWARD_REGRESSOR_OPTIONS, "backward.regressor")
    size = dates * paths_per_date * state_columns * 8
    if size > MAX_BACKWARD_STATE_BYTES:
        fail("backward.paths_per_date", f"such that dates x paths_per_date x state columns x "
             f"8 bytes <= {MAX_BACKWARD_STATE_BYTES // 2**30} GiB",
             f"{dates} x {paths_per_date} x {state_columns} x 8 = {size} bytes")
