"""PINN training: configuration, Adam with inverse-time decay, then L-BFGS (strong Wolfe).

>>> from training.pinn import BlackScholesPDE, PINNConfig, solve
>>> problem = BlackScholesPDE(strike=100, maturity=1, vol=0.25, rate=0.03, kind="put")
>>> sol = solve(problem, PINNConfig.best(adam_steps=200, lbfgs_iterations=100))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import _validation as v
from .._persistence import damaged_checkpoint, read_checkpoint, state_mismatch, write_torch
from .collocation import (
    PointSet,
    add_parameter_samples,
)
from .config import _DTYPES, PINNConfig  # noqa: F401  (PINNConfig re-exported)
from .losses import (
    face_summary,
    loss_terms,
    reduced_shares,
    residual,
    residual_vector,
    resolve_faces,
)
from .lstsq import output_jacobian, output_layer, solve_output_layer
from .network import PINNModel
from .options import FaceResiduals, InitialCondition, LossType, PINNStatus
from .problems.base import PDEProblem
from .solution import PINNSolution


def _configure_device(device: torch.device) -> None:
    if device.type == "cuda":
        # Full fp32 matmuls: TF32 would cap the attainable residual at ~1e-3.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


#: Added to ``config.seed`` to seed the generator of the adaptive-resampling candidates (a prime,
#: so that stream differs from the collocation samplers', which are seeded with ``config.seed``).
#: A resumed run reseeds it with ``[config.seed + ADAPTIVE_SEED_OFFSET, step]``.
ADAPTIVE_SEED_OFFSET = 7919

#: L-BFGS runs in rounds of at most this many iterations (and at most 10 times as many loss
#: evaluations, since line searches may take several); a round ends early at a checkpoint step.
LBFGS_ROUND = 20

#: Rounds in a row that end early (tolerance reached or failed line search) before L-BFGS is
#: declared converged; after each such round its memory is cleared (a steepest-descent restart).
LBFGS_STALLS = 3


@dataclass
class _Run:
    """The mutable state of one training run.

    ``sets`` and ``faces`` are the collocation tensors and the residual choice per face ("reduced",
    "full" or a per-point mask, see :func:`resolve_faces`); ``params``
    is the parameter list given to both optimisers; ``history`` maps "step", "loss", "lr" and
    each loss term to its recorded values; ``adaptive`` holds the adaptive points (n, 1 + d)
    drawn with ``rng``; ``elapsed`` is the training time of earlier sessions (a resumed run) and
    ``t0`` the clock at the start of this one.
    """

    sets: dict[str, tuple]
    faces: dict[str, FaceResiduals | torch.Tensor]
    model: PINNModel
    params: list[torch.nn.Parameter]
    adam: torch.optim.Adam
    sched: torch.optim.lr_scheduler.LambdaLR
    lbfgs: torch.optim.LBFGS
    adaptive: torch.Tensor
    rng: np.random.Generator
    history: dict[str, list[float]] = field(
        default_factory=lambda: {"step": [], "loss": [], "lr": []}
    )
    step: int = 0
    lstsq_interleaved: int = 0
    elapsed: float = 0.0
    t0: float = 0.0

    def seconds(self) -> float:
        """Training time so far, earlier sessions included."""
        return self.elapsed + time.perf_counter() - self.t0


def _record(history: dict[str, list[float]], step: int, total: torch.Tensor,
            terms: dict[str, torch.Tensor], lr: float) -> None:
    """Append one row to ``history``: step, total loss, rate and every term; a term seen for the
    first time is NaN in earlier rows, a term absent now (adaptive set not yet built) is NaN."""
    history["step"].append(float(step))
    history["loss"].append(float(total.detach()))
    history["lr"].append(lr)
    for k, val in terms.items():
        history.setdefault(k, [float("nan")] * (len(history["step"]) - 1))
        history[k].append(float(val.detach()))
    for k in history:
        if len(history[k]) < len(history["step"]):
            history[k].append(float("nan"))


#: Configuration fields that may change between a run and its resumption from a checkpoint
#: (the step budgets too: a run stopped at 6 Adam steps continues to 10).
RESUME_FREE = frozenset({"adam_steps", "lbfgs_iterations", "time_limit", "checkpoint_every",
                         "checkpoint_dir", "progress", "num_threads", "device"})


class PINNSolver:
    """Trains a :class:`PINNModel` on a problem; ``solve()`` returns a :class:`PINNSolution`.

    A run is an Adam phase (``adam_steps``, inverse-time decay, optional adaptive resampling),
    an L-BFGS phase (``lbfgs_iterations`` in rounds of :data:`LBFGS_ROUND`) and optional
    least-squares rounds of the output layer; its ``stats["status"]`` is a :class:`PINNStatus`.

    A parametric problem (:class:`~training.pinn.problems.ParametricPDE`) trains on its
    collocation set repeated ``config.parameter_copies`` times with sampled parameter values.

    Args:
        problem: a :class:`~training.pinn.problems.PDEProblem`.
        config: a :class:`PINNConfig`.
        initial: a warm start: the state dict of a saved :class:`PINNModel` with the same
            architecture (e.g. ``solution.model.state_dict()`` of a solution of a neighbouring
            problem or parameter range), loaded before the first step. Its input box comes with
            it, so the initial network is the saved solution's function. None: a fresh network
            seeded by ``config.seed``. ``stats["warm_start"]`` records which.
    """

    def __init__(self, problem: PDEProblem, config: PINNConfig | None = None, *,
                 initial: dict[str, torch.Tensor] | None = None) -> None:
        _check_arguments("PINNSolver", problem, config, initial)
        self.problem = problem
        self.config = config or PINNConfig()
        self.initial = initial

    # ----- set-up -----------------------------------------------------------------------------
    def _tensor_sets(self, sets: dict[str, PointSet]) -> dict[str, tuple]:
        cfg, out = self.config, {}
        for name, ps in sets.items():
            if name == "initial" and cfg.initial_condition is not InitialCondition.SOFT:
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
                              cfg.base_function, cfg.leg_factors)
        model = model.to(device=self.device, dtype=self.dtype)
        if self.initial is not None:
            problem = state_mismatch(self.initial, model.state_dict())
            if problem:
                raise ValueError(
                    "The 'initial' parameter of PINNSolver must be the state dict of a network "
                    f"of the same architecture (problem and config): {problem}.")
            model.load_state_dict(self.initial)
        return model

    def _adaptive_points(self, model: PINNModel, rng: np.random.Generator) -> torch.Tensor:
        a, p = self.config.adaptive, self.problem
        lo = np.array([0.0, *p.input_lower])
        hi = np.array([p.maturity, *p.input_upper])
        cand = lo + rng.random((a.n_candidates, len(lo))) * (hi - lo)
        z = torch.as_tensor(cand, dtype=self.dtype, device=self.device)
        r = residual(p, model, z).detach().abs()
        top = torch.topk(r, min(a.n_add, len(r))).indices
        return z[top].detach()

    def _start(self) -> _Run:
        """Collocation tensors, face choice, seeded model and optimisers of a fresh run."""
        cfg, p = self.config, self.problem
        sets = self._tensor_sets(add_parameter_samples(
            p, cfg.collocation.build(p, seed=cfg.seed), cfg.parameter_copies, cfg.seed))
        faces = resolve_faces(p, sets, cfg.face_residuals if cfg.loss is LossType.BOUNDARY_SAFE
                              else FaceResiduals.REDUCED)
        model = self._build_model()
        params = list(model.parameters())
        adam = torch.optim.Adam(params, lr=cfg.learning_rate)
        sched = torch.optim.lr_scheduler.LambdaLR(
            adam, lambda k: 1.0 / (1.0 + cfg.decay_rate * k / cfg.decay_steps)
        )
        lbfgs = torch.optim.LBFGS(
            params, lr=1.0, max_iter=LBFGS_ROUND, history_size=cfg.lbfgs_history,
            tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe",
        )
        return _Run(
            sets=sets, faces=faces, model=model, params=params, adam=adam, sched=sched,
            lbfgs=lbfgs,
            adaptive=torch.zeros((0, 1 + len(p.input_lower)), dtype=self.dtype,
                                 device=self.device),
            rng=np.random.default_rng(cfg.seed + ADAPTIVE_SEED_OFFSET),
        )

    # ----- checkpoints ------------------------------------------------------------------------
    def _checkpoint_path(self) -> Path | None:
        cfg = self.config
        return Path(cfg.checkpoint_dir) / "checkpoint.pt" if cfg.checkpoint_dir else None

    def _fingerprint(self) -> str:
        """SHA-256 of the problem and of the configuration's fields that shape the training (not
        :data:`RESUME_FREE`): a checkpoint resumes only the run it was written by."""
        cfg = {k: val for k, val in self.config.to_dict().items() if k not in RESUME_FREE}
        text = json.dumps({"problem": self.problem.to_dict(), "config": cfg}, sort_keys=True,
                          default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _resume(self, run: _Run) -> None:
        """Load model, optimisers, history, step, time and adaptive points from the checkpoint,
        if there is one, and reseed the adaptive generator with the step."""
        ckpt = self._checkpoint_path()
        if ckpt is None or not ckpt.exists():
            return
        state = read_checkpoint("the PINN training", ckpt, self.device)
        written_by = state.get("fingerprint")
        if written_by is not None and written_by != self._fingerprint():
            raise ValueError(damaged_checkpoint(
                "the PINN training", ckpt, "it was written by the training of another problem "
                f"or configuration (only {', '.join(sorted(RESUME_FREE))} may change between a run "
                "and its resumption)"))
        problem = state_mismatch(state.get("model"), run.model.state_dict())
        if problem:
            raise ValueError(damaged_checkpoint(
                "the PINN training", ckpt, f"its model does not fit this configuration: {problem}"))
        try:
            run.model.load_state_dict(state["model"])
            run.adam.load_state_dict(state["adam"])
            run.sched.load_state_dict(state["sched"])
            if state["lbfgs"]:
                run.lbfgs.load_state_dict(state["lbfgs"])
            run.history = {k: list(val) for k, val in state["history"].items()}
            run.step, run.elapsed = int(state["step"]), float(state["elapsed"])
            run.adaptive = state["adaptive"].to(self.device, self.dtype)
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
            raise ValueError(damaged_checkpoint(
                "the PINN training", ckpt, f"it is incomplete or damaged ({type(exc).__name__}: "
                f"{exc})")) from None
        run.rng = np.random.default_rng([self.config.seed + ADAPTIVE_SEED_OFFSET, run.step])

    def _save(self, run: _Run) -> None:
        """Write the run's state to the checkpoint (atomically: :func:`write_torch` writes a
        temporary file and renames it)."""
        ckpt = self._checkpoint_path()
        if ckpt is None:
            return
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        write_torch(
            {
                "model": run.model.state_dict(),
                "adam": run.adam.state_dict(),
                "sched": run.sched.state_dict(),
                "lbfgs": run.lbfgs.state_dict() if run.step > self.config.adam_steps else {},
                "history": run.history,
                "step": run.step,
                "elapsed": run.seconds(),
                "adaptive": run.adaptive.cpu(),
                "fingerprint": self._fingerprint(),
            },
            ckpt,
        )

    def _checkpoint_due(self, run: _Run) -> None:
        every = self.config.checkpoint_every
        if every and run.step % every == 0:
            self._save(run)

    # ----- loss -------------------------------------------------------------------------------
    def _current_sets(self, run: _Run) -> dict[str, tuple]:
        """The collocation sets plus the adaptive points (equal weights), if any."""
        if len(run.adaptive) == 0:
            return run.sets
        w = torch.full((len(run.adaptive),), 1.0 / len(run.adaptive), dtype=self.dtype,
                       device=self.device)
        return {**run.sets, "adaptive": (run.adaptive, w, None)}

    def _evaluate(self, run: _Run) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.config
        terms = loss_terms(self.problem, run.model, self._current_sets(run), cfg.loss,
                           cfg.bc_weight, cfg.ic_weight, run.faces)
        return sum(terms.values()), terms

    def _out_of_time(self, run: _Run) -> bool:
        limit = self.config.time_limit
        return limit is not None and run.seconds() > limit

    # ----- training ---------------------------------------------------------------------------
    def solve(self, resume: bool = False) -> PINNSolution:
        """Train and return the solution.

        Args:
            resume: continue from ``checkpoint_dir/checkpoint.pt`` if it exists (same config).
        """
        v.boolean("PINNSolver.solve", "resume", resume)
        threads = torch.get_num_threads()
        if self.config.num_threads is not None:
            torch.set_num_threads(self.config.num_threads)
        try:
            return self._solve(resume)
        finally:
            torch.set_num_threads(threads)

    def _solve(self, resume: bool) -> PINNSolution:
        cfg = self.config
        self.dtype = _DTYPES[cfg.dtype]
        self.device = v.available_device("PINNConfig", "device", cfg.device)
        _configure_device(self.device)
        run = self._start()
        if resume:
            self._resume(run)
        bar = _Progress(cfg.adam_steps + cfg.lbfgs_iterations, run.step) if cfg.progress else None
        run.t0 = time.perf_counter()
        run.model.train()
        status = self._adam_phase(run, bar)
        if status is PINNStatus.COMPLETED:
            status = self._lbfgs_phase(run, bar)
        if bar:
            bar.close()
        accepted: list[float] = []
        if cfg.lstsq_rounds and status is not PINNStatus.DIVERGED:
            accepted = self._lstsq_phase(run)
        run.elapsed += time.perf_counter() - run.t0
        run.t0 = time.perf_counter()  # _save adds the (zero) time since t0 to elapsed
        if cfg.checkpoint_every:
            self._save(run)
        run.model.eval()
        return self._solution(run, status, accepted)

    def _adam_phase(self, run: _Run, bar: _Progress | None) -> PINNStatus:
        """Adam steps up to ``adam_steps``, adding adaptive points every ``adaptive.every``."""
        cfg = self.config
        while run.step < cfg.adam_steps:
            if self._out_of_time(run):
                return PINNStatus.TIME_LIMIT
            if self._resample_due(run):
                run.adaptive = torch.cat([run.adaptive, self._adaptive_points(run.model, run.rng)])
            run.adam.zero_grad(set_to_none=True)
            total, terms = self._evaluate(run)
            total.backward()
            lr = run.adam.param_groups[0]["lr"]
            run.adam.step()
            run.sched.step()
            run.step += 1
            _record(run.history, run.step, total, terms, lr)
            if bar:
                bar.update(run.step, float(total))
            self._checkpoint_due(run)
        return PINNStatus.COMPLETED

    def _resample_due(self, run: _Run) -> bool:
        a = self.config.adaptive
        return (a is not None and run.step > 0 and run.step % a.every == 0
                and len(run.adaptive) < a.max_points)

    def _lbfgs_phase(self, run: _Run, bar: _Progress | None) -> PINNStatus:
        """L-BFGS rounds up to ``adam_steps + lbfgs_iterations`` steps; a round that ends early
        clears the memory, and :data:`LBFGS_STALLS` such rounds in a row end the phase."""
        total_steps = self.config.adam_steps + self.config.lbfgs_iterations
        every = self.config.lstsq_every
        stalled, next_lstsq = 0, run.step + every
        while run.step < total_steps:
            if self._out_of_time(run):
                return PINNStatus.TIME_LIMIT
            chunk = self._lbfgs_chunk(run, total_steps)
            done, total, terms = self._lbfgs_round(run, chunk)
            if not math.isfinite(float(total)):
                return PINNStatus.DIVERGED
            run.step += max(done, 1)
            _record(run.history, run.step, total, terms, 1.0)
            if bar:
                bar.update(run.step, float(total))
            stalled = stalled + 1 if done < chunk else 0
            if every and run.step >= next_lstsq and run.step < total_steps:
                next_lstsq = run.step + every
                if self._lstsq_rounds(run, 1):
                    run.lstsq_interleaved += 1
                    stalled = 0
                    run.lbfgs.state.clear()  # the output layer moved: start a fresh memory
            if stalled:
                run.lbfgs.state.clear()  # restart from a steepest-descent step, empty memory
            if stalled >= LBFGS_STALLS:
                return PINNStatus.CONVERGED
            self._checkpoint_due(run)
        return PINNStatus.COMPLETED

    def _lbfgs_chunk(self, run: _Run, total_steps: int) -> int:
        """Iterations of the next round: at most :data:`LBFGS_ROUND`, the steps left and the
        steps to the next checkpoint."""
        chunk = min(LBFGS_ROUND, total_steps - run.step)
        every = self.config.checkpoint_every
        if every:
            chunk = min(chunk, every - (run.step % every))
        return chunk

    def _lbfgs_round(self, run: _Run, chunk: int
                     ) -> tuple[int, torch.Tensor, dict[str, torch.Tensor]]:
        """One ``LBFGS.step`` of at most ``chunk`` iterations; returns the iterations done and
        the loss and terms of the last evaluation (detached)."""
        lbfgs, first = run.lbfgs, run.params[0]
        lbfgs.param_groups[0]["max_iter"] = chunk
        lbfgs.param_groups[0]["max_eval"] = 10 * chunk  # line searches may take several
        last: dict[str, Any] = {}

        def closure() -> torch.Tensor:
            lbfgs.zero_grad(set_to_none=True)
            total, terms = self._evaluate(run)
            total.backward()
            last["total"], last["terms"] = total.detach(), {k: t.detach() for k, t in terms.items()}
            return total

        before = lbfgs.state[first].get("n_iter", 0)
        lbfgs.step(closure)
        done = lbfgs.state[first].get("n_iter", 0) - before
        return done, last["total"], last["terms"]

    def _lstsq_phase(self, run: _Run) -> list[float]:
        """``lstsq_rounds`` least-squares solves of the output layer; the accepted rounds count
        as steps and add one history row (rate 0). Returns the loss after each accepted round."""
        accepted = self._lstsq_rounds(run, self.config.lstsq_rounds)
        if accepted:
            run.step += len(accepted)
            total, terms = self._evaluate(run)
            _record(run.history, run.step, total, terms, 0.0)
        return accepted

    def _lstsq_rounds(self, run: _Run, rounds: int) -> list[float]:
        """Up to ``rounds`` least-squares solves of the output layer (:mod:`.lstsq`); returns the
        loss after each accepted one."""
        cfg, p = self.config, self.problem

        def vector() -> torch.Tensor:
            return residual_vector(p, run.model, self._current_sets(run), cfg.loss, cfg.bc_weight,
                                   cfg.ic_weight, run.faces)

        def jacobian() -> torch.Tensor:
            return output_jacobian(p, run.model, self._current_sets(run), cfg.loss, cfg.bc_weight,
                                   cfg.ic_weight, run.faces)

        return solve_output_layer(output_layer(run.model), vector, rounds, jacobian=jacobian)

    def _solution(self, run: _Run, status: PINNStatus, accepted: list[float]) -> PINNSolution:
        cfg = self.config
        hist = {k: np.asarray(val) for k, val in run.history.items()}
        return PINNSolution(
            problem=self.problem,
            model=run.model,
            config=cfg,
            history=hist,
            stats={"train_seconds": run.elapsed, "steps": run.step, "status": status,
                   "lstsq_rounds": len(accepted), "lstsq_interleaved": run.lstsq_interleaved,
                   "faces": face_summary(run.faces),
                   "face_reduced_share": reduced_shares(run.faces), "base": cfg.base,
                   "warm_start": self.initial is not None},
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


def _check_arguments(owner: str, problem: object, config: object, initial: object) -> None:
    """``TypeError`` in the project's format for a ``problem`` that is not a
    :class:`PDEProblem`, a ``config`` neither a :class:`PINNConfig` nor None, or an ``initial``
    neither a mapping (a state dict) nor None."""
    if not isinstance(problem, PDEProblem):
        raise TypeError(v.message(owner, "problem", "be a PDEProblem (e.g. BlackScholesPDE)",
                                  problem))
    if config is not None and not isinstance(config, PINNConfig):
        raise TypeError(v.message(owner, "config", "be a PINNConfig or None", config))
    if initial is not None and not isinstance(initial, Mapping):
        raise TypeError(v.message(owner, "initial", "be a state dict (a mapping of names to "
                                  "tensors) or None", initial))


def solve(problem: PDEProblem, config: PINNConfig | None = None, *, resume: bool = False,
          initial: dict[str, torch.Tensor] | None = None) -> PINNSolution:
    """Train a PINN for ``problem`` with ``config`` (default :class:`PINNConfig`) and return a
    :class:`PINNSolution`; ``resume`` continues from the configured checkpoint, ``initial``
    warm-starts from a saved model's state dict (:class:`PINNSolver`)."""
    _check_arguments("solve", problem, config, initial)
    return PINNSolver(problem, config, initial=initial).solve(resume=resume)


__all__ = ["ADAPTIVE_SEED_OFFSET", "PINNConfig", "PINNSolver", "PINNStatus", "solve"]
