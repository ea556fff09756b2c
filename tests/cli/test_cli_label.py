"""``embkit label``: answers on disk at once, undo, quit and resume; in a real terminal too."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from embkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
N_TEXTS = 30


@pytest.fixture(scope="module")
def texts_file(tmp_path_factory) -> Path:
    lines = (ROOT / "datasets" / "rotten_tomatoes.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("data") / "texts.jsonl"
    path.write_text("\n".join(lines[:N_TEXTS]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("cache"))


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def label(monkeypatch, texts_file, out, cache, keys, *extra):
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(k + "\n" for k in keys)))
    argv = [
        "label",
        str(texts_file),
        "--out",
        str(out),
        "--labels",
        "neg,pos",
        "--cache",
        cache,
        *extra,
    ]
    return main(argv)


def test_label_undo_quit_resume(monkeypatch, capsys, texts_file, cache, tmp_path):
    out = tmp_path / "labels.jsonl"
    texts = [json.loads(line)["text"] for line in texts_file.read_text().splitlines()]
    assert label(monkeypatch, texts_file, out, cache, ["1", "2", "1", "u", "q"]) == 0
    shown = capsys.readouterr().out
    got = records(out)
    assert [r["label"] for r in got] == ["neg", "pos"]
    assert all(texts[r["id"]] == r["text"] for r in got)
    assert len({r["id"] for r in got}) == 2
    assert "undone: label 'neg'" in shown and "quit: 2 labels saved" in shown
    # the undone text is asked again right away
    undone = shown.split("undone: label 'neg' of #")[1].split("\n")[0]
    assert shown.split("undone:")[1].split("\n#")[1].split("\n")[0] == undone

    assert label(monkeypatch, texts_file, out, cache, ["2", "s", "q"]) == 0
    captured = capsys.readouterr()
    assert "resuming: 2 labels and 0 skips" in captured.err
    again = records(out)
    assert again[:2] == got and again[2]["label"] == "pos" and again[3]["skipped"] is True
    assert len({r["id"] for r in again}) == 4


def test_unknown_key_writes_nothing(monkeypatch, capsys, texts_file, cache, tmp_path):
    out = tmp_path / "labels.jsonl"
    assert label(monkeypatch, texts_file, out, cache, ["7", "yes", "q"]) == 0
    shown = capsys.readouterr().out
    assert "unknown key '7': press one of 1, 2, s, u, q" in shown
    assert "unknown key 'yes'" in shown
    assert not out.exists() or records(out) == []


def test_budget_ends_the_session(monkeypatch, capsys, texts_file, cache, tmp_path):
    out = tmp_path / "labels.jsonl"
    assert label(monkeypatch, texts_file, out, cache, ["1", "2", "1", "1"], "--budget", "3") == 0
    assert "budget: 3 labels" in capsys.readouterr().out
    assert len(records(out)) == 3
    # resuming a finished session stops at once
    assert label(monkeypatch, texts_file, out, cache, [], "--budget", "3") == 0
    assert len(records(out)) == 3


def test_unfinished_last_line_is_dropped(monkeypatch, capsys, texts_file, cache, tmp_path):
    out = tmp_path / "labels.jsonl"
    assert label(monkeypatch, texts_file, out, cache, ["1", "q"]) == 0
    with open(out, "a", encoding="utf-8") as fh:
        fh.write('{"id": 3, "text": "cut of')
    assert label(monkeypatch, texts_file, out, cache, ["q"]) == 0
    assert "dropped an unfinished last line" in capsys.readouterr().err
    assert len(records(out)) == 1


def test_a_row_answered_twice_is_named_with_its_lines(
    monkeypatch, capsys, texts_file, cache, tmp_path
):
    """Two sessions on one file: the error named no file or line ("indices holds the same
    row twice", from deep in ActiveLearner)."""
    out = tmp_path / "labels.jsonl"
    assert label(monkeypatch, texts_file, out, cache, ["1", "q"]) == 0
    line = out.read_text(encoding="utf-8")
    out.write_text(line + line, encoding="utf-8")
    assert label(monkeypatch, texts_file, out, cache, ["q"]) == 1
    err = capsys.readouterr().err
    assert f"{out}:2: row" in err and "answered twice (also on line 1)" in err


@pytest.mark.parametrize(
    ("argv_extra", "prepared", "message"),
    [
        (["--labels", "neg"], None, "at least two labels"),
        (["--labels", "neg,,pos"], None, "empty label"),
        (["--labels", "neg,neg"], None, "names a label twice"),
        (["--budget", "31"], None, "--budget 31 is larger than the 30 texts"),
        ([], {"id": 0, "text": "TEXT0", "label": "maybe"}, "label 'maybe' is not among --labels"),
        ([], {"id": 0, "text": "another text", "label": "neg"}, "differs from DATA"),
        ([], {"id": 99, "text": "x", "label": "neg"}, "no valid 'id'"),
        (["--strategy", "smart"], None, "unknown strategy 'smart'"),
    ],
)
def test_bad_input(monkeypatch, capsys, texts_file, cache, tmp_path, argv_extra, prepared, message):
    out = tmp_path / "labels.jsonl"
    if prepared is not None:
        if prepared["text"] == "TEXT0":
            prepared["text"] = json.loads(texts_file.read_text().splitlines()[0])["text"]
        out.write_text(json.dumps(prepared) + "\n", encoding="utf-8")
    before = out.read_bytes() if out.exists() else None
    code = label(monkeypatch, texts_file, out, cache, ["1", "q"], *argv_extra)
    assert code == 1
    assert message in capsys.readouterr().err
    assert (out.read_bytes() if out.exists() else None) == before


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def _wait_for(predicate, timeout: float = 180.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def test_killed_session_loses_no_answer(monkeypatch, capsys, texts_file, cache, tmp_path):
    out = tmp_path / "labels.jsonl"
    command = [
        sys.executable,
        "-m",
        "embkit",
        "label",
        str(texts_file),
        "--out",
        str(out),
        "--labels",
        "neg,pos",
        "--cache",
        cache,
        "--quiet",
    ]
    with open(tmp_path / "screen.txt", "w") as screen:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=screen,
            stderr=subprocess.STDOUT,
            env=_env(),
            text=True,
        )
        try:
            for n, key in enumerate(["2", "1", "2"], start=1):
                proc.stdin.write(key + "\n")
                proc.stdin.flush()
                _wait_for(lambda n=n: _lines(out) == n, what=f"answer {n} on disk")
            proc.send_signal(signal.SIGKILL)  # no chance to clean up
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGKILL
    got = records(out)
    assert [r["label"] for r in got] == ["pos", "neg", "pos"]
    assert label(monkeypatch, texts_file, out, cache, ["q"]) == 0
    assert "resuming: 3 labels" in capsys.readouterr().err
    assert records(out) == got


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_a_real_terminal_with_tmux(texts_file, cache, tmp_path):
    """Single key presses in a tmux pane: label three, undo one, quit, resume."""
    out = tmp_path / "labels.jsonl"
    # One tmux server per start: a new session on a server that is still shutting down
    # after its last session was killed can fail, so the resumed run gets a fresh socket.
    sockets: list[str] = []
    session = "label"

    def tmux(*args: str) -> str:
        done = subprocess.run(["tmux", "-L", sockets[-1], *args], capture_output=True, text=True)
        assert done.returncode == 0, f"tmux {args[0]} failed: {done.stderr.strip()}"
        return done.stdout

    def screen() -> str:
        return tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session)

    def start() -> None:
        sockets.append(f"embkit-test-{uuid.uuid4().hex[:8]}")
        command = (
            f"{sys.executable} -m embkit label {texts_file} --out {out} --labels neg,pos "
            f"--cache {cache}; echo EXITED $?; sleep 60"
        )
        env = [
            f"{k}={v}"
            for k, v in _env().items()
            if k
            in ("PYTHONPATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")
        ]
        tmux(
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "120",
            "-y",
            "50",
            "env",
            *env,
            "sh",
            "-c",
            command,
        )

    def prompts() -> int:
        return screen().count("[s] skip")

    try:
        start()
        _wait_for(lambda: prompts() >= 1, what="the first prompt")
        for n, key in enumerate(["1", "2", "1"], start=1):
            before = prompts()
            tmux("send-keys", "-t", session, key)  # one key, no Enter
            _wait_for(lambda n=n: _lines(out) == n, what=f"answer {n} on disk")
            _wait_for(lambda before=before: prompts() > before, what="the next prompt")
        tmux("send-keys", "-t", session, "u")
        _wait_for(lambda: _lines(out) == 2, what="the undo")
        _wait_for(lambda: "undone: label 'neg'" in screen(), what="the undo message")
        tmux("send-keys", "-t", session, "q")
        _wait_for(lambda: "EXITED 0" in screen(), what="the exit")
        assert "quit: 2 labels saved" in screen()
        assert [r["label"] for r in records(out)] == ["neg", "pos"]
        tmux("kill-session", "-t", session)

        start()
        _wait_for(lambda: prompts() >= 1, what="the resumed prompt")
        assert "resuming: 2 labels and 0 skips" in screen()
        assert "2 labelled" in screen()
        tmux("send-keys", "-t", session, "q")
        _wait_for(lambda: "EXITED 0" in screen(), what="the exit after resuming")
        assert [r["label"] for r in records(out)] == ["neg", "pos"]
    finally:
        for socket in sockets:
            subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
