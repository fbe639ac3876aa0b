"""The GPU check's tooling that runs without a device: the JUnit summary, and the committed
device results it produced."""

from __future__ import annotations

import json
import pathlib

from benchmarks import gpu_tests_summary

RESULTS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "results"

XML = """<?xml version="1.0"?>
<testsuites><testsuite name="pytest">
<testcase classname="t.m" name="test_a[x]" time="1.5"><properties>
<property name="y_agreement" value="{&quot;share_off&quot;: 0.0}"/></properties></testcase>
<testcase classname="t.m" name="test_b" time="0.1"><failure message="boom">x</failure></testcase>
<testcase classname="t.m" name="test_c" time="0.0"><skipped message="no device"/></testcase>
</testsuite></testsuites>"""


def test_summary_reads_outcomes_and_recorded_properties(tmp_path):
    first = tmp_path / "a.xml"
    first.write_text(XML)
    tests = gpu_tests_summary.read(first)
    assert tests["t.m::test_a[x]"] == {"outcome": "passed", "seconds": 1.5, "run_started": None,
                                       "y_agreement": {"share_off": 0.0}}
    assert tests["t.m::test_b"]["outcome"] == "failed"
    assert tests["t.m::test_c"]["outcome"] == "skipped"


def test_a_rerun_replaces_the_earlier_result_and_keeps_it(tmp_path, monkeypatch):
    first, rerun, out = tmp_path / "a.xml", tmp_path / "b.xml", tmp_path / "s.json"
    first.write_text(XML)
    rerun.write_text(XML.replace('<failure message="boom">x</failure>', ""))
    monkeypatch.setattr("sys.argv", ["s", str(first), str(rerun), "--out", str(out)])
    gpu_tests_summary.main()
    summary = json.loads(out.read_text())
    assert summary["counts"] == {"passed": 2, "failed": 0, "error": 0, "skipped": 1}
    assert [e["outcome"] for e in summary["tests"]["t.m::test_b"]["earlier"]] == ["failed"]


def test_a_step_that_left_no_file_is_named_and_the_rest_summarised(tmp_path, monkeypatch,
                                                                    capsys):
    """gpu.py or a test step that failed or timed out leaves no gpu.json or XML: the summary
    keeps the other steps' results and lists what is missing (it used to raise and lose all)."""
    first, out = tmp_path / "a.xml", tmp_path / "s.json"
    first.write_text(XML)
    gone_xml, gone_machine = tmp_path / "ptx.xml", tmp_path / "gpu.json"
    monkeypatch.setattr("sys.argv", ["s", str(first), str(gone_xml), "--machine",
                                     str(gone_machine), "--out", str(out)])
    gpu_tests_summary.main()
    summary = json.loads(out.read_text())
    assert summary["counts"] == {"passed": 1, "failed": 1, "error": 0, "skipped": 1}
    assert summary["missing_files"] == [str(gone_xml), str(gone_machine)]
    assert summary["machine"] is None
    assert f"missing (its step failed or timed out): {gone_xml}" in capsys.readouterr().err


def test_committed_device_results_are_complete_and_passing():
    """The device run recorded in benchmarks/results: every model/product case passed on at
    least 1e6 paths, and the training hand-off moved no data to the host."""
    summary = json.loads((RESULTS / "gpu_tests.json").read_text())
    assert summary["machine"]["gpu"].startswith("NVIDIA")
    assert summary["counts"]["failed"] == summary["counts"]["error"] == 0
    from tests.simulators._gpu_sim_cases import cases

    for name, *_ in cases():
        t = summary["tests"][f"tests.simulators.test_gpu::test_gpu_matches_cpu_on_a_device[{name}]"]
        assert t["outcome"] == "passed" and t["y_agreement"]["paths"] >= 1_000_000, name
    d2h = summary["tests"]["tests.training.test_regressor_gpu::"
                           "test_fit_on_device_data_moves_no_data_to_the_host"]["device_to_host"]
    assert d2h["bytes"] < d2h["data_bytes"] / 100


def test_only_bandwidth_floors_scale_with_the_card():
    """An H100 with 1.66× less copy bandwidth than an H200: a bandwidth floor grows by 1.66, an
    arithmetic one (float64 operations, the same rate on both) does not."""
    import pytest

    from benchmarks import gpu
    bw = gpu.floor_fields(2e-3, 1e-3, "bandwidth", 1.66)
    assert bw["floor_s"] == pytest.approx(1.66e-3) and bw["ratio_to_floor"] == pytest.approx(
        2 / 1.66) and bw["ratio_to_h200_floor"] == pytest.approx(2.0)
    ar = gpu.floor_fields(0.2, 0.05, "arithmetic", 1.66)
    assert ar["floor_s"] == 0.05 and ar["ratio_to_floor"] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="floor kind must be one of"):
        gpu.floor_fields(1.0, 1.0, "latency", 1.0)
