"""Parameter objects (models, products, samplers, XVA) rebuilt from their ``to_dict()``."""

from __future__ import annotations

from typing import Any


def from_dict(d: dict | None) -> Any:
    """Rebuild a ``simulators`` parameter object from its ``to_dict()`` (``None`` stays ``None``).

    The class is looked up by the dict's ``"type"`` in the ``simulators`` namespace, so a new
    model or product that follows the ``to_dict`` convention needs no entry here (``simulate``
    and the pipeline's registry still list the classes they accept: docs/extending.md); the
    other keys are passed as keyword arguments.
    """
    if d is None:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("type"), str):
        raise ValueError(f"Expected a parameter dict with a 'type' key. Got {d!r}.")
    import simulators

    kwargs = {k: v for k, v in d.items() if k != "type"}
    cls = getattr(simulators, d["type"], None)
    if not isinstance(cls, type) or not hasattr(cls, "to_dict"):
        raise ValueError(f"Unknown parameter type {d['type']!r}: simulators has no such class.")
    if cls.__name__ == "ForwardSampler" and isinstance(kwargs.get("params"), dict):
        kwargs["params"] = {k: tuple(v) for k, v in kwargs["params"].items()}
    for key in ("inputs",):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"Cannot rebuild {d['type']} from {d!r}: {exc}") from exc
