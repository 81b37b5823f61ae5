"""Every code block of migration_guide/*.md, executed.

Rules (documented in migration_guide/README.md):

- A fenced ```python block is a complete program, run in a subprocess with
  the repository and shims/ on PYTHONPATH; it must exit 0 within the time
  limit, with no traceback and no ResourceWarning on stderr. Complete
  programs check themselves (a server on port 0 and its client in one
  program, asserting what comes back).
- ``<!-- fragment -->`` on the line before the fence marks a block that is
  not run (a piece of a program, or a command with side effects).
- ``<!-- compat-run -->`` on the line before the fence runs the program with
  ``python -m compat run`` instead of ``python``.
- A fenced ```sh block is run line by line from the repository root: every
  line starting with ``python -m compat`` must exit 0 (``python`` is the
  interpreter running the tests). Other lines are not run.
"""
import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "migration_guide"
TIMEOUT = 30

FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*([\w-]+)\s*-->\s*$")


class Block(NamedTuple):
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    markers: frozenset
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"


def extract(path: Path) -> List[Block]:
    """The fenced blocks of one Markdown file, with the markers just above them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        markers = set()
        j = i - 1
        while j >= 0 and MARKER.match(lines[j]):
            markers.add(MARKER.match(lines[j]).group(1))
            j -= 1
        start = i
        i += 1
        body = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{path.name}:{start + 1}: unclosed code fence")
        blocks.append(Block(path, start + 1, match.group(1), frozenset(markers), "\n".join(body) + "\n"))
        i += 1
    return blocks


def all_blocks() -> List[Block]:
    blocks = []
    for path in sorted(GUIDE.glob("*.md")):
        blocks.extend(extract(path))
    return blocks


BLOCKS = all_blocks()
KNOWN_MARKERS = {"fragment", "compat-run"}
PYTHON = [b for b in BLOCKS if b.lang == "python" and "fragment" not in b.markers]
SHELL = [b for b in BLOCKS if b.lang == "sh" and "fragment" not in b.markers]


def child_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "shims")])
    env.pop("PYTHONWARNINGS", None)
    return env


def check_clean(result: "subprocess.CompletedProcess[str]", what: str) -> None:
    assert result.returncode == 0, f"{what} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr, f"{what}:\n{result.stderr}"
    assert "ResourceWarning" not in result.stderr, f"{what}:\n{result.stderr}"


def test_guide_has_chapters_and_programs() -> None:
    chapters = sorted(p.name for p in GUIDE.glob("[0-9][0-9]-*.md"))
    assert len(chapters) == 10, chapters
    assert PYTHON, "no complete program found in the guide"


def test_markers_are_known() -> None:
    for block in BLOCKS:
        assert block.markers <= KNOWN_MARKERS, f"{block.id}: unknown marker {set(block.markers) - KNOWN_MARKERS}"
        assert block.lang in ("python", "sh", "text", ""), f"{block.id}: fence language {block.lang!r}"


def test_every_python_block_compiles() -> None:
    # Fragments too: a fragment that is not even Python is a typo. A
    # fragment may be the body of a coroutine, so top-level await is allowed.
    for block in BLOCKS:
        if block.lang == "python":
            flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if "fragment" in block.markers else 0
            try:
                compile(block.code, block.id, "exec", flags=flags)
            except SyntaxError as exc:
                pytest.fail(f"{block.id}: {exc}")


@pytest.mark.timeout(TIMEOUT + 10)
@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_program(block: Block, tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(block.code, encoding="utf-8")
    argv = [sys.executable, "-W", "always::ResourceWarning"]
    if "compat-run" in block.markers:
        argv += ["-m", "compat", "run"]
    result = subprocess.run(
        argv + [str(script)],
        cwd=str(tmp_path),
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    check_clean(result, block.id)


@pytest.mark.timeout(TIMEOUT + 10)
@pytest.mark.parametrize("block", SHELL, ids=[b.id for b in SHELL])
def test_shell(block: Block) -> None:
    commands = [line.strip() for line in block.code.splitlines() if line.strip().startswith("python -m compat")]
    assert commands, f"{block.id}: a runnable sh block without a `python -m compat` line (mark it <!-- fragment -->)"
    for command in commands:
        argv = shlex.split(command.split(" #")[0])
        argv[0] = sys.executable
        result = subprocess.run(
            argv, cwd=str(ROOT), env=child_env(), capture_output=True, text=True, timeout=TIMEOUT
        )
        check_clean(result, f"{block.id}: {command}")
