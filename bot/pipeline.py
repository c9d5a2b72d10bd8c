"""Choose the inputs of a run (config, rules, workspace) and scan them.

Every command that needs findings (scan, nudge, digest, the service) comes
through here, so they all agree on what "the configured source" means:
an explicit snapshot, else live Jira when configured, else the bundled demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from bot.config import Config, load_config
from bot.engine import RuleSet, load_rules
from bot.scan import ScanResult, scan
from bot.sources.snapshot import load_snapshot
from bot.workspace import Workspace

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_CONFIG = DEMO_DIR / "govbot.yaml"
DEMO_WORKSPACE = DEMO_DIR / "workspace.json"


@dataclass
class Inputs:
    config: Config
    ruleset: RuleSet
    demo: bool = False


def jira_configured(config: Config) -> bool:
    return bool(config.section("jira").get("url") or config.env.get("JIRA_URL"))


def load_inputs(config_path: str | None, rule_paths: list[str] | None = None, *,
                snapshot: str | None = None) -> Inputs:
    """Config and rules for a run; the demo's config when nothing is configured at all."""
    config = load_config(config_path)
    demo = config.path is None and not snapshot and not jira_configured(config)
    if demo:
        config = load_config(DEMO_CONFIG, env=config.env)
    ruleset = load_rules(rule_paths or None, config, include_bundled=None)
    return Inputs(config, ruleset, demo)


def load_workspace(inputs: Inputs, *, snapshot: str | None = None, jql: str | None = None,
                   full: bool = False, cursor_store=None, progress: Callable | None = None) -> Workspace:
    if snapshot:
        return load_snapshot(snapshot, inputs.config, inputs.ruleset, progress=progress)
    if inputs.demo:
        workspace = load_snapshot(DEMO_WORKSPACE, inputs.config, inputs.ruleset)
        workspace.source = "demo"
        return workspace
    if jira_configured(inputs.config):
        from bot.sources.jira import load_workspace_from_jira

        return load_workspace_from_jira(inputs.config, inputs.ruleset, jql=jql, full=full,
                                        cursor_store=cursor_store, progress=progress)
    from bot.errors import ConfigError

    raise ConfigError("nothing to scan: give --snapshot FILE, or set jira.url in the config (or JIRA_URL)")


def run_pipeline(inputs: Inputs, now: datetime, *, snapshot: str | None = None, jql: str | None = None,
                 full: bool = False, cursor_store=None, progress: Callable | None = None) -> ScanResult:
    workspace = load_workspace(inputs, snapshot=snapshot, jql=jql, full=full,
                               cursor_store=cursor_store, progress=progress)
    return scan(workspace, inputs.ruleset, inputs.config, now)
