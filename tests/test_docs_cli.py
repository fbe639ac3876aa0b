"""Every ``diffml`` command line the documentation shows names real sub-commands and options.

The lines are those of code blocks that start with ``diffml `` and the inline code spans
```diffml ...``` of README.md and docs/**/*.md. Each is resolved against the CLI's own command
tree (``typer.main.get_command``): a word that is not an option must be a sub-command where the
command has sub-commands, and every ``--option`` must be one the command accepts. ``a | b`` lists
alternatives of the same command group (``diffml datasets ls | show DIR``). Nothing runs, so a
renamed command or option is caught in milliseconds.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from pipeline.cli import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_INLINE = re.compile(r"`(diffml(?: [^`]*)?)`")


def command_lines() -> list[tuple[str, str]]:
    """(``page:line``, command) for every diffml command line of the pages."""
    out = []
    for page in PAGES:
        in_block = False
        for i, line in enumerate(page.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("```"):
                in_block = not in_block
                continue
            where = f"{page.relative_to(ROOT)}:{i}"
            if in_block:
                if stripped.startswith("diffml "):
                    out.append((where, stripped))
            else:
                out.extend((where, m.group(1)) for m in _INLINE.finditer(line))
    return out


def _options(cmd) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}


def _is_group(cmd) -> bool:
    """A command with sub-commands (typer vendors its own click, so no isinstance test)."""
    return isinstance(getattr(cmd, "commands", None), dict)


def check(line: str, root) -> list[str]:
    """Problems of one command line (empty when every word resolves)."""
    problems: list[str] = []
    words = shlex.split(line, comments=True)[1:]
    cmd = group = root
    for word in words:
        word = word.strip("[]")
        if word == "|":  # an alternative: a sub-command of the same group follows
            cmd = group
        elif word.startswith("--") or (word.startswith("-") and len(word) == 2):
            name = word.split("=", 1)[0]
            if name not in _options(cmd):
                problems.append(f"{cmd.name or 'diffml'} has no option {name}")
        elif _is_group(cmd):
            sub = cmd.commands.get(word)
            if sub is None:
                problems.append(f"{cmd.name or 'diffml'} has no sub-command {word!r}")
                break
            if _is_group(sub):
                group = sub
            cmd = sub
    return problems


LINES = command_lines()


def test_the_pages_show_command_lines() -> None:
    """The collector finds the CLI section's lines (a broken collector would pass everything)."""
    assert len(LINES) > 20
    shown = {c for _, c in LINES}
    assert "diffml validate configs/nightly.yaml" in {c.split("#")[0].strip() for c in shown}


@pytest.mark.parametrize("where,line", LINES, ids=[w for w, _ in LINES])
def test_command_line_resolves(where: str, line: str) -> None:
    root = typer.main.get_command(app)
    assert _is_group(root)
    assert check(line, root) == [], f"{where}: {line}"


def test_the_checker_catches_a_wrong_command_and_option() -> None:
    root = typer.main.get_command(app)
    assert check("diffml run configs/nightly.yaml --set a=1", root) == []
    assert check("diffml datasets ls [--config C] | show DIR | verify DIR", root) == []
    assert check("diffml rerun configs/nightly.yaml", root) == ["diffml has no sub-command 'rerun'"]
    assert check("diffml run c.yaml --workers 2", root) == ["run has no option --workers"]
    assert check("diffml datasets ls | purge DIR", root) == ["datasets has no sub-command 'purge'"]
