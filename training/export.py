"""Fitted twin networks as self-contained models for other tools: ONNX and TorchScript.

An exported model maps RAW inputs to the value and its gradient in original units; the scaling
of :mod:`training.scaling` and the twin network's explicit adjoint pass
(:func:`training.twin.twin_pass`) are inside the graph, so a caller needs neither diffml nor the
scaler. With n rows (any n ≥ 1: the batch axis is dynamic) and d inputs, in the model's dtype
(float64 or float32):

    input   x         (n, d)   raw inputs, columns in the order of ``input_names``
    output  value     (n,)     y = μy + σy ŷ(x̃),   x̃ = (x − μx)/σx
    output  gradient  (n, d)   dy/dx = (σy/σx) ⊙ ∂ŷ/∂x̃   (the explicit pass, not autograd)

Both formats carry the metadata of :func:`metadata` (input and output names, scaler, network
shape): ONNX as the model's ``metadata_props`` (key ``diffml``, a JSON string), TorchScript as the
extra file ``diffml.json`` and the module attributes ``input_names`` and ``output_name``.
The ONNX graph writes the activations in elementary operations (``portable=True`` of
:func:`~training.twin.twin_pass`) because ONNX Runtime has no float64 Softplus or Elu kernel; the
TorchScript module runs the same operations as ``predict``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ._persistence import as_path, file_target, writing
from .scaling import DifferentialScaler
from .twin import TwinNetwork, twin_pass

if TYPE_CHECKING:  # pragma: no cover
    from .regressor import DifferentialRegressor

#: Version of the metadata layout written by :func:`metadata`.
METADATA_VERSION = 1
#: ONNX operator set of :func:`export_onnx`.
ONNX_OPSET = 17
INPUT_NAME = "x"
OUTPUT_NAMES = ("value", "gradient")


class TwinExport(nn.Module):
    """``x`` (n, d) raw inputs -> (value (n,), gradient (n, d)) in original units.

    The weights (frozen parameters) and scaling constants (buffers) are copied to the CPU in the
    network's dtype. ``portable`` selects the elementary-operation activations (for ONNX).
    """

    def __init__(
        self,
        network: TwinNetwork,
        scaler: DifferentialScaler,
        input_names: list[str],
        output_name: str,
        portable: bool = False,
    ) -> None:
        super().__init__()
        dtype = next(network.parameters()).dtype
        self.activation = network.activation
        self.portable = portable
        self.input_names = list(input_names)
        self.output_name = output_name
        self.weights = nn.ParameterList(
            nn.Parameter(w.detach().to("cpu").clone(), requires_grad=False)
            for w in network.weights
        )
        self.biases = nn.ParameterList(
            nn.Parameter(b.detach().to("cpu").clone(), requires_grad=False)
            for b in network.biases
        )

        def const(v: Any) -> torch.Tensor:  # float64 constants rounded once to the model dtype
            return torch.as_tensor(np.asarray(v, dtype=np.float64)).to(dtype)

        self.register_buffer("x_mean", const(scaler.x_mean))
        self.register_buffer("x_std", const(scaler.x_std))
        self.register_buffer("y_mean", const(scaler.y_mean))
        self.register_buffer("y_std", const(scaler.y_std))
        self.register_buffer("gradient_factor", const(scaler.y_std / scaler.x_std))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xt = (x - self.x_mean) / self.x_std
        weights: list[torch.Tensor] = [w for w in self.weights]
        biases: list[torch.Tensor] = [b for b in self.biases]
        yt, gt = twin_pass(xt, weights, biases, self.activation, self.portable)
        return self.y_mean + self.y_std * yt, gt * self.gradient_factor


def metadata(model: DifferentialRegressor) -> dict[str, Any]:
    """JSON-ready description of an exported ``model``: graph input and outputs with shapes,
    ``input_names``, ``output_name``, dtype, network shape and scaler."""
    d = model.n_inputs_
    return {
        "metadata_version": METADATA_VERSION,
        "class": type(model).__name__,
        "input": {"name": INPUT_NAME, "shape": ["n", d]},
        "outputs": [
            {"name": OUTPUT_NAMES[0], "shape": ["n"]},
            {"name": OUTPUT_NAMES[1], "shape": ["n", d]},
        ],
        "input_names": list(model.input_names_),
        "output_name": model.output_name_,
        "dtype": str(model.dtype),
        "n_inputs": d,
        "hidden_layers": model.hidden_layers,
        "hidden_units": model.hidden_units,
        "activation": model.activation,
        "mode": str(model.mode_),
        "scaler": model.scaler_.to_dict(),
    }


def as_module(model: DifferentialRegressor, portable: bool = False) -> TwinExport:
    """The fitted ``model`` as an evaluation-mode :class:`TwinExport` on the CPU."""
    model._check_fitted()
    return TwinExport(
        model.network_, model.scaler_, model.input_names_, model.output_name_, portable
    ).eval()


def _target(model: DifferentialRegressor, path: str | Path, function: str, example: str) -> Path:
    """``path`` checked as the file ``function`` writes (:func:`~training._persistence
    .file_target`: a str or os.PathLike, not empty, not a folder; parents created)."""
    what = type(model).__name__
    return file_target(what, as_path(f"{what}.{function}", path), example)


def export_onnx(model: DifferentialRegressor, path: str | Path) -> Path:
    """Write ``model`` as an ONNX file (opset :data:`ONNX_OPSET`); returns the path.

    Needs the ``onnx`` package (for the metadata and the model check). The graph is traced with
    torch's TorchScript-based exporter (``dynamo=False``), which needs no further package.
    """
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("export_onnx needs the 'onnx' package: pip install onnx") from exc
    p = _target(model, path, "export_onnx", "model.onnx")
    m = as_module(model, portable=True)
    example = m.x_mean.expand(2, -1).clone()
    what = type(model).__name__
    with warnings.catch_warnings(), writing(what, p, "export"):
        # torch 2.13 marks the TorchScript-based exporter deprecated; the dynamo exporter
        # would need the onnxscript package.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            m,
            (example,),
            str(p),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: {0: "n"} for name in (INPUT_NAME, *OUTPUT_NAMES)},
            opset_version=ONNX_OPSET,
        )
    proto = onnx.load(str(p))
    meta = metadata(model)
    proto.doc_string = (
        f"diffml {meta['class']}: x (n, {meta['n_inputs']}) raw inputs "
        f"[{', '.join(meta['input_names'])}] -> value (n,) = {meta['output_name']}, "
        f"gradient (n, {meta['n_inputs']}) = d{meta['output_name']}/dx, original units"
    )
    entry = proto.metadata_props.add()
    entry.key, entry.value = "diffml", json.dumps(meta)
    onnx.checker.check_model(proto)
    with writing(what, p, "export"):
        onnx.save(proto, str(p))
    return p


def export_torchscript(model: DifferentialRegressor, path: str | Path) -> Path:
    """Write ``model`` as a TorchScript file (``torch.jit.script``), loadable with
    ``torch.jit.load`` without diffml; returns the path. The metadata is the extra file
    ``diffml.json`` (read it with ``torch.jit.load(path, _extra_files={"diffml.json": ""})``)."""
    p = _target(model, path, "export_torchscript", "model.pt")
    with warnings.catch_warnings():
        # torch 2.13 marks TorchScript deprecated; it is still what C++ (libtorch) loads.
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(as_module(model))
        extra = {"diffml.json": json.dumps(metadata(model))}
        with writing(type(model).__name__, p, "export"), open(p, "wb") as f:
            torch.jit.save(scripted, f, _extra_files=extra)
    return p


__all__ = [
    "INPUT_NAME",
    "METADATA_VERSION",
    "ONNX_OPSET",
    "OUTPUT_NAMES",
    "TwinExport",
    "as_module",
    "export_onnx",
    "export_torchscript",
    "metadata",
]
