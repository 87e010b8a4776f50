"""Every code block of README.md runs (python), parses (yaml) or names real commands (bash, console).

Blocks are found by their fences, so an edit anywhere in the README is covered without touching
this file. Each block is its own test, named ``README.md:<line>`` after the line of its opening
fence; a python block runs with the repository as the working directory, and a traceback points
at the README's own line numbers. Python blocks with ``>>>`` are doctests (output compared, with
whitespace normalised); other python blocks are executed, and any ``test_*`` function they define
is called. Text blocks (no language, ``text``) are output and are not run.
"""

from __future__ import annotations

import doctest
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from .conftest import REPO

README = REPO / "README.md"
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    """One fenced code block: its language, its text and the line of its opening fence."""

    lang: str
    body: str
    line: int

    def __str__(self) -> str:
        return f"README.md:{self.line}"


def readme_blocks() -> list[Block]:
    """The fenced code blocks of README.md, in order."""
    text = README.read_text(encoding="utf-8")
    return [
        Block(match["lang"], match["body"], text.count("\n", 0, match.start()) + 1)
        for match in _FENCE.finditer(text)
    ]


BLOCKS = readme_blocks()
PYTHON = [block for block in BLOCKS if block.lang == "python"]
YAML = [block for block in BLOCKS if block.lang == "yaml"]
SHELL = [block for block in BLOCKS if block.lang in ("bash", "console", "sh")]


def test_readme_blocks_are_found() -> None:
    """The fence parser finds the README's python, yaml and shell blocks (a parser bug is no pass)."""
    assert len(PYTHON) >= 6
    assert YAML
    assert SHELL
    assert all(block.body.strip() for block in BLOCKS)


@pytest.mark.parametrize("block", PYTHON, ids=str)
def test_python_block_runs(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """A python block of the README runs as written (doctest output compared, tests called)."""
    monkeypatch.chdir(REPO)
    namespace: dict[str, Any] = {"__name__": f"readme_line_{block.line}"}
    if ">>>" in block.body:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(block.body, namespace, str(block), str(README), block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        output: list[str] = []
        runner.run(test, out=output.append)
        assert runner.failures == 0, f"{block}: doctest failed\n" + "".join(output)
        assert runner.tries > 0
        return
    # Leading newlines make a traceback's line numbers the README's own.
    code = compile("\n" * block.line + block.body, str(README), "exec")
    exec(code, namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()


@pytest.mark.parametrize("block", YAML, ids=str)
def test_yaml_block_parses(block: Block) -> None:
    """A yaml block of the README is valid YAML with content."""
    assert yaml.safe_load(block.body) is not None, f"{block}: empty YAML"


def _commands(block: Block) -> list[list[str]]:
    """The commands of a shell block: one per line (``$ `` prompts removed), split at ``&&``."""
    found: list[list[str]] = []
    for raw in block.body.splitlines():
        line = raw.removeprefix("$ ").strip()
        if block.lang == "console" and not raw.startswith("$ "):
            continue  # output
        if not line or line.startswith("#"):
            continue
        found += [shlex.split(part) for part in line.split("&&")]
    return found


def _extras() -> set[str]:
    """The names of pyproject.toml's optional dependencies (tomllib is 3.11+: read the section)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^([A-Za-z][\w-]*) = \[", section, re.M))


def _subcommands() -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "referral_engine", "--help"], capture_output=True, text=True, check=False
    )
    return set(re.findall(r"\b(demo|recommend|check|diff|[a-z]+)\b", result.stdout))


@pytest.mark.parametrize("block", SHELL, ids=str)
def test_shell_block_names_real_commands_and_extras(block: Block) -> None:
    """Every referral-engine subcommand a shell block uses exists, and every extra it installs too."""
    extras = _extras()
    subcommands = _subcommands()
    for words in _commands(block):
        words = [word for word in words if "=" not in word or word.startswith("-")]  # env assignments
        if words[:1] == ["referral-engine"] and len(words) > 1 and not words[1].startswith("-"):
            assert words[1] in subcommands, f"{block}: no subcommand {words[1]!r}"
        if words[:2] == ["pip", "install"]:
            for word in words[2:]:
                for extra in re.findall(r"\[([\w,-]+)\]", word):
                    assert set(extra.split(",")) <= extras, f"{block}: no extra {extra!r}"


def test_pytest_doctest_glob_runs_the_readme() -> None:
    """`pytest --doctest-glob='*.md' README.md` passes: the README's sessions are plain doctests."""
    options = ["-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts="]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *options, "--doctest-glob=*.md", "README.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
