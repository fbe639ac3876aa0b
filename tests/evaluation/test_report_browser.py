"""report.html in a real browser: headless Chromium loads it offline, renders every image, logs
nothing to the console. Skipped when no Chromium is installed (``apt-get install chromium``),
except under ``DIFFML_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs it), where a
missing browser fails the tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from evaluation.report import build_report
from tests.evaluation.report_fixture import make_history

BROWSER = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                if p), None)
REQUIRED = os.environ.get("DIFFML_REQUIRE_BROWSER") == "1"
pytestmark = pytest.mark.skipif(BROWSER is None and not REQUIRED,
                                reason="Chromium is not installed")


@pytest.fixture(autouse=True)
def _require_browser() -> None:
    if BROWSER is None and REQUIRED:
        pytest.fail("DIFFML_REQUIRE_BROWSER=1 but no Chromium is installed (.ci/run installs "
                    "it with apt-get install chromium)")

CHECK = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0
                                    && i.getBoundingClientRect().width > 0)).length;
  const svgs = [...document.querySelectorAll("svg")];
  const svgBad = svgs.filter(s => s.getBoundingClientRect().width === 0).length;
  const out = document.createElement("pre");
  out.id = "diffml-check";
  out.textContent = JSON.stringify({images: imgs.length, broken: broken, svgs: svgs.length,
                                    svg_bad: svgBad, scripts: document.scripts.length});
  document.body.appendChild(out);
});
</script>"""


def chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on a local file, no network, console logged to stderr."""
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-extensions", "--no-first-run",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=10000", *extra, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def with_check(html: str) -> str:
    """The page with the checking script allowed by its CSP and appended to the body."""
    html = html.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    return html.replace("</body>", CHECK + "</body>")


def check_result(dom: str) -> dict:
    m = re.search(r'<pre id="diffml-check">(.*?)</pre>', dom, re.S)
    assert m, dom[-2000:]
    return json.loads(m.group(1).replace("&quot;", '"'))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = make_history(tmp_path_factory.mktemp("browser"), (1.0, 2.0))
    return build_report(runs[-1])


def test_check_detects_broken_images_and_console_errors(tmp_path: Path) -> None:
    """Negative control: the harness sees a broken image and a console message."""
    page = tmp_path / "bad.html"
    page.write_text(with_check(
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
        "content=\"default-src 'none'; img-src data:\"></head><body>"
        '<img src="data:image/png;base64,AAAA"><script>console.error("boom")</script>'
        "</body></html>"))
    res = chromium(page, tmp_path / "profile", "--dump-dom")
    r = check_result(res.stdout)
    assert r["images"] == 1 and r["broken"] == 1
    assert any("boom" in line for line in console_messages(res.stderr)), res.stderr[-3000:]


def test_report_loads_clean(report: Path, tmp_path: Path) -> None:
    # the page as shipped: renders (screenshot) with no console output (CSP violations, errors)
    shot = tmp_path / "report.png"
    res = chromium(report, tmp_path / "p1", "--hide-scrollbars", "--window-size=1280,2400",
                   f"--screenshot={shot}")
    assert res.returncode == 0, res.stderr[-3000:]
    assert console_messages(res.stderr) == [], console_messages(res.stderr)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a blank page compresses to a few kB

    # every image decoded and laid out, sparklines drawn, no script of its own
    checked = tmp_path / "checked.html"
    checked.write_text(with_check(report.read_text(encoding="utf-8")), encoding="utf-8")
    res = chromium(checked, tmp_path / "p2", "--dump-dom")
    assert res.returncode == 0, res.stderr[-3000:]
    assert console_messages(res.stderr) == [], console_messages(res.stderr)
    assert "diffml evaluation report: nightly" in res.stdout
    r = check_result(res.stdout)
    assert r == {"images": 8, "broken": 0, "svgs": 2, "svg_bad": 0, "scripts": 1}
