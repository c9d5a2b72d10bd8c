"""A reference reading of the default rules, to check the fixtures in this folder.

Not the product's engine and not a test module: a small, literal
implementation of the rule semantics the fixtures assume (written out in
``tests/data/README.md``), run over issues read by the product's own
snapshot reader (``bot.sources.snapshot``). It answers "does this fixture say
what its ``.expected.json`` says it says?", so the fixtures can be trusted
when the real engine disagrees with them.

    python tests/data/reference_check.py tests/data/cloud_small.json
    python tests/data/reference_check.py bot/demo/workspace.json --config bot/demo/govbot.yaml \
        --expected tests/data/demo_workspace.expected.json

Exit 0 when the snapshot's reference findings match the expected file exactly.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot import text  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.sources.snapshot import load_snapshot  # noqa: E402

RULES = ("anticipated-outcome-missing", "anticipated-outcome-unmeasurable",
         "closing-the-loop-actual-outcome-missing", "tech-debt-agreement-incomplete",
         "tech-debt-agreement-overdue", "tech-debt-agreement-below-epic", "work-hierarchy-not-a-work-item",
         "work-hierarchy-inverted", "work-hierarchy-skipped-level", "work-hierarchy-story-without-epic",
         "work-hierarchy-unmapped-type")
GRACE = timedelta(days=30)
WINDOW = timedelta(days=180)   # active work: open, or closed within this (scan.history_days)
HORIZON = timedelta(days=365)  # closing the loop looks this far back instead
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
MEASURE = re.compile(r"\d|%")


class Reference:
    def __init__(self, config, now: datetime):
        self.config = config
        self.now = now
        self.placeholders = {text.normalise_for_compare(p) for p in config.section("placeholders")}
        self.label = config.section("tech_debt")["label"]
        self.hierarchy = config.hierarchy

    def usable(self, value: str | None, summary: str) -> bool:
        if value is None:
            return False
        folded = text.normalise_for_compare(value)
        return bool(folded) and folded not in self.placeholders and folded != text.normalise_for_compare(summary)

    def raw_value(self, issue, logical: str) -> str:
        """A logical field's text: any synonym's field holding text wins, else a description section."""
        names = self.config.synonyms(logical)
        for name in names:
            if issue.has_field(name) and issue.text(name).strip():
                return issue.text(name).strip()
        for name in names:
            section = issue.section(name)
            if section and section.strip():
                return section.strip()
        return ""

    def value(self, issue, logical: str) -> str | None:
        """The value if it counts as stated (not empty, a placeholder or a copy of the summary)."""
        value = self.raw_value(issue, logical)
        return value if self.usable(value, issue.summary) else None

    def active(self, issue, within: timedelta = WINDOW) -> bool:
        if issue.status_category != "done":
            return True
        when = issue.resolved or issue.updated
        return when is not None and self.now - when <= within

    def rules(self, issue, workspace) -> list[str]:
        fired: set[str] = set()
        level = issue.level
        done = issue.status_category == "done"
        top = set(self.hierarchy.at_least("epic"))
        if (level in top and done and issue.resolved is not None and self.active(issue, HORIZON)
                and self.now - issue.resolved > GRACE and self.value(issue, "Actual Outcome") is None):
            fired.add("closing-the-loop-actual-outcome-missing")
        if not self.active(issue):
            return [rule for rule in RULES if rule in fired]
        if level in top:
            outcome = self.value(issue, "Anticipated Outcome")
            if outcome is None:
                fired.add("anticipated-outcome-missing")
            elif not MEASURE.search(outcome):
                fired.add("anticipated-outcome-unmeasurable")
        if self.label in issue.labels:
            if level == "epic":
                if not all(self.value(issue, name) for name in ("Reason", "Impact", "Timeline")):
                    fired.add("tech-debt-agreement-incomplete")
                dates = [date(int(y), int(m), int(d))
                         for y, m, d in ISO_DATE.findall(self.raw_value(issue, "Timeline"))]
                if not done and dates and max(dates) < self.now.date():
                    fired.add("tech-debt-agreement-overdue")
            elif level is not None and self.hierarchy.rank(level) < self.hierarchy.rank("epic"):
                fired.add("tech-debt-agreement-below-epic")
        if issue.type.casefold() in self.hierarchy.not_work_items:
            fired.add("work-hierarchy-not-a-work-item")
        parent = workspace.parent(issue)
        if parent is not None and level and parent.level:
            if self.hierarchy.rank(level) >= self.hierarchy.rank(parent.level):
                fired.add("work-hierarchy-inverted")
            elif self.hierarchy.required_between(parent.level, level):
                fired.add("work-hierarchy-skipped-level")
        if level in ("story", "feature") and self.hierarchy.flow_item(issue.type) == "feature":
            epic_rank = self.hierarchy.rank("epic")
            ranks = [self.hierarchy.rank(a.level) for a in workspace.ancestors(issue)]
            hidden_parent = issue.parent_key and workspace.get(issue.parent_key) is None
            project_uses_epics = any(other.project == issue.project and (self.hierarchy.rank(other.level) or 0)
                                     >= epic_rank for other in list(workspace.issues.values())
                                     + list(workspace.relatives.values()))
            if project_uses_epics and not hidden_parent and not any(rank is None or rank >= epic_rank
                                                                    for rank in ranks):
                fired.add("work-hierarchy-story-without-epic")
        # Unmapped: the map names it nowhere and Jira sent no level for it (Cloud always does).
        if not self.hierarchy.is_mapped(issue.type) and issue.jira_level is None:
            fired.add("work-hierarchy-unmapped-type")
        return [rule for rule in RULES if rule in fired]


def run(snapshot: str, config_path: str | None, now: datetime) -> dict:
    config = load_config(config_path, search=False, env={})
    workspace = load_snapshot(snapshot, config)
    reference = Reference(config, now)
    issues, counts, by_rule = {}, {}, {rule: 0 for rule in RULES}
    top = set(config.hierarchy.at_least("epic"))
    for issue in workspace:
        fired = reference.rules(issue, workspace)
        issues[issue.key] = fired
        for rule in fired:
            by_rule[rule] += 1
        if issue.level in top and reference.active(issue):
            pair = counts.setdefault(issue.project, [0, 0])
            pair[0] += "anticipated-outcome-missing" in fired
            pair[1] += 1
    missing = sum(c[0] for c in counts.values())
    total = sum(c[1] for c in counts.values())
    pct = lambda a, b: round(100.0 * a / b, 2) if b else 0.0  # noqa: E731
    return {
        "issues": issues, "issues_scanned": len(workspace), "skipped": workspace.skipped,
        "problems": workspace.problems, "by_rule": by_rule,
        "feature_factory_ratio": {"overall": pct(missing, total),
                                  "by_project": {k: pct(*v) for k, v in sorted(counts.items())}},
    }


def compare(result: dict, expected: dict) -> list[str]:
    problems = []
    want = expected["issues"]
    for key in sorted(set(want) | set(result["issues"])):
        if key in expected.get("skipped", []):
            if key in result["issues"]:
                problems.append(f"{key}: expected to be skipped as malformed, but it was scanned")
            continue
        got = result["issues"].get(key)
        if got is None:
            problems.append(f"{key}: expected in the scan, not found")
        elif key not in want:
            problems.append(f"{key}: scanned but not listed in the expected file")
        elif set(got) != set(want[key]):
            problems.append(f"{key}: reference fires {got}, expected {want[key]}")
    for name in ("issues_scanned",):
        if name in expected and expected[name] != result[name]:
            problems.append(f"{name}: reference {result[name]}, expected {expected[name]}")
    ffr = expected.get("feature_factory_ratio")
    if ffr:
        got = result["feature_factory_ratio"]
        if abs(got["overall"] - ffr["overall"]) > 0.01:
            problems.append(f"FFR overall: reference {got['overall']}, expected {ffr['overall']}")
        if got["by_project"] != ffr["by_project"]:
            problems.append(f"FFR by project: reference {got['by_project']}, expected {ffr['by_project']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snapshot")
    parser.add_argument("--expected", help="default: SNAPSHOT with .expected.json")
    parser.add_argument("--config", default=None)
    parser.add_argument("--now", default=None, help="YYYY-MM-DD (default: the expected file's, else 2026-11-16)")
    parser.add_argument("--print", action="store_true", help="print the reference findings as JSON")
    args = parser.parse_args(argv)
    expected_path = Path(args.expected or re.sub(r"\.json$", ".expected.json", args.snapshot))
    expected = json.loads(expected_path.read_text()) if expected_path.exists() else None
    day = date.fromisoformat(args.now or (expected or {}).get("now") or "2026-11-16")
    now = datetime.combine(day, time(12, 0), tzinfo=timezone.utc)
    result = run(args.snapshot, args.config, now)
    if args.print or expected is None:
        print(json.dumps(result, indent=1))
    if expected is None:
        return 0
    problems = compare(result, expected)
    for problem in problems:
        print(problem)
    print(f"{args.snapshot}: {len(result['issues'])} issues, "
          f"{sum(result['by_rule'].values())} reference findings, "
          f"FFR {result['feature_factory_ratio']['overall']}% - "
          + ("matches the expected file" if not problems else f"{len(problems)} mismatches"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
