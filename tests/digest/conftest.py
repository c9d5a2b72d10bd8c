"""A small two-team workspace (plus a configured team with no issues) for digest tests.

Issues are written as compact tuples and turned into a Jira search response,
so tests go through the real snapshot reader, rule pack and scan.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

NOW = "2026-03-31"  # a Tuesday: the digest week starts Monday 2026-03-30
SITE = "https://example.atlassian.net"
HOSTILE = '<script>alert("x")</script> <!channel> & <@U123> [x](javascript:alert(1))'

CONFIG = """\
teams:
  payments: {projects: [PAY], channel: "#payments", name: Payments}
  platform: {projects: [PLAT], channel: "#platform", name: Platform}
  mobile: {projects: [MOB], channel: "#mobile", name: Mobile}
slack:
  org_channel: "#delivery"
digest:
  dashboard_url: https://intranet.example.com/govbot
"""

OUTCOME = "Anticipated Outcome: 15% more completed checkouts by Q3"
ANA = {"accountId": "a-1", "displayName": "Ana Lima"}
BO = {"accountId": "b-2", "displayName": "Bo Chen"}

# key, type, status category, summary, description, resolved, parent, labels, assignee
ISSUES = [
    ("PAY-1", "Initiative", "indeterminate", "Grow checkout conversion", OUTCOME, None, None, [], ANA),
    ("PAY-2", "Epic", "indeterminate", "One-click checkout", OUTCOME, None, "PAY-1", [], ANA),
    ("PAY-3", "Epic", "new", "Refund flow revamp", "Scope: refunds", None, "PAY-1", [], BO),
    ("PAY-4", "Epic", "indeterminate", HOSTILE,
     f"{OUTCOME}\nReason: launch deadline {HOSTILE}\nImpact: manual retries slow every release\n"
     "Timeline: pay down by 2026-02-01", None, "PAY-1", ["tech-debt-agreement"], ANA),
    ("PAY-5", "Epic", "done", "Saved cards", OUTCOME, "2025-12-01", "PAY-1", [], ANA),
    ("PAY-6", "Epic", "done", "Receipts by email", OUTCOME, "2026-02-10", "PAY-1", [], BO),
    ("PAY-7", "Epic", "new", "Ledger shortcut", f"{OUTCOME}\nReason: experiment", None, "PAY-1",
     ["tech-debt-agreement"], BO),
    ("PAY-10", "Story", "done", "Button copy", "", "2026-03-01", "PAY-2", [], ANA),
    ("PAY-11", "Bug", "done", "Double charge", "", "2026-03-20", "PAY-2", [], ANA),
    ("PAY-12", "Story", "done", "Card icons", "", "2026-02-15", "PAY-2", [], BO),
    ("PAY-13", "Technical Debt", "done", "Retry queue", "", "2026-03-10", "PAY-2", [], BO),
    ("PAY-14", "Story", "indeterminate", "Apple Pay", "", None, "PAY-2", [], BO),
    ("PAY-15", "Story", "done", "Old story", "", "2025-10-01", "PAY-2", [], BO),
    ("PLAT-1", "Epic", "done", "Faster builds",
     "Anticipated Outcome: builds under 10 minutes by May\nActual Outcome: 8 minutes", "2026-03-25", None, [], None),
    ("PLAT-2", "Epic", "indeterminate", "Service mesh", "", None, None, [], None),
    ("PLAT-3", "Risk", "done", "Patch OpenSSL", "", "2026-03-05", "PLAT-1", [], None),
    ("PLAT-5", "Chore", "done", "Rotate keys", "", "2026-03-15", "PLAT-1",
     ["govbot-waive-work-hierarchy-unmapped-type"], None),
]
LEVELS = {"Initiative": 2, "Epic": 1, "Sub-task": -1}


def _jira_issue(number: int, spec: tuple) -> dict:
    key, type_name, category, summary, description, resolved, parent, labels, assignee = spec
    fields = {
        "summary": summary,
        "issuetype": {"name": type_name, "hierarchyLevel": LEVELS.get(type_name, 0)},
        "status": {"name": category.title(), "statusCategory": {"key": category}},
        "project": {"key": key.split("-")[0]},
        "labels": labels,
        "description": description,
        "created": "2025-09-01T09:00:00.000+0000",
        "updated": "2026-03-28T09:00:00.000+0000",
        "resolutiondate": f"{resolved}T12:00:00.000+0000" if resolved else None,
        "assignee": assignee,
    }
    if parent:
        fields["parent"] = {"key": parent}
    return {"id": str(10000 + number), "key": key, "self": f"{SITE}/rest/api/2/issue/{10000 + number}",
            "fields": fields}


def snapshot_data(issues: list[tuple] = ISSUES) -> dict:
    return {"issues": [_jira_issue(n, spec) for n, spec in enumerate(issues)], "names": {}}


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Path]:
    """A config file and a snapshot on disk, as the CLI would be given them."""
    config = tmp_path / "govbot.yaml"
    config.write_text(CONFIG + f"store: {{url: 'sqlite:///{tmp_path / 'govbot.db'}'}}\n", encoding="utf-8")
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(snapshot_data()), encoding="utf-8")
    return {"config": config, "snapshot": snapshot, "dir": tmp_path}


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time().replace(hour=12), tzinfo=timezone.utc)


@pytest.fixture
def scan_site(site):
    """scan(day) -> the batch for the fixture site, through the real run."""
    from bot.runs.inputs import load_inputs
    from bot.runs.scan import run_scan

    def run(day: str = NOW):
        inputs = load_inputs(str(site["config"]), snapshot=str(site["snapshot"]))
        return run_scan(inputs, at(day), snapshot=str(site["snapshot"]))

    return run


class MemoryHistory:
    """The store's digest-history contract, in memory."""

    def __init__(self):
        self.rows: dict[tuple[str, date], dict] = {}

    def record_digest(self, team: str, week_start: date, figures: dict) -> None:
        self.rows[(team, week_start)] = json.loads(json.dumps(figures))

    def digest_history(self, team: str, until: date, weeks: int) -> list[tuple[date, dict]]:
        rows = sorted((week, figures) for (t, week), figures in self.rows.items() if t == team and week <= until)
        return rows[-weeks:] if weeks else []


GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def seeded_history() -> MemoryHistory:
    """Three earlier weeks of figures, as earlier digest runs would have stored them."""
    history = MemoryHistory()
    for week, payments, platform, overall in (("2026-03-09", 42.9, 100.0, 55.6), ("2026-03-16", 28.6, None, 33.3),
                                              ("2026-03-23", 28.6, 50.0, 33.3)):
        for team, ffr in (("payments", payments), ("platform", platform), ("*", overall)):
            history.record_digest(team, date.fromisoformat(week), {"ffr": ffr})
    return history


@pytest.fixture
def week_of_changes():
    from bot.digest.figures import Change, WeekChanges

    return WeekChanges(
        new=[Change("tech-debt-agreement-overdue", "PAY-4", "payments", "Technical debt agreement is past "
                    "its pay-down date")],
        fixed=[Change("anticipated-outcome-missing", "PAY-2", "payments"),
               Change("anticipated-outcome-missing", "PLAT-9", "platform")])


@pytest.fixture
def digests(scan_site, site, seeded_history, week_of_changes):
    """The fixture site's digests for the week of 2026-03-30, with history and changes."""
    from bot.config import load_config
    from bot.digest.figures import build_digests

    from bot.digest.figures import Change

    result = scan_site()
    loop = next(f for f in result.findings if f.issue == "PAY-5")  # reminded three times, still open
    week_of_changes.escalated = [Change(loop.rule, loop.issue, loop.team, loop.title, loop.fingerprint)]
    return build_digests(result, load_config(site["config"]), at(NOW), history=seeded_history,
                         changes=week_of_changes)
