"""Set-up the Jira source tests share beside the Jira doubles: a source pointed at the loopback emulator
(``tests/fakes/jira_server.py``; the fault tests' ``source_for`` too), and a rule that reads children."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

import yaml

from bot.config import load_config
from bot.engine import load_rules
from bot.sources.jira import JiraSource
from tests.fakes.jira_server import CLIENT_ENV, JiraEmulator


# A rule that reads children: a read lists them only when an enabled rule like this one needs them.
CHILDLESS = """
rules:
  - id: epic-childless
    title: Epic with no child issues
    severity: warning
    scope: {levels: [epic]}
    condition:
      children: {count: 0}
    message: "{{ issue.key }} has no child issues."
    docs: {what: Epics with no children., why: Nothing says what the epic is made of., example: PAY-1., fix: Split it.}
"""


def rules_from(tmp_path: Path, text: str, config):
    """The ruleset of a rules file with ``text``, without the bundled rules."""
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rules([path], config, include_bundled=False)


def emulator_config(emulator: JiraEmulator, folder: Path, *, settings: dict | None = None, **jira) -> Path:
    """``folder``/govbot.yaml for the loopback emulator: its projects and ``jira`` options (and other
    ``settings`` beside them)."""
    path = folder / "govbot.yaml"
    path.write_text(yaml.safe_dump({"jira": {"projects": sorted(emulator.store.projects), **jira}, **(settings or {})}),
                    encoding="utf-8")
    return path


def emulator_source(emulator: JiraEmulator, folder: Path, *, now=None, settings: dict | None = None,
                    sleep: Callable[[float], None] | None = None, seed: int = 1, **jira):
    """(JiraSource, ruleset, config) for the loopback emulator, its govbot.yaml written by ``emulator_config``.
    The source never really sleeps (``sleep`` stands in for time.sleep, to record the waits) and its retry
    jitter comes from ``seed``, alike every run."""
    config = load_config(emulator_config(emulator, folder, settings=settings, **jira),
                         env={**CLIENT_ENV, "JIRA_URL": emulator.url})
    source = JiraSource(config, sleep=sleep if sleep is not None else (lambda _s: None), rng=random.Random(seed),
                        now=now)
    return source, load_rules(None, config), config
