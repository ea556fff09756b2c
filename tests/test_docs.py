"""Every code block in README.md and docs/*.md runs.

Rules for writers of docs:

- ```python blocks run from the repository root, in file order, one namespace per file
  (a later block may use names from an earlier one). Make them standalone and cheap.
- A python block whose first lines hold ``# requires: shared-data`` is skipped when
  ``../shared/data`` is absent; ``# requires: some_module`` skips it when that module
  cannot be imported (an optional extra).
- ```bash blocks: each command line that starts with ``embkit `` or ``python -m embkit``
  runs (in this process, through ``embkit.cli.main``) and must exit with 0; other lines
  (``make demo``, ``pip install``) are shown, not run. Write outputs under
  ``demo-output/`` or ``.cache/`` (both git-ignored).
- Other fences (```text, ```console) are not run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

# Real texts in the docs can be longer than the model's window: the encoders then warn
# once per model (TextTruncatedWarning), which is expected output here, not a failure.
pytestmark = pytest.mark.filterwarnings("default::embkit.TextTruncatedWarning")

ROOT = Path(__file__).resolve().parent.parent
# Same rule as the ``data`` marker in conftest.py.
SHARED_DATA = Path(os.environ.get("EMBKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
DOC_FILES = sorted(p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")] if p.is_file())
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
REQUIRES = re.compile(r"^\s*#\s*requires:\s*(?P<what>[\w.\-]+)\s*$")


@dataclass
class Block:
    lang: str
    code: str
    line: int  # line of the opening fence, 1-based


def extract_blocks(text: str) -> list[Block]:
    """Fenced code blocks with their language and line number (nested fences respected)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, info = match["fence"], match["info"].strip()
        lang = info.split()[0].lower() if info else ""
        body, j = [], i + 1
        while j < len(lines):
            close = FENCE.match(lines[j])
            if (
                close
                and close["fence"].startswith(fence[0] * len(fence))
                and not close["info"].strip()
            ):
                break
            body.append(lines[j])
            j += 1
        blocks.append(Block(lang, "\n".join(body) + "\n", i + 1))
        i = j + 1
    return blocks


def skip_reason(block: Block) -> str | None:
    """Why a python block cannot run here, from its ``# requires:`` comments."""
    for line in block.code.splitlines()[:5]:
        match = REQUIRES.match(line)
        if not match:
            continue
        what = match["what"]
        if what == "shared-data":
            if not SHARED_DATA.is_dir():
                return f"needs {SHARED_DATA}"
        elif importlib.util.find_spec(what) is None:
            return f"needs the optional module {what}"
    return None


def embkit_commands(code: str) -> list[list[str]]:
    """The ``embkit ...``/``python -m embkit ...`` command lines of a bash block, as argv."""
    joined = re.sub(r"\\\n\s*", " ", code)
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["embkit"]:
            commands.append(words[1:])
        elif words[:3] in (["python", "-m", "embkit"], ["python3", "-m", "embkit"]):
            commands.append(words[3:])
    return commands


def test_extract_blocks_and_commands():
    text = (
        "intro\n```python\nx = 1\n```\n\n````markdown\n```python\nnot a block\n```\n````\n"
        "```bash\nembkit compare a.jsonl \\\n  --quiet  # cheap\nmake demo\n"
        "python -m embkit pipelines\n```\n"
    )
    blocks = extract_blocks(text)
    assert [(b.lang, b.line) for b in blocks] == [("python", 2), ("markdown", 6), ("bash", 11)]
    assert blocks[0].code == "x = 1\n"
    assert embkit_commands(blocks[2].code) == [["compare", "a.jsonl", "--quiet"], ["pipelines"]]
    assert skip_reason(Block("python", "# requires: no_such_module_xyz\nx = 1\n", 1))
    assert skip_reason(Block("python", "x = 1\n", 1)) is None


def test_every_guide_is_reachable():
    """Each page in docs/ is in the site's navigation and linked from the README."""
    guides = {p.name for p in (ROOT / "docs").glob("*.md")}
    nav = set(re.findall(r"^\s+- [^:]+: (\S+\.md)$", (ROOT / "mkdocs.yml").read_text(), re.M))
    readme = set(re.findall(r"\(docs/(\S+?\.md)\)", (ROOT / "README.md").read_text()))
    assert {"index.md", "cli.md", "architecture.md"} <= guides
    assert guides == nav, f"not in mkdocs.yml nav: {sorted(guides - nav)}"
    assert guides == readme, f"not linked from README.md: {sorted(guides - readme)}"


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_code_blocks_run(path, monkeypatch, capsys):
    from embkit.cli import main
    from embkit.cli import registry as pipelines

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # ONNX exports and distilled models made by docs examples stay in the git-ignored .cache
    monkeypatch.setenv("EMBKIT_CACHE_DIR", str(ROOT / ".cache"))
    registry = dict(pipelines._REGISTRY)
    monkeypatch.setattr(pipelines, "_REGISTRY", registry)  # docs may register pipelines
    name = path.relative_to(ROOT).as_posix()
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    skipped = []
    for block in extract_blocks(path.read_text(encoding="utf-8")):
        where = f"{name}:{block.line}"
        if block.lang == "python":
            reason = skip_reason(block)
            if reason:
                skipped.append(f"{where} ({reason})")
                continue
            try:
                exec(compile(block.code, where, "exec"), namespace)
            except Exception as exc:
                pytest.fail(f"python block at {where} failed: {type(exc).__name__}: {exc}")
            ran += 1
        elif block.lang in ("bash", "sh", "shell"):
            for argv in embkit_commands(block.code):
                code = main(argv)
                err = capsys.readouterr().err
                assert code == 0, f"`embkit {shlex.join(argv)}` at {where} exited {code}: {err}"
                ran += 1
    if not ran and skipped:
        pytest.skip("every block needs something absent: " + "; ".join(skipped))
    if os.environ.get("EMBKIT_DOCS_VERBOSE"):
        print(f"{name}: {ran} blocks/commands ran, skipped: {skipped}")
