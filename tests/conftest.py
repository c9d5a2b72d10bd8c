"""Shared fixtures. The suite never touches the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def golden(path: Path, actual: str) -> None:
    """Compare with a golden file; GOVBOT_UPDATE_GOLDEN=1 rewrites it."""
    if os.environ.get("GOVBOT_UPDATE_GOLDEN") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        if not os.environ.get("GOVBOT_UPDATE_GOLDEN"):
            pytest.fail(f"golden file {path} was missing and has been written; check it and re-run")
    assert actual == path.read_text(encoding="utf-8"), f"differs from golden {path} (GOVBOT_UPDATE_GOLDEN=1 to refresh)"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test sees the developer's Jira/Slack environment or a stray govbot.yaml."""
    for name in list(os.environ):
        if name.startswith(("JIRA_", "SLACK_", "GOVBOT_")) and name != "GOVBOT_TEST_POSTGRES_URL" \
                and name != "GOVBOT_UPDATE_GOLDEN":
            monkeypatch.delenv(name, raising=False)
    # Every test parses and validates its files in full, and no test writes to ~/.cache; the tests
    # of the cache itself (tests/test_yamlcache.py, tests/test_startup.py) turn it on.
    monkeypatch.setenv("GOVBOT_NO_CACHE", "1")
    monkeypatch.chdir(tmp_path)
