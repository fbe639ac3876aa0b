"""``-m gpu``: a device sample from ``simulate(..., backend="gpu", device_output=True)`` trains a
``DifferentialRegressor(device="cuda")`` through DLPack without a trip through the host, and the
fit equals the CPU fit on the same numbers (float64: the same seeded initialisation, shuffles and
steps; only the order of the device's sums differs)."""

from __future__ import annotations

import numpy as np
import pytest

import simulators as sim
from training import DifferentialRegressor

#: Tensors this small may reach the host during a fit: the epoch's three loss terms, the
#: validation losses, the scaler's 2d + 2 moments and d differential scales.
SMALL = 64


def _device_ready():
    torch = pytest.importorskip("torch")
    cupy = pytest.importorskip("cupy")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device here")
    from simulators.simulate import _gpu_usable

    if not _gpu_usable():
        pytest.skip("numba.cuda has no usable device here")
    return torch, cupy


class _HostCopyGuard:
    """Counts and refuses copies of device data to the host while active: ``cupy.asnumpy``,
    torch's ``cpu``/``numpy``/``tolist``/``to(cpu)`` on CUDA tensors of more than :data:`SMALL`
    elements, and the host converter of ``training._validation``. (CuPy's ``ndarray.get`` is an
    extension type's method and cannot be patched; the transfer counter of the next test covers
    every copy whatever makes it.)"""

    def __init__(self, monkeypatch, torch, cupy):
        self.refused: list[str] = []
        self.small = 0
        guard = self

        def refuse(what):
            guard.refused.append(what)
            raise AssertionError(f"host copy during fit: {what}")

        def tensor_method(name):
            original = getattr(torch.Tensor, name)

            def wrapped(self, *args, **kwargs):
                out = original(self, *args, **kwargs)
                if self.is_cuda and not (isinstance(out, torch.Tensor) and out.is_cuda):
                    if self.numel() > SMALL:
                        refuse(f"torch.Tensor.{name} of {tuple(self.shape)}")
                    guard.small += 1
                return out

            return wrapped

        for name in ("cpu", "numpy", "tolist", "to"):
            monkeypatch.setattr(torch.Tensor, name, tensor_method(name))
        monkeypatch.setattr(cupy, "asnumpy", lambda *a, **k: refuse("cupy.asnumpy"))
        import training._validation as v

        monkeypatch.setattr(v, "as_numpy", lambda *a, **k: refuse("as_numpy"))


@pytest.mark.gpu
@pytest.mark.parametrize("validation_fraction", [None, 0.2])
def test_device_sample_trains_on_the_gpu_without_a_host_copy(monkeypatch, record_property,
                                                             validation_fraction):
    torch, cupy = _device_ready()
    model = sim.BlackScholes(vol=0.2, inputs=("spot", "vol"))
    sampler = sim.UniformSampler(low=[0.6, 0.1], high=[1.4, 0.4])
    s = sim.simulate(model, sim.European(1.0, 1.0, "call"), sampler, 16_384, seed=11,
                     backend="gpu", device_output=True)
    assert all(isinstance(a, cupy.ndarray) for a in (s.x, s.y, s.dydx))
    for a in (s.x, s.y, s.dydx):  # DLPack hands the same device memory to torch
        assert torch.from_dlpack(a).data_ptr() == a.data.ptr
    host = s.to_numpy()
    kw = dict(epochs=6, hidden_layers=3, hidden_units=16, seed=5,
              validation_fraction=validation_fraction)

    with monkeypatch.context() as m:
        guard = _HostCopyGuard(m, torch, cupy)
        gpu = DifferentialRegressor(device="cuda", **kw).fit(s.x, s.y, s.dydx)
    assert guard.refused == []
    assert gpu.device_.type == "cuda" and next(gpu.network_.parameters()).is_cuda

    cpu = DifferentialRegressor(device="cpu", **kw).fit(host.x, host.y, host.dydx)
    for a, b in zip(gpu.scaler_.to_dict().values(), cpu.scaler_.to_dict().values(),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    grid = sampler.sample(model, 99, 0, 4096)
    vg, gg = gpu.predict_value_and_gradient(grid)
    vc, gc = cpu.predict_value_and_gradient(grid)
    dv = float(np.abs(vg - vc).max() / np.abs(vc).max())
    dg = float(np.abs(gg - gc).max() / np.abs(gc).max())
    record_property("small_host_reads", guard.small)
    record_property("value_max_rel_diff_gpu_vs_cpu", dv)
    record_property("gradient_max_rel_diff_gpu_vs_cpu", dg)
    print(f"GPU vs CPU fit: value {dv:.2e}, gradient {dg:.2e}, small host reads {guard.small}")
    assert dv < 1e-9 and dg < 1e-9


@pytest.mark.gpu
def test_fit_on_device_data_moves_no_data_to_the_host(tmp_path, record_property):
    """The CUDA profiler's own record of memory copies (CUPTI, through torch.profiler): during
    the fit, device-to-host copies carry only a few scalars, never the data."""
    torch, cupy = _device_ready()
    from torch.profiler import ProfilerActivity, profile

    s = sim.simulate(sim.BlackScholes(vol=0.2, inputs=("spot", "vol")),
                     sim.European(1.0, 1.0, "call"),
                     sim.UniformSampler(low=[0.6, 0.1], high=[1.4, 0.4]), 16_384, seed=11,
                     backend="gpu", device_output=True)
    data_bytes = sum(a.nbytes for a in (s.x, s.y, s.dydx))
    reg = DifferentialRegressor(device="cuda", epochs=3, hidden_units=16, seed=5)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        reg.fit(s.x, s.y, s.dydx)
        torch.cuda.synchronize()
    trace = tmp_path / "trace.json"
    prof.export_chrome_trace(str(trace))
    import json

    copies = [e for e in json.loads(trace.read_text())["traceEvents"]
              if e.get("cat") == "gpu_memcpy"]
    if not copies:
        pytest.skip("the profiler recorded no memory copy here (CUPTI unavailable?)")
    d2h = [int(e.get("args", {}).get("bytes", 0)) for e in copies if "DtoH" in e["name"]]
    h2d = [int(e.get("args", {}).get("bytes", 0)) for e in copies if "HtoD" in e["name"]]
    record_property("device_to_host", json.dumps({"copies": len(d2h), "bytes": sum(d2h),
                                                  "largest": max(d2h, default=0),
                                                  "data_bytes": data_bytes}))
    print(f"fit: {len(d2h)} device-to-host copies, {sum(d2h)} bytes in all, largest "
          f"{max(d2h, default=0)}; {len(h2d)} host-to-device; data {data_bytes} bytes")
    assert sum(h2d) > 0, "the shuffles' indices go to the device: the counter must see them"
    assert max(d2h, default=0) <= 8 * SMALL and sum(d2h) < data_bytes / 100


@pytest.mark.gpu
def test_device_sample_with_a_cpu_regressor_is_copied_once():
    """device='cpu' with CUDA inputs still works: the arrays come to the host first."""
    torch, cupy = _device_ready()
    s = sim.simulate(sim.BlackScholes(vol=0.2), sim.European(1.0, 1.0, "call"),
                     sim.FixedSampler([1.0]), 2048, seed=1, backend="gpu", device_output=True)
    reg = DifferentialRegressor(epochs=2, hidden_units=8, device="cpu").fit(s.x, s.y, s.dydx)
    assert reg.device_.type == "cpu"
