"""PINN training: configuration, Adam with inverse-time decay, then L-BFGS (strong Wolfe).

>>> from training.pinn import BlackScholesPDE, PINNConfig, solve
>>> problem = BlackScholesPDE(strike=100, maturity=1, vol=0.25, rate=0.03, kind="put")
>>> sol = solve(problem, PINNConfig.best(adam_steps=200, lbfgs_iterations=100))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .collocation import (
    PointSet,
)
from .config import _DTYPES, PINNConfig  # noqa: F401  (PINNConfig re-exported)
from .losses import (
    loss_terms,
    residual,
    residual_vector,
    resolve_faces,
)
from .lstsq import output_layer, solve_output_layer
from .network import PINNModel
from .problems.base import PDEProblem
from .solution import PINNSolution


def _configure_device(device: torch.device) -> None:
    if device.type == "cuda":
        # Full fp32 matmuls: TF32 would cap the attainable residual at ~1e-3.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


class PINNSolver:
    """Trains a :class:`PINNModel` on a problem; ``solve()`` returns a :class:`PINNSolution`.

    Args:
        problem: a :class:`~training.pinn.problems.PDEProblem`.
        config: a :class:`PINNConfig`.
    """

    def __init__(self, problem: PDEProblem, config: PINNConfig | None = None) -> None:
        self.problem = problem
        self.config = config or PINNConfig()

    # ----- set-up -----------------------------------------------------------------------------
    def _tensor_sets(self, sets: dict[str, PointSet]) -> dict[str, tuple]:
        cfg, out = self.config, {}
        for name, ps in sets.items():
            if name == "initial" and cfg.initial_condition != "soft":
                continue  # the trial function satisfies the initial condition exactly
            if len(ps) == 0:
                continue
            z = torch.as_tensor(ps.points, dtype=self.dtype, device=self.device)
            w = torch.as_tensor(ps.weights, dtype=self.dtype, device=self.device)
            out[name] = (z, w, ps.face)
        return out

    def _build_model(self) -> PINNModel:
        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model = PINNModel(self.problem, cfg.width, cfg.depth, cfg.initial_condition,
                              cfg.base_function)
        return model.to(device=self.device, dtype=self.dtype)

    def _adaptive_points(self, model: PINNModel, rng: np.random.Generator) -> torch.Tensor:
        a, p = self.config.adaptive, self.problem
        lo = np.array([0.0, *p.lower])
        hi = np.array([p.maturity, *p.upper])
        cand = lo + rng.random((a.n_candidates, p.dim + 1)) * (hi - lo)
        z = torch.as_tensor(cand, dtype=self.dtype, device=self.device)
        r = residual(p, model, z).detach().abs()
        top = torch.topk(r, min(a.n_add, len(r))).indices
        return z[top].detach()

    # ----- training ---------------------------------------------------------------------------
    def solve(self, resume: bool = False) -> PINNSolution:
        """Train and return the solution.

        Args:
            resume: continue from ``checkpoint_dir/checkpoint.pt`` if it exists (same config).
        """
        threads = torch.get_num_threads()
        if self.config.num_threads is not None:
            torch.set_num_threads(self.config.num_threads)
        try:
            return self._solve(resume)
        finally:
            torch.set_num_threads(threads)

    def _solve(self, resume: bool) -> PINNSolution:
        cfg, p = self.config, self.problem
        self.dtype = _DTYPES[cfg.dtype]
        self.device = torch.device(cfg.device)
        _configure_device(self.device)
        sets = self._tensor_sets(cfg.collocation.build(p, seed=cfg.seed))
        faces = resolve_faces(p, sets, cfg.face_residuals if cfg.loss == "boundary_safe"
                              else "reduced")
        model = self._build_model()
        params = list(model.parameters())
        adam = torch.optim.Adam(params, lr=cfg.learning_rate)
        sched = torch.optim.lr_scheduler.LambdaLR(
            adam, lambda k: 1.0 / (1.0 + cfg.decay_rate * k / cfg.decay_steps)
        )
        lbfgs = torch.optim.LBFGS(
            params, lr=1.0, max_iter=20, history_size=cfg.lbfgs_history,
            tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe",
        )
        history: dict[str, list[float]] = {"step": [], "loss": [], "lr": []}
        step, elapsed = 0, 0.0
        adaptive = torch.zeros((0, p.dim + 1), dtype=self.dtype, device=self.device)
        rng = np.random.default_rng(cfg.seed + 7919)
        ckpt = Path(cfg.checkpoint_dir) / "checkpoint.pt" if cfg.checkpoint_dir else None
        if resume and ckpt is not None and ckpt.exists():
            state = torch.load(ckpt, weights_only=True, map_location=self.device)
            model.load_state_dict(state["model"])
            adam.load_state_dict(state["adam"])
            sched.load_state_dict(state["sched"])
            if state["lbfgs"]:
                lbfgs.load_state_dict(state["lbfgs"])
            history = {k: list(val) for k, val in state["history"].items()}
            step, elapsed = int(state["step"]), float(state["elapsed"])
            adaptive = state["adaptive"].to(self.device, self.dtype)
            rng = np.random.default_rng([cfg.seed + 7919, step])

        def current_sets() -> dict[str, tuple]:
            if len(adaptive) == 0:
                return sets
            w = torch.full((len(adaptive),), 1.0 / len(adaptive), dtype=self.dtype,
                           device=self.device)
            return {**sets, "adaptive": (adaptive, w, None)}

        def evaluate() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            terms = loss_terms(p, model, current_sets(), cfg.loss, cfg.bc_weight, cfg.ic_weight,
                               faces)
            return sum(terms.values()), terms

        def record(total: torch.Tensor, terms: dict[str, torch.Tensor], lr: float) -> None:
            history["step"].append(float(step))
            history["loss"].append(float(total.detach()))
            history["lr"].append(lr)
            for k, val in terms.items():
                history.setdefault(k, [float("nan")] * (len(history["step"]) - 1))
                history[k].append(float(val.detach()))
            for k in history:  # terms absent this step (adaptive set not yet built)
                if len(history[k]) < len(history["step"]):
                    history[k].append(float("nan"))

        def save() -> None:
            if ckpt is None:
                return
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            tmp = ckpt.with_suffix(".tmp")
            torch.save(
                {
                    "model": model.state_dict(),
                    "adam": adam.state_dict(),
                    "sched": sched.state_dict(),
                    "lbfgs": lbfgs.state_dict() if step > cfg.adam_steps else {},
                    "history": history,
                    "step": step,
                    "elapsed": elapsed + time.perf_counter() - t0,
                    "adaptive": adaptive.cpu(),
                },
                tmp,
            )
            tmp.replace(ckpt)

        total_steps = cfg.adam_steps + cfg.lbfgs_iterations
        bar = _Progress(total_steps, step) if cfg.progress else None
        t0 = time.perf_counter()
        status = "completed"

        def out_of_time() -> bool:
            spent = elapsed + time.perf_counter() - t0
            return cfg.time_limit is not None and spent > cfg.time_limit

        model.train()
        while step < cfg.adam_steps:
            if out_of_time():
                status = "time_limit"
                break
            if (cfg.adaptive is not None and step > 0 and step % cfg.adaptive.every == 0
                    and len(adaptive) < cfg.adaptive.max_points):
                adaptive = torch.cat([adaptive, self._adaptive_points(model, rng)])
            adam.zero_grad(set_to_none=True)
            total, terms = evaluate()
            total.backward()
            lr = adam.param_groups[0]["lr"]
            adam.step()
            sched.step()
            step += 1
            record(total, terms, lr)
            if bar:
                bar.update(step, float(total))
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                save()

        last: dict[str, Any] = {}

        def closure() -> torch.Tensor:
            lbfgs.zero_grad(set_to_none=True)
            total, terms = evaluate()
            total.backward()
            last["total"], last["terms"] = total.detach(), {k: t.detach() for k, t in terms.items()}
            return total

        stalled = 0
        while status == "completed" and step < total_steps:
            if out_of_time():
                status = "time_limit"
                break
            chunk = min(20, total_steps - step)
            if cfg.checkpoint_every:
                chunk = min(chunk, cfg.checkpoint_every - (step % cfg.checkpoint_every))
            lbfgs.param_groups[0]["max_iter"] = chunk
            lbfgs.param_groups[0]["max_eval"] = 10 * chunk  # line searches may take several
            before = lbfgs.state[lbfgs._params[0]].get("n_iter", 0)
            lbfgs.step(closure)
            done = lbfgs.state[lbfgs._params[0]].get("n_iter", 0) - before
            if not math.isfinite(float(last["total"])):
                status = "diverged"
                break
            step += max(done, 1)
            record(last["total"], last["terms"], 1.0)
            if bar:
                bar.update(step, float(last["total"]))
            stalled = stalled + 1 if done < chunk else 0
            if stalled:
                # L-BFGS stopped early (tolerance or failed line search): restart it from a
                # steepest-descent step with an empty memory; give up after 3 stalls in a row.
                lbfgs.state.clear()
            if stalled >= 3:
                status = "converged"
                break
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                save()
        if bar:
            bar.close()
        accepted: list[float] = []
        if cfg.lstsq_rounds and status != "diverged":

            def vector() -> torch.Tensor:
                return residual_vector(p, model, current_sets(), cfg.loss, cfg.bc_weight,
                                       cfg.ic_weight, faces)

            accepted = solve_output_layer(output_layer(model), vector, cfg.lstsq_rounds)
            if accepted:  # one history row for the solves, lr recorded as 0
                step += len(accepted)
                total, terms = evaluate()
                record(total, terms, 0.0)
        elapsed += time.perf_counter() - t0
        t0 = time.perf_counter()  # save() adds the (zero) time since t0 to elapsed
        if ckpt is not None and cfg.checkpoint_every:
            save()
        model.eval()
        hist = {k: np.asarray(val) for k, val in history.items()}
        return PINNSolution(
            problem=p,
            model=model,
            config=cfg,
            history=hist,
            stats={"train_seconds": elapsed, "steps": step, "status": status,
                   "lstsq_rounds": len(accepted), "faces": faces, "base": cfg.base},
        )


class _Progress:
    """Thin wrapper over rich's progress bar (optional dependency at runtime)."""

    def __init__(self, total: int, start: int) -> None:
        from rich.progress import Progress

        self._p = Progress(transient=True)
        self._p.start()
        self._task = self._p.add_task("PINN", total=total, completed=start)

    def update(self, step: int, loss: float) -> None:
        self._p.update(self._task, completed=step, description=f"PINN loss {loss:.3e}")

    def close(self) -> None:
        self._p.stop()


def solve(problem: PDEProblem, config: PINNConfig | None = None, *, resume: bool = False
          ) -> PINNSolution:
    """Train a PINN for ``problem`` with ``config`` (default :class:`PINNConfig`) and return a
    :class:`PINNSolution`; ``resume`` continues from the configured checkpoint."""
    return PINNSolver(problem, config).solve(resume=resume)


__all__ = ["PINNConfig", "PINNSolver", "solve"]
