"""The inputs of a run, and reading its issues.

Every run (scan, check, nudge, digest, the service, chat) agrees on what "the
configured source" means: an explicit snapshot, else live Jira when
configured, else the bundled demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from bot.config import Config, load_config
from bot.engine import RuleSet, load_rules
from bot.errors import ConfigError
from bot.sources.snapshot import load_snapshot
from bot.workspace import Workspace

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_CONFIG = DEMO_DIR / "govbot.yaml"
DEMO_WORKSPACE = DEMO_DIR / "workspace.json"

NOTHING_TO_READ = "nothing to scan: give --snapshot FILE, or set jira.url in the config (or JIRA_URL)"


@dataclass
class Inputs:
    config: Config
    ruleset: RuleSet
    demo: bool = False


@dataclass
class Read:
    """What a run reads. The default: everything in the configured scope.

    ``keys`` reads only those issues (with the relatives their rules need);
    ``workspace`` hands over issues already read (a cached snapshot, a test).
    ``full`` ignores the incremental cursor, which ``cursors`` keeps.
    """

    snapshot: str | None = None
    jql: str | None = None
    keys: list[str] | None = None
    full: bool = False
    cursors: object | None = None
    workspace: Workspace | None = None
    progress: Callable | None = None

    def source_kind(self, inputs: Inputs) -> str:
        """``snapshot``, ``demo`` or ``jira``: where the issues come from."""
        if self.snapshot is not None:
            return "snapshot"
        return "demo" if inputs.demo else "jira"


def jira_configured(config: Config) -> bool:
    return bool(config.settings.jira.url or config.env.get("JIRA_URL"))


def load_inputs(config_path: str | None, rule_paths: list[str] | None = None, *,
                snapshot: str | None = None, only_rules: list[str] | None = None) -> Inputs:
    """Config and rules for a run; the demo's config when nothing is configured at all.

    ``rule_paths`` are added to the bundled pack (and ``rules.paths``);
    ``only_rules`` replace the bundled pack.
    """
    # partial: govbot.yaml's errors are reported by load_rules with the rule files' (one pass).
    config = load_config(config_path, partial=True)
    # A govbot.yaml that only adds rules (extra folders, params) keeps the demo, with those rules.
    rules_only = (config.path is not None and config.document is not None
                  and isinstance(config.document.data, dict) and set(config.document.data) <= {"rules"})
    demo = (config.path is None or rules_only) and not snapshot and not jira_configured(config)
    if demo:
        user = config
        config = load_config(DEMO_CONFIG, env=config.env)
        if rules_only:
            # The user's file and folder: its rules.paths resolve, and its mistakes are reported, there.
            config = Config({**config.data, "rules": user.data["rules"]}, user.path, user.document, user.env,
                            problems=user.problems, rules_unchecked=user.rules_unchecked)
    if only_rules:
        ruleset = load_rules([*only_rules, *(rule_paths or [])], config, include_bundled=False)
    else:
        ruleset = load_rules(rule_paths or None, config, include_bundled=True)
    return Inputs(config, ruleset, demo)


def read_workspace(inputs: Inputs, read: Read) -> Workspace:
    """The issues of a run, as ``read`` asks: everything in scope, or only ``read.keys`` (with relatives)."""
    if read.keys is not None:
        return _read_keys(inputs, read)
    if read.workspace is not None:
        return read.workspace
    # Owner fields are read after the rules, for the issues with findings only (open_batch does).
    return load_workspace(inputs, snapshot=read.snapshot, jql=read.jql, full=read.full,
                          cursor_store=read.cursors, progress=read.progress, defer_owners=True)


def load_workspace(inputs: Inputs, *, snapshot: str | None = None, jql: str | None = None,
                   full: bool = False, cursor_store=None, progress: Callable | None = None,
                   defer_owners: bool = False) -> Workspace:
    """``defer_owners``: a live read may leave the owner fields for ``bot.runs.owners`` to read."""
    if snapshot:
        return load_snapshot(snapshot, inputs.config, inputs.ruleset, progress=progress)
    if inputs.demo:
        workspace = load_snapshot(DEMO_WORKSPACE, inputs.config, inputs.ruleset)
        workspace.source = "demo"
        return workspace
    if jira_configured(inputs.config):
        from bot.sources.jira import load_workspace_from_jira

        return load_workspace_from_jira(inputs.config, inputs.ruleset, jql=jql, full=full,
                                        cursor_store=cursor_store, progress=progress, defer_owners=defer_owners)
    raise ConfigError(NOTHING_TO_READ)


def _read_keys(inputs: Inputs, read: Read) -> Workspace:
    """The issues ``read.keys`` with their relatives; every other issue known only as context.

    A snapshot or the demo is read whole (or taken from ``read.workspace``) and
    narrowed to the keys; live Jira is asked for the keys and their parents,
    ancestors and children only.
    """
    if read.source_kind(inputs) in ("snapshot", "demo"):
        full = read.workspace if read.workspace is not None else load_workspace(inputs, snapshot=read.snapshot)
        return narrow(full, read.keys)
    if jira_configured(inputs.config):
        from bot.sources.jira import load_issues_from_jira

        workspace = load_issues_from_jira(inputs.config, read.keys, inputs.ruleset)
        workspace.known_projects = _known_projects(inputs.config)
        return workspace
    raise ConfigError("nothing to check against: give --snapshot FILE, or set jira.url in the config "
                      "(or JIRA_URL)")


def _known_projects(config) -> dict | None:
    """Which projects use which levels, as the scheduled reads of the configured scope last found
    (kept with their cursor, ``bot.runs.batch``): a check of a few issues judges "story without
    epic" as the nudge run does. None without a store or a cursor: that verdict is then not given."""
    from bot.sources.connection import Connection
    from bot.sources.cursors import cursor_key
    from bot.sources.jql import scope_jql
    from bot.store.cursors import peek_cursor
    from bot.store.location import store_url

    cursor = peek_cursor(store_url(config), cursor_key(Connection.from_config(config).url, scope_jql(config)))
    facts = (cursor or {}).get("projects_at")
    return facts if isinstance(facts, dict) else None


def narrow(workspace: Workspace, keys: Iterable[str]) -> Workspace:
    """The same issues with only ``keys`` in scope; every other issue stays as a relative (context)."""
    wanted = {key.upper() for key in keys}
    # What the read knew about itself goes along: a snapshot without descriptions or with pages
    # left out is judged by `check` as by `scan`.
    narrowed = Workspace(complete=workspace.complete, problems=list(workspace.problems),
                         source=workspace.source, skipped=workspace.skipped, notes=list(workspace.notes),
                         partial=workspace.partial, unexported=set(workspace.unexported),
                         known_projects=workspace.known_projects)
    for issue in list(workspace.issues.values()) + list(workspace.relatives.values()):
        # A stub (known only from a child's embedded parent) has no fields to check.
        if issue.key.upper() in wanted and not issue.stub:
            narrowed.issues[issue.key] = issue
        else:
            narrowed.relatives[issue.key] = issue
    narrowed.link()
    return narrowed
