"""Build the bundled demo workspace (``bot/demo/workspace.json``) and the tables in its README.

The generator lives outside the package: the wheel ships only the workspace it writes.

    python tools/build_demo.py            # rewrite workspace.json and README tables
    python tools/build_demo.py --check    # exit 1 if either is out of date

Four teams (Payments, Mobile, Platform, Data) in one Jira Cloud site, dated
relative to Monday 2026-11-16. Most issues are clean; a few dozen are placed
by hand below to break each default rule at least twice, each with a clean
counterpart nearby. Deterministic: same code, same bytes.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.synth import (  # noqa: E402
    CLOUD, DEMO_NOW, RULES, TECH_DEBT_LABEL, Builder, Project, Spec, Tally, Text, make_projects,
    write_pages,
)

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "bot" / "demo"
WORKSPACE = HERE / "workspace.json"
README = HERE / "README.md"
EXPECTED = ROOT / "tests" / "data" / "demo_workspace.expected.json"
SEED = 20261116
PAGE_SIZE = 100
TEAMS = {"PAY": "payments", "MOB": "mobile", "PLAT": "platform", "DATA": "data"}
SEVERITY = {
    "anticipated-outcome-missing": "error", "anticipated-outcome-unmeasurable": "info",
    "closing-the-loop-actual-outcome-missing": "warning", "tech-debt-agreement-incomplete": "warning",
    "tech-debt-agreement-overdue": "warning", "tech-debt-agreement-below-epic": "warning",
    "work-hierarchy-not-a-work-item": "warning", "work-hierarchy-inverted": "error",
    "work-hierarchy-skipped-level": "warning", "work-hierarchy-story-without-epic": "warning",
    "work-hierarchy-unmapped-type": "info",
}


class Demo:
    def __init__(self) -> None:
        self.b = Builder(CLOUD, seed=SEED, now=DEMO_NOW)
        self.rng = self.b.rng
        base = make_projects(4, random.Random(SEED))
        styles = {"PAY": 0.85, "MOB": 0.25, "PLAT": 0.5, "DATA": 0.6}
        self.pay, self.mob, self.plat, self.data = (
            dataclasses.replace(p, outcome_in_field=styles[p.key], team_field=p.key != "DATA") for p in base)
        self.specs: list[Spec] = []

    # -- building blocks ---------------------------------------------------------
    def add(self, project: Project, type_name: str, summary: str, **kwargs) -> Spec:
        spec = self.b.make(project, type_name, summary, **kwargs)
        self.specs.append(spec)
        return spec

    def outcome(self, project: Project, thing: str, *, debt: bool = False, where: str | None = None) -> Text:
        return self.b.measurable(project, thing, debt=debt, where=where or self.b.where(project))

    def items(self, project: Project, parent: Spec, count: int, *, category: str | None = None,
              thing: str | None = None, subtasks: bool = True) -> list[Spec]:
        """Clean stories, bugs and tasks (with a few sub-tasks) under ``parent``."""
        made = []
        for index in range(count):
            type_name = "Story" if index < 2 else self.rng.choice(("Story", "Story", "Bug", "Task"))
            cat = category or self.rng.choice(("new", "indeterminate", "done"))
            item = self.add(project, type_name, self.b.summary(project, type_name, thing), parent=parent, category=cat)
            made.append(item)
            if subtasks and type_name == "Story" and self.rng.random() < 0.45:
                for _ in range(self.rng.randint(1, 2)):
                    self.add(project, "Sub-task", self.b.summary(project, "Sub-task"), parent=item, category=cat)
        return made

    def clean_epic(self, project: Project, parent: Spec | None, *, category: str, thing: str | None = None,
                   count: int = 4, resolved_ago: int | None = None, actual_where: str | None = None,
                   features: bool = False) -> Spec:
        thing = thing or self.b.thing(project)
        actual = None
        if category == "done":
            resolved_ago = resolved_ago or self.b.safe_resolved_age()
            if resolved_ago > 30 or self.rng.random() < 0.3:
                actual = self.b.recorded(project, actual_where or self.b.where(project))
        epic = self.add(project, "Epic", self.b.summary(project, "Epic", thing), parent=parent, category=category,
                        resolved_ago=resolved_ago, outcome=self.outcome(project, thing), actual=actual)
        child_category = "done" if category == "done" else ("new" if category == "new" else None)
        if features:
            for _ in range(2):
                feature = self.add(project, "Feature", self.b.summary(project, "Feature", thing), parent=epic,
                                   category=child_category or "indeterminate")
                self.items(project, feature, max(2, count // 2), category=child_category, thing=thing)
        else:
            self.items(project, epic, count, category=child_category, thing=thing)
        return epic

    def clean_initiative(self, project: Project, parent: Spec | None, thing: str, *, category: str = "indeterminate",
                         where: str | None = None) -> Spec:
        return self.add(project, "Initiative", self.b.summary(project, "Initiative", thing), parent=parent,
                        category=category, outcome=self.outcome(project, thing, where=where))

    def portfolio(self, project: Project, theme: Spec | None, *, features: bool = False) -> tuple[Spec, Spec]:
        """Two clean initiatives with five clean epics between them (one delivered long ago)."""
        things = self.rng.sample(project.things, 8)
        first = self.clean_initiative(project, theme, things[0])
        second = self.clean_initiative(project, theme, things[1], category="new")
        self.clean_epic(project, first, category="indeterminate", thing=things[2], features=features)
        self.clean_epic(project, first, category="done", thing=things[3], resolved_ago=self.rng.randint(40, 150))
        self.clean_epic(project, first, category="done", thing=things[4], resolved_ago=self.rng.randint(3, 20))
        self.clean_epic(project, second, category="new", thing=things[5], count=3)
        self.clean_epic(project, None, category="indeterminate", thing=things[6], count=3)
        self.clean_epic(project, second, category="done", thing=things[7], count=3,
                        resolved_ago=self.rng.randint(200, 300), actual_where="heading")
        return first, second

    def agreement_epic(self, project: Project, parent: Spec | None, thing: str, agreement, *, category: str,
                       resolved_ago: int | None = None, actual: Text | None = None, note: str = "") -> Spec:
        epic = self.add(project, "Epic", f"Tech debt: {thing}", parent=parent, category=category,
                        resolved_ago=resolved_ago, labels=[TECH_DEBT_LABEL], agreement=agreement,
                        outcome=self.outcome(project, thing, debt=True), actual=actual, note=note)
        self.items(project, epic, 2, category="done" if category == "done" else None, thing=thing, subtasks=False)
        return epic

    # -- the workspace -----------------------------------------------------------------
    def build(self) -> list[Spec]:
        b, pay, mob, plat, data = self.b, self.pay, self.mob, self.plat, self.data
        now = DEMO_NOW.date()

        # Themes (Jira Premium level 3) above some of the initiatives.
        grow = self.add(pay, "Theme", "Grow in Europe", category="indeterminate",
                        outcome=Text("measurable", "Double card volume from EU merchants (EUR 40m to EUR 80m a "
                                                   "quarter) by Q4 2027 without raising fraud losses above 0.1%.",
                                     "field"))
        reliable = self.add(plat, "Theme", "Reliable by default", category="indeterminate",
                            outcome=Text("measurable", "99.95% monthly availability for every tier-1 service "
                                                       "and under 2 customer-facing incidents a quarter by 2027-06-30.",
                                         "heading"))

        # ---------------------------------------------------------------- Payments
        pay_main, _ = self.portfolio(pay, grow)
        epic = self.add(pay, "Epic", "Refund status page for merchants", parent=pay_main, category="indeterminate",
                        outcome=Text("empty", "", "field"), note="Anticipated Outcome field left empty")
        self.items(pay, epic, 3, thing="refunds")
        epic = self.add(pay, "Epic", "Payout holiday calendar", parent=pay_main, category="new",
                        outcome=Text("placeholder", "TBD", "field"), note='Anticipated Outcome is "TBD"')
        self.items(pay, epic, 2, thing="payouts")
        epic = self.add(pay, "Epic", "Merchant portal refresh", parent=pay_main, category="indeterminate",
                        outcome=Text("vague", "Make the merchant portal feel modern and easier to use.", "field"),
                        note="outcome names no measure")
        self.items(pay, epic, 3, thing="the merchant portal")
        epic = self.add(pay, "Epic", "Chargeback evidence upload", parent=pay_main, resolved_ago=64,
                        outcome=self.outcome(pay, "chargebacks", where="field"),
                        note="delivered 64 days ago, no Actual Outcome")
        self.items(pay, epic, 3, category="done", thing="chargebacks")
        epic = self.add(pay, "Epic", "Strong customer authentication exemptions", parent=pay_main, resolved_ago=120,
                        outcome=self.outcome(pay, "strong customer authentication", where="field"),
                        actual=b.recorded(pay, "field"), note="clean: delivered 120 days ago, Actual Outcome recorded")
        self.items(pay, epic, 2, category="done", thing="strong customer authentication")
        epic = self.add(pay, "Epic", "Itemised receipts", parent=pay_main, resolved_ago=12,
                        outcome=self.outcome(pay, "receipts", where="field"),
                        note="clean: delivered 12 days ago, still inside the 30-day grace period")
        self.items(pay, epic, 2, category="done", thing="receipts")
        self.agreement_epic(pay, pay_main, "hard-coded FX rates",
                            b.agreement(pay, "currency display", due=date(2026, 2, 1), style="label"),
                            category="indeterminate", note="Timeline: pay down by 2026-02-01, still in progress")
        self.agreement_epic(pay, None, "single PSP adapter",
                            b.agreement(pay, "bank transfers", due=now + timedelta(days=120), style="heading"),
                            category="new", note="clean: complete agreement, timeline in the future")
        self.add(pay, "Story", "Show payout ETA on the merchant dashboard", parent=pay_main, category="indeterminate",
                 note="story hung directly under an initiative")
        release_parent = self.clean_epic(pay, pay_main, category="indeterminate", thing="invoices", count=2)
        self.add(pay, "Release", "Release 2026.11 (Payments)", parent=release_parent, category="indeterminate",
                 note='a "Release" issue used as a work item')
        self.add(pay, "Deliverable", "Deliverable: PCI evidence pack for auditors", parent=release_parent,
                 category="new", note='custom type "Deliverable" (hierarchyLevel 0)')

        # ---------------------------------------------------------------- Mobile
        mob_main, mob_next = self.portfolio(mob, None, features=True)
        mob_self = self.add(mob, "Initiative", "Make the app effortless", category="indeterminate",
                            outcome=Text("vague", "Customers love using the app and recommend it to friends.",
                                         "heading"),
                            note="outcome (description heading) names no measure")
        self.clean_epic(mob, mob_self, category="indeterminate", thing="app start-up", features=True)
        epic = self.add(mob, "Epic", "Dark mode", parent=mob_main, category="indeterminate",
                        outcome=Text("placeholder", "n/a", "heading"), note='"Anticipated Outcome" heading says "n/a"')
        self.items(mob, epic, 3, thing="dark mode")
        epic = self.add(mob, "Epic", "Home screen widgets", parent=mob_next, resolved_ago=75,
                        outcome=Text("absent", "", "none"),
                        note="delivered 75 days ago with neither an anticipated nor an actual outcome")
        self.items(mob, epic, 2, category="done", thing="home screen widgets")
        epic = self.add(mob, "Epic", "Deep link routing", parent=mob_main, category="indeterminate",
                        outcome=self.outcome(mob, "deep links", where="label"))
        story = self.items(mob, epic, 2, thing="deep links", subtasks=False)[0]
        self.add(mob, "Story", "Handle expired deep links", parent=story, category="new",
                 note="story parented to another story")
        self.add(mob, "Story", "Retry push registration on flaky networks", parent=epic, category="indeterminate",
                 labels=[TECH_DEBT_LABEL], note="tech-debt-agreement label on a story")
        self.add(mob, "Release", "Release 5.2 (iOS and Android)", category="new",
                 note='a "Release" issue used as a work item, no parent')
        self.add(mob, "Story", "Show the biometric prompt on cold start", category="new",
                 note="story with no parent at all")
        self.agreement_epic(mob, mob_main, "webview login",
                            dataclasses.replace(b.agreement(mob, "biometric login", due=date(2026, 6, 30),
                                                            style="label"), reason=None, date_node=True),
                            category="indeterminate",
                            note="agreement without a Reason; timeline (an ADF date) 2026-06-30 has passed")
        self.agreement_epic(mob, mob_next, "analytics shim",
                            b.agreement(mob, "the transaction list", due=date(2026, 5, 1), style="heading"),
                            category="done", resolved_ago=45, actual=b.recorded(mob, "heading"),
                            note="clean: past timeline but the epic is done, Actual Outcome recorded")

        # ---------------------------------------------------------------- Platform
        plat_main, _ = self.portfolio(plat, reliable)
        epic = self.add(plat, "Epic", "Rotate database credentials automatically", parent=plat_main,
                        category="new", outcome=Text("copy", "", "field"), note="outcome is a copy of the summary")
        self.items(plat, epic, 2, thing="secrets rotation")
        cost = self.add(plat, "Initiative", "Platform cost programme", parent=reliable, category="indeterminate",
                        outcome=Text("placeholder", "-", "label"), note='"Anticipated Outcome: -"')
        self.clean_epic(plat, cost, category="indeterminate", thing="cost dashboards", count=3)
        ci = self.add(plat, "Initiative", "Move every build to the new CI runners", parent=reliable, resolved_ago=95,
                      outcome=self.outcome(plat, "CI pipelines", where="heading"),
                      note="initiative delivered 95 days ago, no Actual Outcome")
        self.clean_epic(plat, ci, category="done", thing="CI pipelines", count=3, resolved_ago=110)
        self.agreement_epic(plat, plat_main, "manual database failover",
                            b.agreement(plat, "database failover", missing=("impact", "timeline"), style="label"),
                            category="indeterminate", note="agreement has a Reason only (no Impact, no Timeline)")
        self.agreement_epic(plat, plat_main, "shared build cache",
                            b.agreement(plat, "the build cache", trigger=True, style="heading"),
                            category="new", note="clean: agreement with a Trigger instead of a dated timeline")
        epic = self.add(plat, "Epic", "Service mesh mTLS everywhere", parent=plat_main, category="indeterminate",
                        outcome=self.outcome(plat, "the service mesh"))
        story = self.items(plat, epic, 3, thing="the service mesh", subtasks=False)[0]
        inverted = self.add(plat, "Epic", "Service templates for batch jobs", parent=story, category="new",
                            outcome=self.outcome(plat, "service templates"), note="epic parented to a story")
        self.add(plat, "Sub-task", "Pin the base image version", parent=story, category="indeterminate",
                 labels=[TECH_DEBT_LABEL], note="tech-debt-agreement label on a sub-task")
        self.add(plat, "Work Package", "Work package: vendor security audit evidence", parent=epic, category="new",
                 note='custom type "Work Package" (hierarchyLevel 0)')
        del inverted

        # ---------------------------------------------------------------- Data
        data_main, data_next = self.portfolio(data, None, features=True)
        epic = self.add(data, "Epic", "Churn model v2", parent=data_main, category="indeterminate",
                        outcome=Text("empty", "", "heading"),
                        note='"Anticipated Outcome" template heading left empty')
        self.items(data, epic, 3, thing="the churn model")
        epic = self.add(data, "Epic", "Tidy up the dbt models", parent=data_main, category="new",
                        outcome=Text("vague", "A cleaner and more maintainable warehouse that analysts trust.",
                                     "label"),
                        note="outcome names no measure")
        self.items(data, epic, 2, thing="dbt models")
        epic = self.add(data, "Epic", "Experiment platform self-serve setup", parent=data_next, resolved_ago=40,
                        outcome=self.outcome(data, "the experiment platform", where="field"),
                        actual=Text("placeholder", "TBD", "field"), note='delivered 40 days ago, Actual Outcome "TBD"')
        self.items(data, epic, 2, category="done", thing="the experiment platform")
        epic = self.add(data, "Epic", "Tech debt: ad-hoc GDPR deletion scripts", parent=data_main,
                        category="indeterminate", labels=[TECH_DEBT_LABEL],
                        outcome=self.outcome(data, "GDPR deletion", debt=True),
                        note="label added, no agreement sections at all")
        self.items(data, epic, 2, thing="GDPR deletion", subtasks=False)
        self.add(data, "Story", "Backfill order events into the warehouse", parent=data_main, category="new",
                 note="story hung directly under an initiative")
        epic = self.add(data, "Epic", "Streaming ingestion for clickstream", parent=data_next,
                        category="indeterminate", outcome=self.outcome(data, "streaming ingestion"))
        self.items(data, epic, 2, thing="streaming ingestion")
        self.add(data, "Initiative", "Real-time metrics everywhere", parent=epic, category="new",
                 outcome=self.outcome(data, "the metrics layer"), note="initiative parented to an epic")
        self.add(data, "Story", "Document the metrics glossary", category="indeterminate",
                 note="story with no parent at all")
        self.add(data, "Bug", "Late-arriving events double-counted", parent=epic, category="indeterminate",
                 labels=[TECH_DEBT_LABEL], note="tech-debt-agreement label on a bug")
        self.add(data, "Deliverable", "Deliverable: quarterly data quality report", parent=epic, category="new",
                 note='custom type "Deliverable"')
        return self.specs


def _order(spec: Spec) -> tuple:
    return (list(TEAMS).index(spec.project.key), int(spec.key.rsplit("-", 1)[1]))


def render() -> tuple[str, list[Spec], Tally]:
    demo = Demo()
    specs = sorted(demo.build(), key=_order)
    tally = Tally(CLOUD, DEMO_NOW)
    for spec in specs:
        tally.add(spec)
    out = io.StringIO()
    write_pages(demo.b.pages(specs, PAGE_SIZE, seed=SEED), out, one_issue_per_line=True)
    return out.getvalue(), specs, tally


def expected_json(specs: list[Spec], tally: Tally) -> str:
    ffr = tally.feature_factory_ratio()
    data = {
        "snapshot": "bot/demo/workspace.json",
        "config": "bot/demo/govbot.yaml",
        "flavour": CLOUD,
        "now": DEMO_NOW.date().isoformat(),
        "note": "every issue with the default rule ids it must trip (and no others); "
                "rule semantics in tests/data/README.md",
        "issues_scanned": len(specs),
        "findings": sum(tally.by_rule.values()),
        "by_rule": tally.by_rule,
        "feature_factory_ratio": {**ffr, "by_team": {TEAMS[k]: v for k, v in ffr["by_project"].items()}},
        "issues": tally.issues,
    }
    return json.dumps(data, indent=1) + "\n"


def readme_tables(specs: list[Spec], tally: Tally) -> str:
    lines = ["| Project | Team | " + " | ".join(_TYPES) + " | Total |",
             "|---|---|" + "---:|" * (len(_TYPES) + 1)]
    for key, team in TEAMS.items():
        counts = [sum(1 for s in specs if s.project.key == key and s.type.name == t) for t in _TYPES]
        lines.append(f"| {key} | {team} | " + " | ".join(str(c) for c in counts) + f" | {sum(counts)} |")
    totals = [sum(1 for s in specs if s.type.name == t) for t in _TYPES]
    lines.append("| **all** | | " + " | ".join(str(c) for c in totals) + f" | **{len(specs)}** |")
    clean = sum(1 for fired in tally.issues.values() if not fired)
    ffr = tally.feature_factory_ratio()
    lines += ["", f"{clean} of {len(specs)} issues are clean. Feature Factory Ratio: "
              f"{ffr['overall']}% overall ({ffr['counts']['overall'][0]} of {ffr['counts']['overall'][1]} "
              "themes, initiatives and epics without an anticipated outcome); by team: "
              + ", ".join(f"{TEAMS[k]} {v}%" for k, v in ffr["by_project"].items()) + ".", "",
              "| Rule | Severity | Findings | Seeded in | What is wrong there |", "|---|---|---:|---|---|"]
    by_key = {s.key: s for s in specs}
    for rule in RULES:
        keys = tally.examples[rule]
        notes = "; ".join(f"{k}: {by_key[k].note}" for k in keys if by_key[k].note) or "-"
        lines.append(f"| `{rule}` | {SEVERITY[rule]} | {len(keys)} | {', '.join(keys)} | {notes} |")
    counter = [(s.key, s.note) for s in specs if s.note.startswith("clean:")]
    lines += ["", "Clean counterexamples next to the seeded ones: "
              + "; ".join(f"{k} ({note[len('clean: '):]})" for k, note in counter) + "."]
    skipped = [s.key for s in specs if "directly under an initiative" in s.note]
    lines += ["", f"A story directly under an initiative ({', '.join(skipped)}) is reported by "
              "`work-hierarchy-skipped-level` only, not also as a story without an epic."]
    return "\n".join(lines)


_TYPES = ("Theme", "Initiative", "Epic", "Feature", "Story", "Bug", "Task", "Sub-task", "Release",
          "Deliverable", "Work Package")
_MARKERS = ("<!-- tables:start (written by build.py) -->", "<!-- tables:end -->")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the bundled demo workspace.")
    parser.add_argument("--check", action="store_true", help="exit 1 if workspace.json or the README is stale")
    parser.add_argument("--no-expected", action="store_true",
                        help="do not write tests/data/demo_workspace.expected.json")
    args = parser.parse_args(argv)
    workspace, specs, tally = render()
    readme = README.read_text(encoding="utf-8")
    start, end = readme.index(_MARKERS[0]) + len(_MARKERS[0]), readme.index(_MARKERS[1])
    readme = readme[:start] + "\n" + readme_tables(specs, tally) + "\n" + readme[end:]
    outputs = {WORKSPACE: workspace, README: readme}
    if not args.no_expected and EXPECTED.parent.is_dir():
        outputs[EXPECTED] = expected_json(specs, tally)
    stale = [path for path, text in outputs.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path} is out of date; run python tools/build_demo.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(outputs[path], encoding="utf-8")
    missing = [rule for rule in RULES if tally.by_rule[rule] < 2]
    print(f"{len(specs)} issues, {sum(tally.by_rule.values())} seeded findings, "
          f"{len(workspace) / 1e6:.2f} MB; wrote {len(stale)} file(s)", file=sys.stderr)
    if missing:
        print(f"warning: fewer than two violations of {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
