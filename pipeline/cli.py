"""The ``diffml`` command line: run, validate, simulate, train, pinn, serve, report, datasets."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="diffml: Monte-Carlo simulation to differential-ML pricing surrogates, "
                       "checked against PDE references.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
datasets_app = typer.Typer(help="List, inspect, verify and clean datasets.",
                           no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
console = Console(stderr=True)
out = Console()
log = logging.getLogger("diffml.cli")


def _version(value: bool) -> None:
    if value:
        from data.manifest import package_version

        out.print(f"diffml {package_version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the installed version and exit.")] = False) -> None:
    """diffml: Monte-Carlo simulation to differential-ML pricing surrogates, checked against PDE
    references."""

ConfigArg = Annotated[Path, typer.Argument(help="YAML run configuration.")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override a value: scenarios.<id>.model.vol=0.22 (repeatable).")]
ParamsOpt = Annotated[Path | None, typer.Option(
    "--params", help="YAML parameters file merged over the config (e.g. today's market).")]


def _fail(message: str, code: int = 1) -> None:
    """Print ``error: <line>`` for each line of ``message`` and exit with ``code``."""
    for line in message.splitlines() or [""]:
        console.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _one_line(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0][:300] if first else ''}"


def _server_hint(exc: BaseException) -> str:
    """For an internal error of the Prefect server (HTTP 5xx from its API): where its own
    database lives, the usual cause being that file system full or read-only."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if type(exc).__name__ != "PrefectHTTPStatusError" or not isinstance(status, int) \
            or status < 500:
        return ""
    try:
        from prefect.settings import Settings

        home = str(Settings().home)  # from the environment now, as the server read it
    except Exception:  # noqa: BLE001 - a hint only
        home = "PREFECT_HOME"
    return (f" (the Prefect server failed; its log above says why: a full or read-only file "
            f"system under {home}, where its database is, is the usual cause)")


def _quiet_env() -> None:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def _check_prefect_api() -> None:
    """A ``PREFECT_API_URL`` that no server answers: exit 2 with one line, before any work."""
    from .environment import prefect_api_error

    problem = prefect_api_error()
    if problem is not None:
        _fail(problem, 2)


def _load(config: Path, sets, params):
    """The validated config; any refusal exits with code 2 and one line per error."""
    from .config import ConfigError, load_config

    try:
        return load_config(config, sets or [], params)
    except ConfigError as exc:
        _fail(str(exc), 2)
    except Exception as exc:  # noqa: BLE001 - whatever the input provokes, one line
        log.debug("config refused", exc_info=True)
        _fail(f"invalid configuration: {_one_line(exc)}", 2)


def _folder(field: str, path: str | Path, *, writable: bool) -> None:
    """``path`` is a directory, created when missing, and (``writable``) one this process can
    write in; exit 2 with one line naming ``field`` otherwise (before any work starts). The
    dataset root is not probed for writing: a read-only store serves its complete datasets."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        error = _cannot_write(p) if writable else None
    except OSError as exc:
        error = exc
    if error is not None:
        _fail(f"{field}: must be a {'writable ' if writable else ''}directory; got "
              f"{str(p)[:200]!r} ({error.strerror or type(error).__name__})", 2)


def _free_target(dst: Path, force: bool) -> None:
    """A model folder ``dst`` about to be written: exit 2 with one line if a file is in its
    place, or if it exists and ``force`` is not given (checked before any training)."""
    if dst.exists() and not dst.is_dir():
        _fail(f"--output: {dst} exists and is not a folder; move it or choose another "
              "--output", 2)
    if dst.exists() and not force:
        _fail(f"--output: {dst} already exists; pass --force to replace it (and everything "
              "in it) or choose another --output", 2)


def _cannot_write(folder: Path) -> OSError | None:
    """None when this process can create a file in ``folder``, else the error it gets."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc
    return None


def _runs_folders(cfg, output: Path | None, dask_address: str | None) -> None:
    """The runs folder (``output``, else the config's ``output_root``) and its model caches can
    be written, and (on this machine's cluster) the dataset root serves the scenarios: exit 2
    with one line otherwise, before any work starts."""
    field = "--output" if output is not None else "output_root"
    runs = Path(output if output is not None else cfg.output_root)
    _folder(field, runs, writable=True)
    for sub in (runs / ".cache", *(runs / ".cache" / k for k in ("train", "pinn", "backward"))):
        if sub.exists() and not sub.is_dir():
            _fail(f"{field}: {str(sub)[:200]!r} must be the folder of cached models, and it is "
                  "a file; move it away", 2)
    if dask_address is None and cfg.dask.address is None:  # else the cluster's machines
        _dataset_root(cfg, cfg.scenarios)


def _dataset_root(cfg, scenarios) -> None:
    """``dataset_root`` is a folder (exit 2 otherwise) and, unless every dataset of
    ``scenarios`` is already in it, one this process can write in: a read-only store serves
    its complete datasets, but a missing one cannot be generated there (exit 2 naming them,
    before anything runs)."""
    import data

    from .steps import dataset_spec

    _folder("dataset_root", cfg.dataset_root, writable=False)
    root = Path(cfg.dataset_root)
    missing = [s.id for s in scenarios
               if data.find_manifest(root / dataset_spec(cfg, s).dirname) is None]
    exc = _cannot_write(root) if missing else None
    if exc is not None:
        _fail(f"dataset_root: {str(root)[:200]!r} is not writable "
              f"({exc.strerror or type(exc).__name__}), and the datasets of "
              f"{', '.join(repr(i) for i in missing[:5])}"
              f"{' and more' if len(missing) > 5 else ''} are not in it yet; make it "
              "writable or point dataset_root at a store that has them", 2)


def _check_address(address: str, field: str) -> None:
    """A scheduler address (``--dask-address`` or the config's ``dask.address``): well formed,
    and a Dask scheduler answers there within 10 s (exit 2 with one line otherwise), so that a
    wrong address fails here rather than hanging in Dask's handshake."""
    import asyncio

    from .limits import address_problem, shown

    why = address_problem(address)
    if why is not None:
        _fail(f"{field}: must be {why}; got {shown(address)}", 2)
    scheme, _, rest = address.partition("://")
    if scheme == "tcp":  # a refused port fails at once (Dask's connect retries for 10 s; a
        # plain probe of a tls:// listener would make the scheduler log a failed handshake)
        from .environment import tcp_problem

        host, _, port = rest.rpartition(":")
        why = tcp_problem(host.strip("[]"), int(port), timeout=10)
        if why is not None:
            _fail(f"{field}: no Dask scheduler answers at {shown(address)} ({why})", 2)

    async def identity() -> dict:
        from distributed.comm import connect
        from distributed.security import Security

        # TLS settings come from the Dask config (distributed.comm.tls), as for the run's client
        comm = await connect(address, timeout=10, **Security().get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            await comm.close()

    try:
        info = asyncio.run(asyncio.wait_for(identity(), 10))
    except Exception as exc:  # noqa: BLE001 - refused, unreachable, silent or not Dask
        detail = (getattr(exc, "strerror", None) or str(exc).splitlines()[0][:120]
                  if str(exc) else type(exc).__name__)
        _fail(f"{field}: no Dask scheduler answers at {shown(address)} ({detail})", 2)
    if not isinstance(info, dict) or info.get("type") != "Scheduler":
        _fail(f"{field}: what answers at {shown(address)} is not a Dask scheduler", 2)


def _check_gpus(cfg, dask_address: str | None, scenarios=None, *, cluster: bool = True
                ) -> None:
    """What the config asks of this machine's GPUs, checked before anything runs (exit 2 with
    one line): ``backend: gpu`` and a PINN's ``device: cuda[:i]`` need a visible device, and
    so does ``dask.gpu_workers`` for a command that starts the cluster (``cluster``: ``run``,
    ``serve``). A run on an existing cluster (``dask_address`` or ``dask.address``) is not
    checked: its GPUs are on its own machines. ``simulate``, ``train`` and ``pinn`` work on
    this machine (``cluster=False``) and are always checked. ``scenarios``: those that will
    run (default all)."""
    if cluster and (dask_address is not None or cfg.dask.address is not None):
        return
    from .cluster import NO_GPU, visible_gpus

    if cluster and cfg.dask.gpu_workers and cfg.dask.enabled and not visible_gpus():
        _fail(NO_GPU, 2)
    if cfg.backend == "gpu" and not visible_gpus():
        _fail("backend: 'gpu' needs a CUDA device, and none is visible here "
              "(CUDA_VISIBLE_DEVICES, or numba-cuda and a driver); use 'cpu', or 'auto' to "
              "take a GPU when there is one", 2)
    if cfg.backend == "gpu":  # visible is not usable: numba-cuda must load and see a device
        from simulators.simulate import _gpu_problem

        problem = _gpu_problem()
        if problem is not None:
            _fail(f"backend: 'gpu' cannot run here: {problem.splitlines()[0]}; use 'cpu', or "
                  "'auto' to take a GPU when there is one", 2)
    on_workers = cluster and cfg.dask.gpu_workers and cfg.dask.enabled
    for s in cfg.scenarios if scenarios is None else scenarios:
        device = str((s.pinn.options if s.pinn is not None and s.pinn.enabled else {})
                     .get("device", "cpu"))
        if not device.startswith("cuda"):
            continue
        import torch

        index = int(device.partition(":")[2] or 0)
        if on_workers and index > 0:
            _fail(f"scenario {s.id!r}, field 'pinn.options.device': {device!r} names a GPU by "
                  "index, but with dask.gpu_workers each worker sees only its own GPU, as "
                  "'cuda:0'; use 'cuda'", 2)
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if index >= count:
            _fail(f"scenario {s.id!r}, field 'pinn.options.device': {device!r} needs a CUDA "
                  f"device that torch can see, and it sees {count}; use 'cpu'", 2)


def _chosen(cfg, ids: list[str]):
    """The scenarios named by ``--scenario`` (exit 2 naming the known ids otherwise)."""
    from .config import ConfigError

    try:
        return [cfg.scenario(i) for i in ids]
    except ConfigError as exc:
        _fail(str(exc), 2)


def _raw(cfg) -> dict:
    return json.loads(cfg.model_dump_json())


@app.command()
def validate(config: ConfigArg, set_: SetOpt = None, params: ParamsOpt = None) -> None:
    """Check a configuration without running it."""
    cfg = _load(config, set_, params)
    out.print(f"[green]ok[/green]: {cfg.name}, {len(cfg.scenarios)} scenarios: "
              + ", ".join(s.id for s in cfg.scenarios))


@app.command()
def run(config: ConfigArg, output: Annotated[Path | None, typer.Option(
            help="Write the run directory under this folder instead of the config's "
                 "output_root.")] = None,
        set_: SetOpt = None, params: ParamsOpt = None,
        dask_address: Annotated[str | None, typer.Option(
            help="Run on an existing Dask cluster (tcp://host:8786).")] = None,
        fail_on_regression: Annotated[bool, typer.Option(
            "--fail-on-regression",
            help="Exit with code 3 when a metric regressed against the baseline "
                 "(config: regression.fail).")] = False,
        baseline: Annotated[Path | None, typer.Option(
            help="Compare with this run directory (config: regression.pinned).")] = None,
        ) -> None:
    """Run the nightly flow: simulate, reference, train, (PINN), (backward), evaluate, report.

    Exit codes: 0 ok; 1 a scenario or the run failed; 2 a bad config; 3 regressions (with
    --fail-on-regression or regression.fail)."""
    _quiet_env()
    _check_prefect_api()
    if baseline is not None:
        set_ = [*(set_ or []), f"regression.pinned={json.dumps(str(baseline))}"]
    cfg = _load(config, set_, params)
    if dask_address is not None:
        _check_address(dask_address, "--dask-address")
    elif cfg.dask.address is not None:
        _check_address(cfg.dask.address, "dask.address")
    _check_gpus(cfg, dask_address)
    _runs_folders(cfg, output, dask_address)
    import time

    from rich.live import Live

    from . import progress
    from .flows import run_config

    logging.basicConfig(level=logging.WARNING)
    ids = [s.id for s in cfg.scenarios]
    stages = [st for st in progress.STAGES
              if (st != "pinn" or any(s.pinn is not None and s.pinn.enabled
                                      for s in cfg.scenarios))
              and (st != "backward" or any(s.backward is not None and s.backward.enabled
                                           for s in cfg.scenarios))]
    events = progress.new_file()
    previous = os.environ.get(progress.ENV)
    os.environ[progress.ENV] = events  # inherited by Dask worker processes started below
    started = time.time()
    try:
        # log lines print above the table (redirected), which redraws twice a second
        with Live(get_renderable=lambda: progress.table(events, ids, stages, started),
                  console=console, refresh_per_second=2, transient=True):
            result = run_config(cfg, _raw(cfg), None if output is None else str(output),
                                dask_address)
    except Exception as exc:  # noqa: BLE001 - one line, non-zero exit
        first = str(exc).splitlines()[0] if str(exc) else ""
        _fail(f"run failed: {type(exc).__name__}: {first}{_server_hint(exc)}")
    finally:
        if previous is None:
            os.environ.pop(progress.ENV, None)
        else:
            os.environ[progress.ENV] = previous
        Path(events).unlink(missing_ok=True)
    _print_summary(Path(result["run_dir"]))
    out.print(f"report: {result['report']}")
    regs = result["regressions"]
    if regs:
        out.print(f"[yellow]{len(regs)} regression(s)[/yellow] against "
                  f"{result.get('baseline') or 'the baseline'}:", highlight=False)
        for r in regs:
            out.print(f"  {_regression_line(r)}", highlight=False, soft_wrap=True)
    if result["failures"]:
        _fail("; ".join(result["failures"]))
    if regs and (fail_on_regression or cfg.regression.fail):
        _fail(f"{len(regs)} regression(s); failing as asked (--fail-on-regression or "
              "regression.fail)", 3)


def _regression_line(r: dict) -> str:
    """One regression: scenario, metric, baseline and current values, ratio."""
    where = "run" if r.get("scenario") is None else f"scenario {r['scenario']}"
    ratio = r.get("ratio")

    def val(v):
        return f"{v:.4g}" if isinstance(v, (int, float)) else str(v)

    line = f"{where}: {r['metric']} {val(r.get('previous'))} → {val(r.get('current'))}"
    if isinstance(ratio, (int, float)):
        line += f" (×{ratio:.3g} > {r['tolerance']:.3g})"
    return line


def _data_status(scenario: dict) -> str:
    """"reused", "new" or "-" (the scenario made no dataset, e.g. it failed first)."""
    if not (scenario.get("dataset") or {}).get("path"):
        return "-"
    return "reused" if (scenario.get("reused") or {}).get("dataset") else "new"


SUMMARY_COLUMNS = (("scenario", "left"), ("status", "left"), ("m", "right"),
                   ("value\nstd", "right"), ("value\ndiff", "right"), ("rel.\ndiff", "right"),
                   ("checks", "left"), ("data", "left"), ("s", "right"))
"""The run summary's columns: value RMSE of the largest training size (mean over seeds, in
price units), standard and differential; the relative value error (RMSE / RMS of the reference
value over the test set) of the differential surrogate (the standard one where only it was
trained); the shape checks (ok, or how many failed); data reused or new; seconds. Greek errors
per input and the failed checks are listed under the table."""


def _percent(r) -> str:
    """A relative error as a percentage, 3 significant digits, never wider than 6 characters
    below 10^6 %."""
    if not isinstance(r, (int, float)) or r != r:
        return "-"
    return f"{100 * r:.3g}%" if abs(100 * r) < 1000 else f"{100 * r:.0f}%"


def _headline(summ: dict) -> str | None:
    modes = summ.get("value_relative") or summ.get("value_rmse") or {}
    return next((m for m in ("differential", "standard") if m in modes), None)


def summary_table(metrics: dict) -> Table:
    """The run summary as a table that fits 80 columns: numbers are never wrapped (3
    significant digits), only the scenario id folds."""
    from rich import box

    from evaluation.diagnostics import failed_checks

    table = Table(title=f"{metrics['run']['name']} ({metrics['run']['status']})",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), show_edge=False)
    for col, justify in SUMMARY_COLUMNS:
        table.add_column(col, justify=justify, no_wrap=col != "scenario",
                         overflow="fold" if col == "scenario" else "ellipsis",
                         min_width=10 if col == "scenario" else None)
    for sid, sc in metrics["scenarios"].items():
        summ = sc.get("summary") or {}
        vr, rel = summ.get("value_rmse") or {}, summ.get("value_relative") or {}

        def fmt(d, mode):
            v = (d.get(mode) or {}).get("mean")
            return f"{v:.2e}" if isinstance(v, (int, float)) else "-"

        mode = _headline(summ)
        r = (rel.get(mode) or {}).get("mean") if mode else None
        checks = (sc.get("checks") or {}).get("results")
        bad = failed_checks(checks)
        check = "-" if not checks else "ok" if not bad else f"[red]{len(bad)} fail[/red]"
        status = sc["status"] if sc["status"] == "ok" else f"[red]{sc['status']}[/red]"
        table.add_row(sid, status, str(summ.get("m", "-")), fmt(vr, "standard"),
                      fmt(vr, "differential"),
                      _percent(r), check,
                      _data_status(sc), f"{sum(sc['stage_seconds'].values()):.0f}")
    return table


def summary_lines(metrics: dict) -> list[str]:
    """Under the table: per scenario the headline mode's Greek RMSE per input (price per unit
    of the input, and relative to the RMS of the reference's), then every failed shape check."""
    from evaluation.diagnostics import failed_checks
    from evaluation.metrics import greek_name

    lines = []
    for sid, sc in metrics["scenarios"].items():
        summ = sc.get("summary") or {}
        mode = _headline(summ)
        greeks = ((summ.get("greek_rmse") or {}).get(mode) or {}) if mode else {}
        rels = ((summ.get("greek_relative") or {}).get(mode) or {}) if mode else {}
        parts = []
        for name, stat in greeks.items():
            v, r = (stat or {}).get("mean"), (rels.get(name) or {}).get("mean")
            if isinstance(v, (int, float)):
                rel = f" ({100 * r:.3g}%)" if isinstance(r, (int, float)) else ""
                parts.append(f"{greek_name(name)} {v:.3g}{rel}")
        if parts:
            lines.append(escape(f"{sid} ({mode}) Greek RMSE: " + ", ".join(parts)))
    for sid, sc in metrics["scenarios"].items():
        inputs = sc.get("inputs") or []
        for c in failed_checks((sc.get("checks") or {}).get("results")):
            at = (c.get("at") or []) if len(inputs) <= 4 else []  # wide baskets: see the report
            where = ", ".join(f"{n} {v:.4g}" for n, v in zip(inputs, at, strict=False))
            worst = c.get("worst")
            text = (f"{sid}, {c.get('predictor')}: {c.get('rule')} at {c.get('violations')} "
                    f"of {c.get('n')} test points")
            if isinstance(worst, (int, float)):
                text += f" (worst {worst:.4g}" + (f" at {where})" if where else ")")
            lines.append(f"[red]check failed[/red] {escape(text)}")
    return lines


def _print_summary(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    out.print(summary_table(metrics))
    for line in summary_lines(metrics):
        out.print(line, highlight=False, soft_wrap=True)
    out.print(f"run directory: {run_dir}", soft_wrap=True)


@app.command()
def simulate(config: ConfigArg, scenario: Annotated[list[str] | None, typer.Option(
                 help="Scenario id (repeatable; default: all).")] = None,
             set_: SetOpt = None, params: ParamsOpt = None) -> None:
    """Generate (or reuse) the datasets of a configuration, without training."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .steps import simulate_step

    cfg = _load(config, set_, params)
    chosen = _chosen(cfg, scenario) if scenario else cfg.scenarios
    _check_gpus(cfg, None, [], cluster=False)  # the backend only: no PINN runs here
    _dataset_root(cfg, chosen)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("rows"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        for s in chosen:
            tid = bar.add_task(s.id, total=s.paths)

            def hook(p, tid=tid):
                bar.update(tid, completed=getattr(p, "rows_done", 0))

            try:
                info = simulate_step(cfg, s, progress=hook)
            except Exception as exc:  # noqa: BLE001 - one line, non-zero exit
                log.debug("simulate failed", exc_info=True)
                _fail(f"simulate failed: scenario {s.id!r}: {_one_line(exc)}")
            bar.update(tid, completed=s.paths)
            # printed through the bar's console: above the bars, never inside them
            bar.console.print(f"{s.id}: {info['path']} ("
                              f"{'reused' if info['reused'] else 'generated'}, "
                              f"{info['seconds']:.2f}s)", highlight=False, soft_wrap=True)


class _TrainProgress:
    """What ``diffml train`` shows while it works, on stderr: the dataset's rows, the reference,
    then the learning curve's fits (sizes × modes × seeds) with the current fit (size, mode,
    seed, epochs, time so far). Log records of ``diffml`` print above the bars (never inside
    them) while they show; disabled, nothing is drawn and logging is left alone."""

    def __init__(self, scenario, enabled: bool) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Counted(ProgressColumn):
            """A column drawn only for tasks with a total (not for the current fit)."""

            def __init__(self, column: ProgressColumn) -> None:
                super().__init__()
                self.column = column

            def render(self, task):
                return self.column.render(task) if task.total is not None else Text("")

        self.s, self.t = scenario, scenario.training
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                            Counted(BarColumn()), Counted(MofNCompleteColumn()),
                            TimeElapsedColumn(), Counted(TextColumn("ETA")),
                            Counted(TimeRemainingColumn()), console=console,
                            disable=not enabled,
                            redirect_stdout=False)  # stdout is the results', printed after
        self.enabled = enabled
        self.handler: logging.Handler | None = None
        self.n_fits = len(self.t.sizes) * len(self.t.modes) * len(self.t.seeds)
        self.fits = self.current = self.task = None

    def __enter__(self) -> _TrainProgress:
        self.bar.start()
        if self.enabled:
            from rich.logging import RichHandler

            self.handler = RichHandler(console=self.bar.console, show_time=False,
                                       show_path=False, markup=False, level=logging.WARNING)
            logging.getLogger("diffml").addHandler(self.handler)
        return self

    def __exit__(self, *exc) -> None:
        if self.handler is not None:
            logging.getLogger("diffml").removeHandler(self.handler)
        self.bar.stop()

    def rows(self):
        """A ``simulate_step`` progress hook drawing the dataset's rows."""
        tid = self.task = self.bar.add_task(f"{self.s.id}: dataset rows", total=self.s.paths)
        return lambda p: self.bar.update(tid, completed=getattr(p, "rows_done", 0))

    def rows_done(self, info: dict) -> None:
        self.bar.update(self.task, completed=self.s.paths, description=(
            f"{self.s.id}: dataset rows ({'reused' if info['reused'] else 'generated'})"))
        self.task = self.bar.add_task(f"{self.s.id}: reference ({self.s.reference.method})",
                                      total=None)

    def reference_done(self) -> None:
        self.bar.update(self.task, total=1, completed=1)

    def fit(self, m: int, mode: str, seed: int) -> None:
        """A ``train_step`` progress hook: the previous fit is done, this one starts."""
        if self.fits is None:
            self.fits = self.bar.add_task(f"{self.s.id}: fits (sizes × modes × seeds)",
                                          total=self.n_fits)
        else:
            self.bar.update(self.fits, advance=1)
        if self.current is not None:
            self.bar.remove_task(self.current)
        self.current = self.bar.add_task(
            f"  m={m} {mode} seed {seed}: {self.t.epochs} epochs", total=None)

    def done(self, reused: bool) -> None:
        if self.current is not None:
            self.bar.remove_task(self.current)
        if self.fits is not None:
            self.bar.update(self.fits, completed=self.n_fits)
        elif reused and self.enabled:
            self.bar.console.print(f"{self.s.id}: learning curve reused from the cache",
                                   highlight=False)


@app.command()
def train(config: ConfigArg, scenario: Annotated[str, typer.Option(help="Scenario id.")],
          output: Annotated[Path, typer.Option(
              help="Folder for the trained models: OUTPUT/<scenario>-<mode>/ (cache in "
                   "OUTPUT/.cache).")] = Path("models"),
          set_: SetOpt = None, params: ParamsOpt = None,
          progress: Annotated[bool | None, typer.Option(
              "--progress/--no-progress",
              help="Show the fits' progress on stderr (default: when stderr is a "
                   "terminal).")] = None,
          force: Annotated[bool, typer.Option(
              "--force", help="Replace model folders that already exist in OUTPUT (with "
                              "everything in them).")] = False) -> None:
    """Train one scenario's surrogates and print its learning curve."""
    import shutil

    from .steps import reference_step, simulate_step, train_step

    cfg = _load(config, set_, params)
    s = _chosen(cfg, [scenario])[0]
    _check_gpus(cfg, None, [], cluster=False)
    _folder("--output", output, writable=True)
    _sweep_work(output, f".train-{s.id}", output)  # may put a model back: before the checks
    for mode in s.training.modes:  # checked before any training, not after it
        _free_target(output / f"{s.id}-{mode}", force)
    _dataset_root(cfg, [s])
    work = _work_folder(output, f".train-{s.id}")  # a run directory of its own
    show = console.is_terminal if progress is None else progress
    try:
        with _TrainProgress(s, show) as bar:
            ds = simulate_step(cfg, s, progress=bar.rows())
            bar.rows_done(ds)
            (work / "models").mkdir(parents=True, exist_ok=True)
            ref = reference_step(cfg, s, work)
            bar.reference_done()
            res = train_step(cfg, s, ds, ref, work, progress=bar.fit)
            bar.done(res.get("reused", False))
        for rel in res["models"].values():
            _move_into_place(work / rel, output / Path(rel).name, force, work)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - one line, non-zero exit
        log.debug("train failed", exc_info=True)
        _fail(f"train failed: scenario {s.id!r}: {_one_line(exc)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r in res["learning_curve"]:
        greeks = r.get("greek_rmse") or {}
        named = "  ".join(f"{k} {v:.3g}" for k, v in greeks.items() if v is not None)
        out.print(f"{r['mode']:12s} m={r['m']:<7d} seed={r['seed']}  value RMSE "
                  f"{r['value_rmse']:.3g}" + (f"  Greek RMSE: {named}" if named else ""),
                  highlight=False, soft_wrap=True)
    out.print("models: " + ", ".join(str(output / Path(r).name) for r in res["models"].values()))


def _sweep_work(output: Path, prefix: str, models: Path) -> None:
    """Remove the work folders ``prefix`` of killed ``train`` / ``pinn`` commands in
    ``output``; a model one of them had set aside (``replaced-<name>``, see
    :func:`_move_into_place`) whose place in ``models`` is empty is put back first."""
    import shutil

    from .cache import abandoned_work

    for path in abandoned_work(output, prefix):
        for old in path.glob("replaced-*"):
            place = models / old.name[len("replaced-"):]
            try:
                if not (place.exists() or place.is_symlink()):
                    place.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(old, place)
                    log.warning("%s: put back from the work folder of a killed command", place)
            except OSError as exc:  # e.g. another command sweeping the same folder
                log.warning("%s: not put back from %s (%s)", place, path, exc)
        shutil.rmtree(path, ignore_errors=True)


def _work_folder(output: Path, prefix: str) -> Path:
    """A new work folder of this command in ``output`` (:func:`pipeline.cache.work_name`,
    with a random part: a later command of the same pid never takes it for its own)."""
    import tempfile

    from .cache import work_name

    output.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=work_name(prefix) + "-", dir=output))


def _move_into_place(new: Path, dst: Path, force: bool, work: Path) -> None:
    """Move the finished model folder ``new`` to ``dst`` (both under the output folder). One
    that appeared at ``dst`` during the training is refused (exit 2) unless ``force``; an
    existing one is set aside in ``work`` (removed with it) and put back if the move fails."""
    if dst.exists() and not force:
        _fail(f"--output: {dst} was created by another process during the training; pass "
              "--force to replace it or choose another --output", 2)
    dst.parent.mkdir(parents=True, exist_ok=True)
    old = work / f"replaced-{dst.name}"
    if dst.exists():
        os.replace(dst, old)
    try:
        os.replace(new, dst)
    except OSError:
        if old.exists() and not dst.exists():
            os.replace(old, dst)  # the previous model back in place
        raise


@app.command()
def pinn(config: ConfigArg, scenario: Annotated[str, typer.Option(help="Scenario id.")],
         output: Annotated[Path, typer.Option(
             help="Folder for the PINN: OUTPUT/models/<scenario>-pinn/.")] = Path("pinn"),
         set_: SetOpt = None, params: ParamsOpt = None,
         force: Annotated[bool, typer.Option(
             "--force", help="Replace a PINN folder that already exists in OUTPUT (with "
                             "everything in it).")] = False) -> None:
    """Train the PINN reference of one scenario and print its errors."""
    import shutil

    from . import pinn_step
    from .steps import reference_step

    cfg = _load(config, set_, params)
    s = _chosen(cfg, [scenario])[0]
    _check_gpus(cfg, None, [s], cluster=False)
    if s.pinn is None or not s.pinn.enabled:
        _fail(f"scenario {scenario!r} has no enabled 'pinn' section", 2)
    _folder("--output", output, writable=True)
    _sweep_work(output, f".pinn-{s.id}", output / "models")  # may put a PINN back: first
    dst = output / "models" / f"{s.id}-pinn"
    _free_target(dst, force)
    # trained in a work folder of its own (its cache in OUTPUT/.cache), moved into place only
    # once complete: an existing PINN stays until then, whatever ends the training
    work = _work_folder(output, f".pinn-{s.id}")
    try:
        (work / "models").mkdir(parents=True, exist_ok=True)
        res = pinn_step.run(cfg, s, reference_step(cfg, s, work), work)
        _move_into_place(work / "models" / dst.name, dst, force, work)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - one line, non-zero exit
        log.debug("pinn failed", exc_info=True)
        _fail(f"pinn failed: scenario {s.id!r}: {_one_line(exc)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out.print(json.dumps({k: v for k, v in res["metrics"].items() if k != "history"}, indent=1))


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Rebuild report.html of a run directory from its metrics.json."""
    from evaluation.report import build_report

    if not run_dir.is_dir():
        why = "a file, not a directory" if run_dir.exists() else "no such directory"
        _fail(f"{run_dir} is not a run directory ({why})", 2)
    if not (run_dir / "metrics.json").is_file():
        _fail(f"{run_dir} has no metrics.json", 2)
    from evaluation.trend import load_metrics

    try:  # a damaged metrics.json is bad input (exit 2), a failure to render it is not
        load_metrics(run_dir)
    except (OSError, ValueError) as exc:
        _fail(_one_line(exc), 2)
    try:
        path = build_report(run_dir)
    except Exception as exc:  # noqa: BLE001 - one line, non-zero exit
        log.debug("report failed", exc_info=True)
        _fail(f"report failed: {_one_line(exc)}")
    out.print(str(path))


@app.command()
def serve(config: ConfigArg,
          cron: Annotated[str, typer.Option(help="Cron schedule (UTC).")] = "0 2 * * *",
          name: Annotated[str | None, typer.Option(help="Deployment name.")] = None,
          output: Annotated[Path | None, typer.Option(help="Runs folder.")] = None,
          set_: SetOpt = None, params: ParamsOpt = None,
          allow_dir: Annotated[list[Path] | None, typer.Option(
              "--allow-dir", help="A directory that run requests may take their config and "
                                  "parameters file from (repeatable; default: the config's "
                                  "folder).")] = None) -> None:
    """Serve the nightly flow on a cron schedule (needs a Prefect server: see docs/pipeline.md).

    A run requested through the Prefect API must take its config and parameters file from an
    allowed directory and write under the config's roots; other requests fail with one line."""
    _quiet_env()
    cfg = _load(config, set_, params)
    _check_gpus(cfg, None)
    _check_cron(cron)
    from prefect.types.names import BANNED_CHARACTERS  # what Prefect refuses in a name

    if name is not None and (not name.strip() or any(c in name for c in BANNED_CHARACTERS)):
        _fail(f"--name: a deployment name, not empty and without any of "
              f"{' '.join(BANNED_CHARACTERS)}; got {name[:100]!r}", 2)
    if not os.environ.get("PREFECT_API_URL"):
        _fail("serve needs a running Prefect server to schedule runs: start one with "
              "`prefect server start` and export PREFECT_API_URL=http://127.0.0.1:4200/api", 2)
    from .config import ConfigError
    from .schedule import serve as serve_fn

    allow = allow_dir or [config.resolve().parent]
    missing = [str(d) for d in allow if not d.is_dir()]
    if missing:
        _fail(f"--allow-dir: not a directory: {missing}", 2)
    _runs_folders(cfg, output, None)  # checked now, not when the first run fires
    try:
        serve_fn(config, cron=cron, name=name or f"{cfg.name}-nightly", output=output,
                 sets=set_ or [], params=params, allow=allow)
    except ConfigError as exc:
        _fail(str(exc), 2)
    except Exception as exc:  # noqa: BLE001 - e.g. the Prefect API cannot be reached
        log.debug("serve failed", exc_info=True)
        _check_prefect_api()  # after the allow list's checks, which need no server
        _fail(f"serve failed (Prefect API {os.environ['PREFECT_API_URL']}): "
              f"{_one_line(exc)}")


def _check_cron(cron: str) -> None:
    """``--cron``: five cron fields (minute hour day month weekday), exit 2 otherwise."""
    from prefect.client.schemas.schedules import CronSchedule

    try:  # Prefect also takes a sixth field (seconds: a run every second) and @daily
        if len(cron.split()) != 5 or cron.lstrip().startswith("@"):
            raise ValueError(cron)
        CronSchedule(cron=cron)
    except Exception:  # noqa: BLE001 - pydantic's message spans lines; ours is one
        _fail(f"--cron: must be a cron schedule of five fields (minute hour day month "
              f"weekday, UTC), e.g. '0 2 * * *'; got {cron[:100]!r}", 2)


@datasets_app.command("ls")
def datasets_ls(root: Annotated[Path | None, typer.Option(
                    help="Datasets folder (default: the config's dataset_root, else "
                         "'datasets').")] = None,
                config: Annotated[Path | None, typer.Option(
                    help="Take the datasets folder from this config.")] = None,
                set_: SetOpt = None, params: ParamsOpt = None) -> None:
    """List the datasets under ROOT."""
    import data

    if root is None:
        root = Path(_load(config, set_, params).dataset_root) if config else Path("datasets")
    if root.exists() and not root.is_dir():
        _fail(f"--root: must be a datasets folder; {str(root)!r} is not a directory", 2)
    if not root.exists():
        out.print(f"no datasets: {root} does not exist yet")
        return
    out.print(datasets_table(data.list_datasets(root)))


def datasets_table(infos) -> Table:
    """``datasets ls``: one row per dataset; names are never folded (the dataset column takes
    the longest name), the other columns are short, so 80 columns hold 30-character names."""
    from rich import box

    rows = []
    for info in infos:
        d = info.to_dict() if hasattr(info, "to_dict") else vars(info)
        what = " ".join(t for t in ((d.get("model") or {}).get("type", ""),
                                    (d.get("product") or {}).get("type", "")) if t)
        rows.append((str(d.get("dirname", d.get("name"))), f"{d.get('n_paths', '')}",
                     what, str(d.get("status", d.get("complete", ""))),
                     f"{d.get('size_bytes', 0) / 1e6:.1f}"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    widest = max((len(r[0]) for r in rows), default=7)
    for col, justify in (("dataset", "left"), ("rows", "right"), ("model, product", "left"),
                         ("status", "left"), ("MB", "right")):
        table.add_column(col, justify=justify, no_wrap=col != "model, product",
                         overflow="fold" if col == "model, product" else "ellipsis",
                         min_width=widest if col == "dataset" else None)
    for r in rows:
        table.add_row(*r)
    return table


def _dataset_dir(path: Path) -> None:
    """Exit 2 unless ``path`` is a folder holding a dataset's manifest or parts (a damaged
    dataset is then the command's to report, with exit 1)."""
    import data

    if not path.is_dir():
        _fail(f"{path}: no such dataset directory", 2)
    if not any((path / name).exists() for name in (data.MANIFEST, data.LEGACY_MANIFEST)) and \
            not any(path.glob("part-*.parquet")):
        _fail(f"{path}: not a dataset directory (no {data.MANIFEST} and no parts)", 2)


@datasets_app.command("show")
def datasets_show(path: Annotated[Path, typer.Argument(help="Dataset directory.")]) -> None:
    """Print a dataset's manifest."""
    import data

    _dataset_dir(path)
    try:
        out.print_json(json.dumps(data.read_manifest(path)))
    except (data.DatasetError, OSError) as exc:
        _fail(str(exc))


@datasets_app.command("verify")
def datasets_verify(path: Annotated[Path, typer.Argument(help="Dataset directory.")]) -> None:
    """Verify checksums, schema and values of every part."""
    import data

    _dataset_dir(path)
    try:
        ds = data.open_dataset(path, verify=True).verify()
    except (data.DatasetError, OSError) as exc:
        _fail(str(exc))
    out.print(f"[green]ok[/green]: {ds.n_paths} rows in {len(ds.parts)} parts")


@datasets_app.command("gc")
def datasets_gc(
    configs: Annotated[list[Path], typer.Argument(help="Configs whose datasets to keep.")],
    root: Annotated[Path | None, typer.Option(
        help="Datasets folder (default: each config's dataset_root).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Delete (default: dry run).")] = False,
    set_: SetOpt = None, params: ParamsOpt = None,
) -> None:
    """Remove datasets that none of CONFIGS references (dry run unless --yes).

    ``--set`` and ``--params`` apply to every config, so datasets made with overrides are
    kept when the same overrides are given."""
    import data

    from .steps import dataset_spec

    keep: dict[Path, list] = {}
    for c in configs:
        cfg = _load(c, set_, params)
        folder = root if root is not None else Path(cfg.dataset_root)
        keep.setdefault(folder, []).extend(dataset_spec(cfg, s) for s in cfg.scenarios)
    for folder in keep:  # bad input, like ls's: exit 2 before anything is listed or removed
        if folder.exists() and not folder.is_dir():
            field = "--root" if root is not None else "dataset_root"
            _fail(f"{field}: must be a datasets folder; {str(folder)[:200]!r} is not a "
                  "directory", 2)
    # every kept spec counts in every folder (one config's datasets in another's root)
    specs = [sp for v in keep.values() for sp in v]
    removed = []
    try:
        for folder in keep:
            removed += data.gc(folder, specs, dry_run=not yes)
    except (data.DatasetError, OSError) as exc:
        _fail(f"gc failed: {_one_line(exc)}")
    verb = "removed" if yes else "would remove"
    for p in removed:
        out.print(f"{verb} {p}")
    out.print(f"{verb} {len(removed)} path(s) (datasets and their lock files)")


SUPERVISED_COMMANDS = frozenset({"run", "simulate", "train", "pinn", "serve"})
"""Commands that may start a Prefect server or Dask processes: they run under
:func:`pipeline.supervise.supervise`, so nothing they start outlives them."""


PREFECT_COMMANDS = frozenset({"run", "serve"})
"""Commands that use Prefect (a flow, a temporary server, a deployment): Prefect's settings
from the environment are checked before they start."""


def main() -> None:  # pragma: no cover - exercised by the subprocess tests
    from . import supervise

    argv = sys.argv[1:]
    wants_help = any(a in ("--help", "-h") for a in argv)
    if (argv and argv[0] in SUPERVISED_COMMANDS and not wants_help
            and supervise.supported() and not supervise.is_supervised()):
        sys.exit(supervise.supervise(supervise.cli_command(argv)))
    if supervise.is_supervised():
        supervise.raise_on_termination()
    from . import environment

    uses_prefect = bool(argv) and argv[0] in PREFECT_COMMANDS
    if uses_prefect:  # before the check below reads (and Prefect caches) the settings
        _quiet_env()
    problem = None if wants_help else environment.error(prefect=uses_prefect)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    app(prog_name="diffml")


if __name__ == "__main__":  # pragma: no cover
    main()
