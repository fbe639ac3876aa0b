"""The benchmark pages and tables of the docs match benchmarks/results/*.json."""

from benchmarks import docs


def test_generated_docs_are_up_to_date() -> None:
    stale = [str(p.relative_to(docs.ROOT)) for p, text in docs.render().items()
             if not p.exists() or p.read_text() != text]
    assert not stale, f"out of date (run `python -m benchmarks.docs`): {stale}"


def test_pages_state_machine_and_date() -> None:
    for path, text in docs.render().items():
        if path.parent.name == "benchmarks":
            assert "Measured by `python benchmarks/" in text, path
            assert " UTC" in text and "cores" in text, path
