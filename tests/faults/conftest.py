"""A loopback Jira with faults, and a govbot source pointed at it that never really sleeps."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from bot.config import load_config
from tools.synth import generate
from bot.engine import load_rules
from bot.sources.jira import JiraSource
from tests.fakes.jira_server import CLIENT_ENV, Faults, JiraEmulator

ISSUES = 320  # four Cloud pages of 100 (the emulator's cap once fields are asked for)


class Sleeps(list):
    """Stands in for time.sleep: records what the source would have waited."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


_PAGES: dict[str, list[dict]] = {}


def pages(flavour: str) -> list[dict]:
    """The same generated workspace for every test (fresh copies: the emulator may edit it)."""
    if flavour not in _PAGES:
        _PAGES[flavour] = generate(ISSUES, flavour, seed=11)
    import copy

    return copy.deepcopy(_PAGES[flavour])


def all_keys(flavour: str) -> set[str]:
    return {issue["key"] for page in pages(flavour) for issue in page["issues"]}


@pytest.fixture(params=["cloud", "datacenter"])
def flavour(request) -> str:
    return request.param


@pytest.fixture
def emulator_for():
    """emulator_for(flavour, faults=..., **options) -> a started JiraEmulator, stopped after the test."""
    started: list[JiraEmulator] = []

    def make(flavour: str, faults: Faults | None = None, **options) -> JiraEmulator:
        emulator = JiraEmulator(pages(flavour), flavour=flavour, faults=faults, record_keys=True, lifetime=120,
                                **options)
        started.append(emulator.start())
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


def write_config(emulator: JiraEmulator, **jira) -> Path:
    projects = sorted(emulator.store.projects)
    path = Path("govbot.yaml")
    path.write_text(yaml.safe_dump({"jira": {"projects": projects, "timeout_seconds": 2, "max_retries": 5,
                                             **jira}}), encoding="utf-8")
    return path


def source_for(emulator: JiraEmulator, sleeps: Sleeps | None = None, **jira):
    """(JiraSource, ruleset, config) for the emulator; sleeps are recorded, not slept."""
    config = load_config(write_config(emulator, **jira), env={**CLIENT_ENV, "JIRA_URL": emulator.url})
    ruleset = load_rules(None, config)
    source = JiraSource(config, sleep=sleeps if sleeps is not None else Sleeps(), rng=random.Random(3))
    return source, ruleset, config
