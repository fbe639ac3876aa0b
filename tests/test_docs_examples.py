"""Every Python example of the documentation runs, and prints what the page says it prints.

Examples are the ```` ```python ```` blocks of README.md and docs/**/*.md, and the ``>>>``
examples of the packages' docstrings (doctest). A markdown block may be preceded, on the line
just before its opening fence, by one HTML comment (invisible on the rendered page):

* ``<!-- example: skip (reason) -->``: not run; the reason is shown in the test report;
* ``<!-- example: slow -->``: run only with ``-m slow`` (it takes more than a few seconds);
* ``<!-- example: gpu -->``: run only with ``-m gpu``, and skipped without a CUDA device;
* ``<!-- example: continue -->``: runs in the namespace left by the previous Python block of
  the same page (which then runs first when this one is selected alone).

A statement with a ``# prints: TEXT`` comment, at the end of one of its lines or on a comment line
before the next statement, must write exactly TEXT to stdout, up to whitespace (runs of spaces
and newlines compare equal); ``...`` in TEXT matches anything. Other statements may print
freely. Each example runs in its own temporary working directory, so
relative paths such as ``datasets`` or ``runs/...`` land there.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import importlib
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PACKAGES = ("simulators", "data", "training", "evaluation", "pipeline")

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*example:\s*(?P<kind>skip|slow|gpu|continue)\b\s*(?P<rest>.*?)-->\s*$")
_PRINTS = re.compile(r"#\s*prints:\s?(?P<text>.*)$")


@dataclass
class Example:
    page: Path
    line: int  # 1-based line of the opening fence
    code: str
    marker: str | None  # skip / slow / gpu / continue
    reason: str
    previous: Example | None  # the page's previous Python block

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def extract(page: Path) -> list[Example]:
    """The ```python blocks of a markdown page, with their markers."""
    lines = page.read_text().splitlines()
    out: list[Example] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or not m["lang"]:
            if m:  # an unlabelled fence: skip to its end
                i += 1
                while i < len(lines) and not _FENCE.match(lines[i]):
                    i += 1
            i += 1
            continue
        start, indent = i, len(m["indent"])
        i += 1
        body = []
        while i < len(lines) and not _FENCE.match(lines[i]):
            body.append(lines[i][indent:])
            i += 1
        i += 1
        if m["lang"] not in ("python", "py"):
            continue
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        mk = _MARKER.match(lines[j]) if j >= 0 else None
        out.append(Example(page, start + 1, "\n".join(body) + "\n", mk["kind"] if mk else None,
                           mk["rest"].strip(" ()") if mk else "", out[-1] if out else None))
    return out


EXAMPLES = [e for page in PAGES for e in extract(page)]


def _matches(expected: str, got: str) -> bool:
    norm = [" ".join(s.split()) for s in (expected, got)]
    pattern = ".*".join(re.escape(part) for part in norm[0].split("..."))
    return re.fullmatch(pattern, norm[1], flags=re.DOTALL) is not None


def _expected_outputs(code: str) -> dict[int, str]:
    """Line number -> the TEXT of its ``# prints: TEXT`` comment."""
    found = {}
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT and (m := _PRINTS.search(tok.string)):
            found[tok.start[0]] = m["text"].strip()
    return found


def run_example(code: str, namespace: dict, where: str) -> None:
    """Run ``code`` statement by statement in ``namespace``, checking ``# prints:`` comments."""
    tree = ast.parse(code, filename=where)
    expected = _expected_outputs(code)
    ends = [stmt.lineno - 1 for stmt in tree.body[1:]] + [len(code.splitlines())]
    for stmt, last in zip(tree.body, ends, strict=True):
        # the statement's own lines, then the comment lines up to the next statement
        want = [expected.pop(n) for n in range(stmt.lineno, last + 1) if n in expected]
        if len(want) > 1:
            raise AssertionError(f"{where}, line {stmt.lineno}: one '# prints:' per statement")
        buf = io.StringIO()
        module = ast.Module(body=[stmt], type_ignores=[])
        with contextlib.redirect_stdout(buf):
            exec(compile(module, where, "exec"), namespace)  # noqa: S102
        if want and not _matches(want[0], buf.getvalue()):
            raise AssertionError(
                f"{where}, line {stmt.lineno}: printed {buf.getvalue().strip()!r}, "
                f"the page says {want[0]!r}")
    if expected:
        lines = ", ".join(map(str, expected))
        raise AssertionError(f"{where}: '# prints:' before the first statement, line(s) {lines}")


_NAMESPACES: dict[str, dict] = {}


def _namespace_after(example: Example) -> dict:
    """The namespace left by ``example`` (running it, and what it continues, if needed)."""
    if example.id not in _NAMESPACES:
        if example.marker == "continue":
            if example.previous is None:
                raise AssertionError(f"{example.id}: 'continue' on a page's first Python block")
            ns = _namespace_after(example.previous)
        else:
            ns = {"__name__": "__main__"}
        run_example(example.code, ns, example.id)
        _NAMESPACES[example.id] = ns
    return _NAMESPACES[example.id]


def _root_of(example: Example) -> Example:
    while example.marker == "continue" and example.previous is not None:
        example = example.previous
    return example


def _params():
    for e in EXAMPLES:
        root = _root_of(e)
        marks = []
        if root.marker == "slow" or e.marker == "slow":
            marks.append(pytest.mark.slow)
        if root.marker == "gpu" or e.marker == "gpu":
            marks.append(pytest.mark.gpu)
        if root.marker == "skip" or e.marker == "skip":
            reason = e.reason if e.marker == "skip" else root.reason
            marks.append(pytest.mark.skip(reason=reason or "marked skip"))
        yield pytest.param(e, id=e.id, marks=marks)


@pytest.fixture
def one_torch_thread():
    """Fits run on one torch thread, as in the benchmarks: on a busy 2-core machine torch's
    default of one thread per core makes each step many times slower."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("example", list(_params()))
def test_markdown_example(example: Example, tmp_path_factory, monkeypatch,
                          one_torch_thread) -> None:
    if _root_of(example).marker == "gpu":
        cuda = pytest.importorskip("numba.cuda")
        if not cuda.is_available():
            pytest.skip("no CUDA device")
    # one working directory per chain of blocks that continue each other
    monkeypatch.chdir(_workdir(_root_of(example), tmp_path_factory))
    _namespace_after(example)


_WORKDIRS: dict[str, Path] = {}


def _workdir(root: Example, factory) -> Path:
    if root.id not in _WORKDIRS:
        _WORKDIRS[root.id] = factory.mktemp("example")
    return _WORKDIRS[root.id]


def test_markers_are_known() -> None:
    """A misspelt marker would silently run (or not skip) a block: refuse any unknown one."""
    for page in PAGES:
        for n, line in enumerate(page.read_text().splitlines(), 1):
            if re.match(r"^\s*<!--\s*example\b", line):
                assert _MARKER.match(line), f"{page.relative_to(ROOT)}:{n}: unknown marker {line!r}"


def test_pages_have_examples() -> None:
    """The extractor finds the documented examples (guards against a broken fence regex)."""
    assert len(EXAMPLES) >= 10
    assert any(e.page.name == "README.md" for e in EXAMPLES)


# ------------------------------------------------------------------------------------------------
# docstring examples (>>>)


def _modules_with_doctests() -> list[str]:
    names = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if ">>>" in path.read_text():
                rel = path.relative_to(ROOT).with_suffix("")
                parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
                names.append(".".join(parts))
    return names


@pytest.mark.parametrize("module", _modules_with_doctests())
def test_docstring_examples(module: str, monkeypatch, tmp_path, one_torch_thread) -> None:
    monkeypatch.chdir(tmp_path)
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(mod, module) if t.examples]
    assert tests, f"{module}: '>>>' in the source but no doctest found"
    out = io.StringIO()
    for t in tests:
        runner.run(t, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, out.getvalue()


def test_prints_comments_are_checked() -> None:
    run_example("print(1 + 1)  # prints: 2\nprint('a  b\\nc')\n# prints: a b c\n", {}, "ok")
    with pytest.raises(AssertionError, match="printed '3', the page says '2'"):
        run_example("print(1 + 2)  # prints: 2\n", {}, "wrong")
    with pytest.raises(AssertionError, match="printed ''"):
        run_example("x = 1  # prints: 1\n", {}, "silent")
    run_example("print('datasets/bs-1f0c')  # prints: datasets/bs-...\n", {}, "ellipsis")
