"""The README's main job and the quickstart example, run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FXSOCKET_")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )


@pytest.mark.timeout(60)
def test_demo_runs_against_the_embedded_simulator() -> None:
    result = _run("-m", "fxsocket_async", "demo")
    assert result.returncode == 0, result.stderr
    assert "embedded simulator" in result.stderr
    lines = result.stdout.splitlines()
    statuses = [line.strip() for line in lines if line.strip().startswith("status:")]
    assert statuses == ["status: connecting", "status: connected"]
    for expected in (
        "[consumer 1] EURUSD",
        "[consumer 1] GBPUSD",
        "[consumer 2] XAUUSD",
        "opened BUY 0.1 EURUSD",
        "[events] order_opened",
        "[events] order_modified",
        "moved the stop loss",
        "closed at",
        "[events] order_closed",
        "history: BUY",
    ):
        assert any(expected in line for line in lines), (expected, result.stdout)
    assert lines[-1].startswith("account: balance")
    assert "demo-password" not in result.stdout + result.stderr


@pytest.mark.timeout(60)
def test_quickstart_example_runs() -> None:
    result = _run("examples/quickstart.py")
    assert result.returncode == 0, result.stderr
    assert "embedded simulator" in result.stderr
    assert "closed ord_" in result.stdout
    assert "Trade(" in result.stdout
    assert "[fast] EURUSD" in result.stdout
    assert "[events] OrderClosed" in result.stdout


def test_unknown_command_is_refused() -> None:
    result = _run("-m", "fxsocket_async", "dance")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
