"""Configuration: YAML in, unknown keys rejected, errors naming scenario and field, overrides."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import ConfigError, apply_override, load_config

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_shipped_configs_validate():
    for name in ("nightly.yaml", "paper.yaml", "gpu.yaml"):
        cfg = load_config(ROOT / "configs" / name)
        assert cfg.scenarios
        for s in cfg.scenarios:
            objs = s.objects()
            assert objs["model"].inputs


def test_unknown_key_is_rejected_with_its_location(small_config):
    raw = yaml.safe_load(small_config.read_text())
    raw["scenarios"][0]["trainig"] = {"epochs": 3}
    small_config.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"scenarios\.<bs>\.trainig: unknown key"):
        load_config(small_config)


def test_parameter_error_names_scenario_field_range_and_value(small_config):
    with pytest.raises(ConfigError, match=r"scenario 'bs', field 'model': The 'vol' parameter of "
                                          r"BlackScholes must be > 0\. Got -0\.3 instead"):
        load_config(small_config, ["scenarios.bs.model.vol=-0.3"])


def test_literal_error_lists_allowed_values(small_config):
    with pytest.raises(ConfigError, match=r"scenarios\.<bs>\.reference\.method: allowed values: "
                                          r"'analytic', 'fd' or 'pinn' \(got 'magic'\)"):
        load_config(small_config, ["scenarios.bs.reference.method=magic"])


def test_set_overrides_by_scenario_id(small_config):
    cfg = load_config(small_config, ["scenarios.bs.model.vol=0.22", "seed=11"])
    assert cfg.scenario("bs").objects()["model"].vol == 0.22
    assert cfg.seed == 11
    with pytest.raises(ConfigError, match=r"no scenario 'nope'.*known ids: \['bs', 'basket'\]"):
        load_config(small_config, ["scenarios.nope.model.vol=0.1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_override({}, "novalue")


def test_params_file_merges_over_the_config(small_config, tmp_path):
    params = tmp_path / "market.yaml"
    params.write_text("scenarios:\n  - id: bs\n    model: {vol: 0.31}\n")
    cfg = load_config(small_config, params=params)
    assert cfg.scenario("bs").objects()["model"].vol == 0.31
    assert cfg.scenario("bs").objects()["product"].strike == 1.10  # untouched
    params.write_text("scenarios:\n  - id: ghost\n    model: {vol: 0.31}\n")
    with pytest.raises(ConfigError, match="scenario 'ghost'"):
        load_config(small_config, params=params)


def test_params_file_with_a_scenario_twice_is_refused(small_config, tmp_path):
    params = tmp_path / "market.yaml"
    params.write_text("scenarios:\n  - id: bs\n    model: {vol: 0.3}\n"
                      "  - id: bs\n    model: {vol: 0.4}\n")
    with pytest.raises(ConfigError, match=r"more than once: \['bs'\]"):
        load_config(small_config, params=params)


def test_exponent_numbers_are_numbers(small_config, tmp_path):
    """1e-6 and 1.0e9 are floats in a config file, a parameters file and --set (YAML 1.1 would
    read them as strings); quoted, they stay strings."""
    from pipeline.config import _load_yaml

    assert _load_yaml("a: 1e-6\nb: 1.0e9\nc: -2E+3\nd: '1e-6'\ne: 1e\n") == {
        "a": 1e-6, "b": 1e9, "c": -2000.0, "d": "1e-6", "e": "1e"}
    params = tmp_path / "market.yaml"
    params.write_text("scenarios:\n  - id: bs\n    model: {vol: 25e-2}\n")
    cfg = load_config(small_config, ["scenarios.bs.product.maturity=15e-1"], params=params)
    assert cfg.scenario("bs").objects()["model"].vol == 0.25
    assert cfg.scenario("bs").objects()["product"].maturity == 1.5


def test_a_number_where_text_is_expected_says_to_quote_it(small_config):
    with pytest.raises(ConfigError, match=r"name: .*got 1000.0\); quote it to keep it text"):
        load_config(small_config, ["name=1e3"])
    with pytest.raises(ConfigError, match=r"name: .*\(got datetime.date\(2026, 1, 1\)\); quote "
                       r"it to keep it text \(.*2026-01-01 a date\)"):
        load_config(small_config, ["name=2026-01-01"])
    with pytest.raises(ConfigError, match=r"name: Input should be a valid string \(got a "
                       r"mapping\)"):
        load_config(small_config, ["name={a: 1}"])
    with pytest.raises(ConfigError) as missing:  # a missing field is not "got a mapping"
        load_config(small_config, ["scenarios.bs.test={n: 3}"])
    assert "Field required" in str(missing.value) and "got a mapping" not in str(missing.value)


def test_set_into_a_plain_list_says_to_set_it_whole(small_config):
    with pytest.raises(ConfigError, match=r"training.sizes is a list; set it whole"):
        load_config(small_config, ["scenarios.bs.training.sizes.0=512"])


def test_cli_validate_exit_codes(small_config):
    ok = runner.invoke(app, ["validate", str(small_config)])
    assert ok.exit_code == 0 and "2 scenarios" in ok.output
    bad = runner.invoke(app, ["validate", str(small_config), "--set",
                              "scenarios.bs.product.maturity=0"])
    assert bad.exit_code == 2
    assert "scenario 'bs', field 'product'" in bad.output
    missing = runner.invoke(app, ["validate", "no/such.yaml"])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_duplicate_ids_and_test_box_length(small_config):
    raw = yaml.safe_load(small_config.read_text())
    raw["scenarios"][1]["id"] = "bs"
    small_config.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="scenario ids must be unique"):
        load_config(small_config)


@pytest.mark.parametrize("processes", [False, True])
def test_local_cluster_listens_on_loopback_only(processes):
    """The Dask scheduler, workers and dashboards (no authentication) listen on 127.0.0.1 only:
    every listening socket of this process and its children, read with psutil."""
    import psutil
    from distributed import LocalCluster

    from pipeline.cluster import task_runner
    from pipeline.config import DaskSettings

    runner = task_runner(DaskSettings(n_workers=1, threads_per_worker=1, processes=processes))
    with LocalCluster(**runner.cluster_kwargs):
        me = psutil.Process()
        procs = [me, *me.children(recursive=True)]
        listening = [c.laddr for p in procs for c in p.net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN]
    assert listening, "the cluster opened no listening socket"
    assert all(a.ip == "127.0.0.1" for a in listening), listening


def test_an_fd_reference_where_the_pair_has_no_fd_solver_is_refused_at_validation(small_config):
    """A Bachelier basket option has a closed form but no FD solver: 'fd' as the method or as a
    cross-check is refused by validation (it used to pass and fail the reference task)."""
    with pytest.raises(ConfigError, match=r"^scenario 'basket', field 'reference\.method': no FD "
                                          r"reference for BachelierBasket with BasketOption; use "
                                          r"reference\.method 'analytic'$"):
        load_config(small_config, ["scenarios.basket.reference.method=fd"])
    with pytest.raises(ConfigError, match=r"^scenario 'basket', field 'reference\.cross_checks': "
                                          r"no FD reference for BachelierBasket"):
        load_config(small_config, ['scenarios.basket.reference.cross_checks=["fd"]'])
    assert load_config(small_config, ['scenarios.basket.reference.cross_checks=[]'])


def test_params_file_entry_without_an_id_says_so(small_config, tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({"scenarios": [{"id": "bs"}, {"model": {"vol": 0.3}}]}))
    with pytest.raises(ConfigError, match=r"^parameters file: scenarios\[1\] has no 'id'; each "
                                          r"entry names the scenario it changes, one of "
                                          r"\['bs', 'basket'\]$"):
        load_config(small_config, params=params)
    params.write_text(yaml.safe_dump({"scenarios": [{"id": [1, 2], "model": {"vol": 0.3}}]}))
    with pytest.raises(ConfigError, match=r"^parameters file: scenarios\[0\]\.id must be a "
                                          r"scenario id \(a string\), one of \['bs', 'basket'\]; "
                                          r"got \[1, 2\]$"):
        load_config(small_config, params=params)
    raw = yaml.safe_load(small_config.read_text())
    raw["scenarios"][1]["id"] = ["x"]
    small_config.write_text(yaml.safe_dump(raw))
    params.write_text(yaml.safe_dump({"scenarios": [{"id": "bs", "model": {"vol": 0.3}}]}))
    with pytest.raises(ConfigError, match=r"^scenarios\[1\]\.id must be a scenario id \(a "
                                          r"string\); got \['x'\]$"):
        load_config(small_config, params=params)


def test_a_set_value_that_yaml_refuses_is_an_error_not_text(small_config):
    """Text that is not YAML stays text (a label with a colon), but YAML that parses and is
    refused (recursive alias, duplicate key, unsafe tag) says why instead of becoming a
    string that a later check misreports."""
    cfg = load_config(small_config, ["scenarios.bs.label=a: b: c"])
    assert cfg.scenario("bs").label == "a: b: c"
    for value, why in (("{vol: &a [*a]}", "a recursive alias"),
                       ("{vol: 0.2, vol: 0.3}", "duplicate key 'vol'"),
                       ("!!python/object:os.system {}", "could not determine a constructor")):
        with pytest.raises(ConfigError, match=rf"^--set value .*: {why}"):
            load_config(small_config, [f"scenarios.bs.model={value}"])


def test_set_reaches_a_scenario_whose_id_holds_dots():
    raw = {"scenarios": [{"id": "bs", "model": {"vol": 0.2}},
                         {"id": "bs.v2", "model": {"vol": 0.2}}]}
    apply_override(raw, "scenarios.bs.v2.model.vol=0.3")
    apply_override(raw, "scenarios.bs.model.vol=0.25")
    assert [s["model"]["vol"] for s in raw["scenarios"]] == [0.25, 0.3]
    with pytest.raises(ConfigError, match=r"no scenario 'bs' under scenarios; known ids: "
                                          r"\['bs.v2'\]"):
        apply_override({"scenarios": [{"id": "bs.v2"}]}, "scenarios.bs.v3.model.vol=0.3")
