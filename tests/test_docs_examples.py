"""Every ```python block of README.md and docs/*.md runs as written against a simulator.

The conventions the documents follow:

- A ```python block is a complete program. It is written to a file and run
  with this interpreter as a subprocess, against a fresh simulator this test
  starts, with ``FXSOCKET_API_KEY``, ``FXSOCKET_BASE_URL`` and
  ``FXSOCKET_WS_URL`` in its environment (so ``AsyncFxSocket()`` finds it).
  It passes when it exits with 0 within ``RUN_TIMEOUT`` seconds.
- A block whose first line is a comment naming a pytest file
  (``# test_my_bot.py ...``) is a user's test module: it is run with pytest,
  in a directory of its own. The README's plugin example is also the file
  ``tests/plugin/example_pytest_asyncio.py`` (checked here), which
  ``tests/plugin/`` runs under each async plugin and mode.
- What cannot run against a simulator (shell commands, output shown,
  trees) is not in a ```python block: ```sh, ```text or a bare ```.
- ``NOT_YET_RUNNABLE`` names, by document and heading, the blocks known not
  to run as written yet. They are expected to fail (strict xfail): once one
  runs, its test fails until its entry is removed here.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from fxsocket_async.simulator import ApiKey, Simulator, SimulatorConfig

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_TIMEOUT = 40.0
API_KEY = "docs-example-key"

#: (document, heading) of the blocks that do not run as written yet; a heading
#: matches when it starts with the text given here.
NOT_YET_RUNNABLE: set[tuple[str, str]] = set()

FENCE = re.compile(r"^(`{3,})(\S*)\s*$")
TEST_FILE = re.compile(r"^#\s*(test_\w+\.py)\b")


@dataclass(frozen=True)
class Block:
    document: str
    heading: str
    line: int
    code: str

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"

    @property
    def test_file(self) -> str | None:
        """The file name a user's pytest module is saved as, or None for a program."""
        match = TEST_FILE.match(self.code)
        return match.group(1) if match else None


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a Markdown file, each with the heading it sits under."""
    blocks: list[Block] = []
    heading = ""
    fence: str | None = None
    language = ""
    start = 0
    lines: list[str] = []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        match = FENCE.match(text)
        if fence is None:
            if match:
                fence, language, start, lines = match.group(1), match.group(2), number, []
            elif text.startswith("#"):
                heading = text.lstrip("#").strip()
        elif match and match.group(1) == fence and not match.group(2):
            if language == "python":
                document = path.relative_to(ROOT).as_posix()
                blocks.append(Block(document, heading, start, "\n".join(lines) + "\n"))
            fence = None
        else:
            lines.append(text)
    assert fence is None, f"{path}: a code block opened at line {start} is never closed"
    return blocks


BLOCKS = [block for path in DOCUMENTS for block in python_blocks(path)]


def _known_broken(block: Block) -> bool:
    return any(
        block.document == document and block.heading.startswith(heading)
        for document, heading in NOT_YET_RUNNABLE
    )


def _params() -> list[object]:
    return [
        pytest.param(
            block,
            id=block.id,
            marks=[pytest.mark.xfail(reason="not runnable as written yet", strict=True)]
            if _known_broken(block)
            else [],
        )
        for block in BLOCKS
    ]


def test_the_documents_have_examples_and_every_mark_names_one() -> None:
    assert len(BLOCKS) >= 5
    for document, heading in NOT_YET_RUNNABLE:
        assert any(b.document == document and b.heading.startswith(heading) for b in BLOCKS), (
            f"NOT_YET_RUNNABLE names no block: {document} / {heading}; remove it"
        )


def test_the_readme_shows_the_plugin_example_that_ci_runs() -> None:
    example = (ROOT / "tests" / "plugin" / "example_pytest_asyncio.py").read_text()
    assert any(b.document == "README.md" and b.code == example for b in BLOCKS)


@pytest.mark.anyio
@pytest.mark.timeout(RUN_TIMEOUT + 15)
@pytest.mark.parametrize("block", _params())
async def test_example_runs_as_written(block: Block, tmp_path: Path) -> None:
    config = SimulatorConfig(api_keys=(ApiKey(API_KEY),), provision_delay=0.1)
    async with Simulator(config) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FXSOCKET_")}
        env.update(
            FXSOCKET_API_KEY=API_KEY,
            FXSOCKET_BASE_URL=sim.base_url,
            FXSOCKET_WS_URL=sim.ws_url,
            PYTHONUNBUFFERED="1",
        )
        if block.test_file is None:
            script = tmp_path / "example.py"
            command = [sys.executable, str(script)]
        else:
            script = tmp_path / block.test_file
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", script.name]
        script.write_text(block.code)
        with anyio.fail_after(RUN_TIMEOUT):
            result = await anyio.run_process(command, cwd=tmp_path, env=env, check=False)
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 0, f"{block.id} ({block.heading}) failed:\n{block.code}\n{output}"
