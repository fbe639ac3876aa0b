"""PINN input hardening: a bad configuration field, collocation size, ``solve`` argument or saved
solution gives one clear error naming the owner, the field (or path), the rule and the value.
Before, such input was accepted and failed later inside ``solve`` (AttributeError, torch's
"Overflow when unpacking long long") or surfaced raw errors from torch, json and pathlib."""

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from training.pinn import (
    AdaptiveResampling,
    ClusteredGrid,
    PINNConfig,
    PINNSolution,
    RandomSampler,
    SobolSampler,
    UniformGrid,
    solve,
)
from training.pinn.collocation import MAX_POINTS

from .conftest import basket_put, bs_put

TINY = dict(width=4, depth=1, collocation=UniformGrid(3, 5), num_threads=1, adam_steps=2,
            lbfgs_iterations=0)


def _msg(field, rule, value, owner="PINNConfig"):
    return re.escape(f"The '{field}' parameter of {owner} must {rule}. Got {value!r} instead.")


# ----- PINNConfig fields ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("collocation", "grid",
         "be one of UniformGrid, ClusteredGrid, SobolSampler, RandomSampler"),
        ("adaptive", "x", "be an AdaptiveResampling or None"),
        ("progress", "no", "be true or false"),
        ("seed", 2**70, "be an integer in [0, 2**63)"),
        ("seed", True, "be an integer in [0, 2**63)"),
        ("learning_rate", True, "be a real number"),
        ("time_limit", True, "be a real number"),
        ("checkpoint_dir", 5, "be a non-empty path (str) or None"),
        ("checkpoint_dir", "", "be a non-empty path (str) or None"),
    ],
)
def test_config_field_is_checked_on_construction(field, value, rule):
    with pytest.raises(ValueError, match=_msg(field, rule, value)):
        PINNConfig(**{field: value})


@pytest.mark.parametrize("value", ["1e-3", b"1", np.bool_(True), True])
def test_config_refuses_text_and_bools_as_numbers(value):
    with pytest.raises(ValueError, match=_msg("learning_rate", "be a real number", value)):
        PINNConfig(learning_rate=value)


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "meta", "", 0])
def test_config_device_must_be_a_cpu_or_cuda_device_string(device):
    rule = "be a torch device string of type 'cpu' or 'cuda' (e.g. 'cpu', 'cuda', 'cuda:0')"
    with pytest.raises(ValueError, match=_msg("device", rule, device)):
        PINNConfig(device=device)


def test_config_normalises_accepted_values():
    cfg = PINNConfig(device=torch.device("cuda", 1), checkpoint_dir=Path("/tmp/ck"),
                     learning_rate=np.float32(0.5), seed=np.int64(7))
    assert cfg.device == "cuda:1" and cfg.checkpoint_dir == "/tmp/ck"
    assert cfg.learning_rate == 0.5 and type(cfg.learning_rate) is float
    assert type(cfg.seed) is int
    json.dumps(cfg.to_dict())  # a Path checkpoint_dir made the saved config unwritable


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_solve_on_unavailable_cuda_says_so():
    """A saved GPU configuration still builds (and loads) on a CPU machine; ``solve`` refuses it
    in one line instead of torch's AssertionError "Torch not compiled with CUDA enabled"."""
    cfg = PINNConfig(device="cuda", **TINY)
    msg = ("The 'device' parameter of PINNConfig must name an available device: "
           "torch.cuda.is_available() is False, use 'cpu'. Got 'cuda' instead.")
    with pytest.raises(RuntimeError, match=re.escape(msg)):
        solve(bs_put(), cfg)


# ----- collocation sizes ----------------------------------------------------------------------


def test_grid_n_space_per_state_variable_or_refused():
    assert UniformGrid(n_space=(5,)).n_space == (5,)  # one entry per state variable: 1D
    assert UniformGrid(n_space=[5, 6]).n_space == (5, 6)  # a list is stored as a tuple
    rule = "be an integer >= 2 or a non-empty tuple of integers >= 2 (one per state variable)"
    for bad in [(), 5.0, (5, 1), "55", True]:
        with pytest.raises(ValueError, match=_msg("n_space", rule, bad, "UniformGrid")):
            UniformGrid(n_space=bad)


def test_collocation_sets_are_capped():
    """n_space=10**9 was accepted and then exhausted the memory in ``build``."""
    rule = (f"keep the collocation set within {MAX_POINTS:,} points "
            "(n_tau x n_space = 51,000,000,000)")
    with pytest.raises(ValueError, match=_msg("n_space", rule, 10**9, "UniformGrid")):
        UniformGrid(n_space=10**9)
    with pytest.raises(ValueError, match="'n_tau' parameter of ClusteredGrid must keep the "
                                         "collocation set within 10,000,000 points"):
        ClusteredGrid(n_tau=10**8, n_space=3)
    with pytest.raises(ValueError, match=r"'n_interior' parameter of SobolSampler must keep the "
                                         r"collocation set within 10,000,000 points"):
        SobolSampler(n_interior=10**9)
    with pytest.raises(ValueError, match=r"'n_candidates' parameter of AdaptiveResampling must "
                                         r"be at most 10,000,000"):
        AdaptiveResampling(n_candidates=10**8)


def test_collocation_cap_counts_the_problem_dimension():
    """The size depends on the problem: n_space per state variable, n_boundary per face."""
    grid = UniformGrid(n_tau=1000, n_space=5000)  # 5e6 points in 1D
    with pytest.raises(ValueError, match=re.escape("(n_tau x n_space^2 = 25,000,000,000)")):
        grid.build(basket_put())
    sampler = RandomSampler(n_interior=MAX_POINTS - 2000, n_initial=1000, n_boundary=300)
    with pytest.raises(ValueError, match=re.escape("n_interior + n_initial + 4 faces x "
                                                   "n_boundary = 10,000,200")):
        sampler.build(basket_put())


# ----- solve arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"problem": None}, "problem", "be a PDEProblem (e.g. BlackScholesPDE)"),
        ({"config": "str"}, "config", "be a PINNConfig or None"),
        ({"initial": "x"}, "initial", "be a state dict (a mapping of names to tensors) or None"),
    ],
)
def test_solve_arguments_are_type_checked(kwargs, field, rule):
    args = {"problem": bs_put(), "config": PINNConfig(**TINY), **kwargs}
    with pytest.raises(TypeError, match=_msg(field, rule, kwargs[field], "solve")):
        solve(**args)


def test_solve_resume_and_initial_state_are_checked():
    with pytest.raises(ValueError, match=_msg("resume", "be true or false", "no",
                                              "PINNSolver.solve")):
        solve(bs_put(), PINNConfig(**TINY), resume="no")
    other = solve(bs_put(), PINNConfig(**{**TINY, "width": 6})).model.state_dict()
    with pytest.raises(ValueError, match=re.escape(
            "The 'initial' parameter of PINNSolver must be the state dict of a network of the "
            "same architecture (problem and config): mlp.net.0.weight has shape (6, 2), "
            "expected (4, 2).")):
        solve(bs_put(), PINNConfig(**TINY), initial=other)


# ----- PINNSolution save and load -------------------------------------------------------------


@pytest.fixture(scope="module")
def solution():
    return solve(bs_put(), PINNConfig(**TINY))


def _cannot_load(path, problem):
    return re.escape(f"Cannot load PINNSolution from {path}: {problem}")


def test_save_refuses_bad_paths(solution, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=_msg("path", "be a non-empty path", "",
                                              "PINNSolution.save")):
        solution.save("")
    assert not list(tmp_path.iterdir())  # before, written into the current folder
    with pytest.raises(TypeError, match=_msg("path", "be a str or os.PathLike path", None,
                                             "PINNSolution.save")):
        solution.save(None)
    (tmp_path / "f").write_text("x")
    with pytest.raises(FileExistsError, match=re.escape(
            f"Cannot save PINNSolution to {tmp_path / 'f'}: it is an existing file, not a "
            "folder.")):
        solution.save(tmp_path / "f")


def _without_weights_hash(path) -> None:
    """As a folder saved before config.json held the SHA-256 of weights.pt."""
    meta = json.loads((path / "config.json").read_text())
    del meta["weights_sha256"]
    (path / "config.json").write_text(json.dumps(meta))


def test_load_reports_what_is_wrong(solution, tmp_path):
    with pytest.raises(FileNotFoundError, match=_cannot_load(tmp_path / "no", "no such folder")):
        PINNSolution.load(tmp_path / "no")
    path = solution.save(tmp_path / "s")
    (path / "config.json").write_text("{x")
    with pytest.raises(ValueError, match=_cannot_load(
            path, "config.json is not valid JSON (line 1 column 2).")):
        PINNSolution.load(path)
    path = solution.save(tmp_path / "s")
    (path / "weights.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=_cannot_load(path, "weights.pt is not the file "
                                                            "config.json was saved with")):
        PINNSolution.load(path)
    _without_weights_hash(path)
    with pytest.raises(ValueError, match=_cannot_load(path, "weights.pt is not a torch weights "
                                                            "file (UnpicklingError).")):
        PINNSolution.load(path)
    (path / "weights.pt").unlink()
    with pytest.raises(FileNotFoundError, match=_cannot_load(path, "weights.pt is missing.")):
        PINNSolution.load(path)
    path = solution.save(tmp_path / "s")
    (path / "history.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match=_cannot_load(path, "history.npz is not a NumPy "
                                                            "archive of arrays.")):
        PINNSolution.load(path)


def test_load_of_weights_of_another_network(solution, tmp_path):
    """A torch "size mismatch" RuntimeError before."""
    path = solution.save(tmp_path / "s")
    wide = solve(bs_put(), PINNConfig(**{**TINY, "width": 6}))
    wide.save(tmp_path / "wide")
    (tmp_path / "wide" / "weights.pt").replace(path / "weights.pt")
    with pytest.raises(ValueError, match=_cannot_load(
            path, "weights.pt is not the file config.json was saved with (its SHA-256")):
        PINNSolution.load(path)
    _without_weights_hash(path)
    with pytest.raises(ValueError, match=_cannot_load(
            path, "weights.pt does not match config.json: mlp.net.0.weight has shape (6, 2), "
                  "expected (4, 2).")):
        PINNSolution.load(path)


def test_load_device_is_checked(solution, tmp_path):
    path = solution.save(tmp_path / "s")
    rule = "be a torch device string of type 'cpu' or 'cuda' (e.g. 'cpu', 'cuda', 'cuda:0')"
    with pytest.raises(ValueError, match=_msg("device", rule, "tpu", "PINNSolution.load")):
        PINNSolution.load(path, device="tpu")
    loaded = PINNSolution.load(path)
    np.testing.assert_array_equal(loaded.price([90.0, 100.0]), solution.price([90.0, 100.0]))


# ----- stored configurations --------------------------------------------------------------------
@pytest.mark.parametrize("stored, msg", [
    ({"widht": 8}, "PINNConfig.from_dict: unknown keys 'widht' for PINNConfig"),
    ({"collocation": {"type": "UniformGrid", "n_tau": 5, "n_spce": 9}},
     "collocation_from_dict: unknown keys 'n_spce' for UniformGrid"),
    ({"collocation": {"n_tau": 5}}, "The 'type' parameter of collocation_from_dict must be one of"),
    ({"adaptive": {"every": 3, "n_add": 8, "zz": 1}},
     "PINNConfig.from_dict: unknown keys 'zz' for AdaptiveResampling"),
])
def test_a_stored_config_with_bad_keys_fails_in_one_line(stored, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        PINNConfig.from_dict(stored)


def test_a_stored_config_round_trips():
    cfg = PINNConfig.best(adaptive=None, width=16)
    assert PINNConfig.from_dict(cfg.to_dict()) == cfg


# ----- damaged training checkpoints -------------------------------------------------------------
def _checkpointed(tmp_path, **kw):
    ck = dict(checkpoint_every=1, checkpoint_dir=str(tmp_path / "ck"))
    solve(bs_put(), PINNConfig(**{**TINY, **ck, **kw}))
    return tmp_path / "ck" / "checkpoint.pt", ck


@pytest.mark.parametrize("damage, problem", [
    (lambda f: f.write_bytes(b"not a checkpoint"), "it is not a torch checkpoint"),
    (lambda f: f.write_bytes(f.read_bytes()[:100]), "it is not a torch checkpoint"),
    (lambda f: torch.save({"model": {}}, f), "its model does not fit this configuration"),
    (lambda f: torch.save({k: val for k, val in torch.load(f, weights_only=True).items()
                           if k != "adam"}, f), "it is incomplete or damaged (KeyError"),
])
def test_a_damaged_checkpoint_is_named_with_what_to_do(tmp_path, damage, problem):
    file, ck = _checkpointed(tmp_path)
    damage(file)
    msg = f"Cannot resume the PINN training from {file}: {problem}"
    with pytest.raises(ValueError, match=re.escape(msg) + ".*Delete the file"):
        solve(bs_put(), PINNConfig(**{**TINY, **ck, "adam_steps": 4}), resume=True)


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    file, ck = _checkpointed(tmp_path)
    with pytest.raises(ValueError, match="written by the training of another problem"):
        solve(bs_put(), PINNConfig(**{**TINY, **ck, "width": 6, "adam_steps": 4}), resume=True)
    state = torch.load(file, weights_only=True)  # as a checkpoint written before fingerprints
    del state["fingerprint"]
    torch.save(state, file)
    with pytest.raises(ValueError, match=re.escape(
            f"{file}: its model does not fit this configuration: ")):
        solve(bs_put(), PINNConfig(**{**TINY, **ck, "width": 6, "adam_steps": 4}), resume=True)


# ----- parameter copies of a parametric family --------------------------------------------------
def test_parameter_copies_stay_within_the_point_cap():
    """The copies multiply the collocation set: 10**6 copies of a 6 x 21 grid would be about
    2e8 points; refused before any is allocated, naming the total."""
    from training.pinn.collocation import MAX_POINTS, add_parameter_samples
    from training.pinn.problems import ParametricPDE

    p = ParametricPDE(problem=bs_put(), parameters={"vol": (0.1, 0.4)})
    sets = UniformGrid(n_tau=6, n_space=21).build(p, seed=0)
    assert sum(len(ps) for ps in add_parameter_samples(p, sets, 4, 0).values()) < MAX_POINTS
    with pytest.raises(ValueError, match=r"The 'copies' parameter of add_parameter_samples must "
                                         r"keep the collocation set within 10,000,000 points "
                                         r"\(.* points with their copies = [0-9,]+\)\. Got "
                                         r"1000000 instead\."):
        add_parameter_samples(p, sets, 10**6, 0)


def test_a_checkpoint_of_another_problem_or_configuration_is_refused(tmp_path):
    """A finished put of vol 0.2 resumed as a put of vol 0.5: the vol-0.2 network came back
    labelled vol 0.5 (prices 9.7 at the money against 18.0). The checkpoint now records the
    SHA-256 of the problem and of the configuration's training fields."""
    file, ck = _checkpointed(tmp_path)
    other = dataclasses.replace(bs_put(), vol=0.5)
    with pytest.raises(ValueError, match=re.escape(
            f"Cannot resume the PINN training from {file}: it was written by the training of "
            "another problem or configuration")):
        solve(other, PINNConfig(**{**TINY, **ck}), resume=True)
    with pytest.raises(ValueError, match="another problem or configuration"):
        solve(bs_put(), PINNConfig(**{**TINY, **ck, "seed": 5}), resume=True)
    resumed = solve(bs_put(), PINNConfig(**{**TINY, **ck, "adam_steps": TINY["adam_steps"] + 2}),
                    resume=True)  # a longer budget is the same run, continued
    assert resumed.stats["steps"] > 0
