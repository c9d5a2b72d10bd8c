"""Run govbot in a child process under a deadline, so a test of a hang fails instead of hanging."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def govbot(*args: str, timeout: float, cwd=None, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m bot ARGS``; the test fails (the child is killed) if it runs past ``timeout`` seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", **(env or {})}
    try:
        return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                              encoding="utf-8", timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"govbot {' '.join(args)} did not finish within {timeout} s")
