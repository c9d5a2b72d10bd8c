"""Verdicts on real Jira shapes (tests/sources/realsites/README.md): the cases issue 10 names.

Each test scans a file through the CLI's JSON contract, the way a new user would, and pins
what must fire and what must stay quiet: no "story without epic" when an Epic Link holds the
epic's key, no "unmapped" for types Jira places, nothing on work closed outside the window,
outcomes found in tables and panels, site-setup findings once per project for the admins.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.engine.checks.hierarchy import NO_PARENTS
from bot.engine.checks.values import NO_DESCRIPTIONS

HERE = Path(__file__).resolve().parent / "realsites"
NOW = "2026-11-21"


def scan(name: str, *extra: str) -> dict:
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(HERE / name), "--format", "json", "--now", NOW,
                                      "--fail-on", "never", *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def fired(data: dict) -> dict[str, set[str]]:
    """issue key -> rules, a site-setup finding counting for every issue it names."""
    out: dict[str, set[str]] = {}
    for finding in data["findings"]:
        for key in finding.get("issues") or [finding["issue"]]:
            out.setdefault(key, set()).add(finding["rule"])
    return out


def rules_of(data: dict, rule: str) -> list[dict]:
    return [finding for finding in data["findings"] if finding["rule"] == rule]


# -- Data Center 7.2 without names: the Epic Link found by its values ------------------------

def test_angular_epic_link_without_names_is_inferred_and_named_in_a_note():
    data = scan("angular-dc72-excerpt.json")
    got = fired(data)
    # JUZT-23 and JUZT-26 hold customfield_10301 = "JUZT-21", the epic: not orphans.
    assert "work-hierarchy-story-without-epic" not in got.get("JUZT-23", set())
    assert "work-hierarchy-story-without-epic" not in got.get("JUZT-26", set())
    # Open stories with no epic, in a project that uses epics: orphans.
    assert "work-hierarchy-story-without-epic" in got["JUZT-15"]
    assert "work-hierarchy-story-without-epic" in got["JUZT-24"]
    assert any("customfield_10301 read as the Epic Link" in note for note in data["notes"])


def test_angular_history_outside_the_window_is_left_out():
    data = scan("angular-dc72-excerpt.json")
    got = fired(data)
    # Closed in 2017: no outcome, loop or orphan finding about them.
    for key in ("JUZT-1", "JUZT-17", "JUZT-21"):
        assert key not in got, key
    assert data["summary"]["issues_outside_window"] == 4 and data["summary"]["history_days"] == 180
    assert data["summary"]["feature_factory_ratio"]["overall"] is None  # the only epic closed in 2017
    audit = fired(scan("angular-dc72-excerpt.json", "--all-history"))
    assert {"anticipated-outcome-missing", "closing-the-loop-actual-outcome-missing"} <= audit["JUZT-21"]
    assert "work-hierarchy-story-without-epic" in audit["JUZT-1"]


def test_angular_custom_types_are_one_site_setup_finding_per_project_and_type():
    data = scan("angular-dc72-excerpt.json")
    unmapped = {f["evidence"]: f for f in rules_of(data, "work-hierarchy-unmapped-type")}
    assert set(unmapped) == {"Test", "Test Case"}
    test = unmapped["Test"]
    assert test["audience"] == "admin" and test["project"] == "JUZT" and test["owner"] is None
    assert test["issues"] == ["JUZT-2", "JUZT-3", "JUZT-6", "JUZT-7"] and test["count"] == 4
    assert "4 issues use the type \"Test\"" in test["message"] and "JUZT-2, JUZT-3, JUZT-6 and 1 more" in test["message"]
    # Standard types of this site are not reported.
    assert not any(f["evidence"] in ("Story", "Defect", "Epic", "Sub-task") for f in unmapped.values())


# -- Agile API shapes -------------------------------------------------------------------------

def test_agile_epic_object_makes_the_epic_the_parent():
    data = scan("gojira-agile-sprint-issues.json")
    assert data["findings"] == []  # AR-86, a Task under epic AR-37 (closed 2015: outside the window anyway)
    from bot.config import load_config
    from bot.sources.snapshot import load_snapshot

    workspace = load_snapshot(HERE / "gojira-agile-sprint-issues.json", load_config(None, search=False))
    assert workspace.issues["AR-86"].parent_key == "AR-37"
    assert workspace.get("AR-37").level == "epic"


def test_an_agile_epic_with_only_an_id_is_no_orphan_and_a_missing_type_is_no_type():
    from bot.config import load_config
    from bot.sources.snapshot import load_snapshot

    workspace = load_snapshot(HERE / "jiraruby-agile-sprint-issues.json", load_config(None, search=False))
    issue = workspace.issues["HSP-1"]
    assert issue.type == "" and issue.unresolved_parent == "epic 37 (Agile API)"
    data = scan("jiraruby-agile-sprint-issues.json")
    assert data["findings"] == []  # no type "Unknown" reported as unmapped
    assert data["summary"]["issues_without_type"] == {"count": 1, "keys": ["HSP-1"]}
    assert data["summary"]["issues_without_status"]["keys"] == ["HSP-1"]


def test_issues_without_type_or_status_are_listed_once():
    data = scan("atlassian-openapi-v3-search-example.json")
    assert data["findings"] == []
    assert data["summary"]["issues_without_type"]["keys"] == ["ED-1"]
    notes = [note for note in data["notes"] if "came without an issue type" in note]
    assert len(notes) == 1 and "ED-1" in notes[0]


# -- a project with no epics at all ---------------------------------------------------------------

def test_a_project_without_epics_is_one_finding_for_the_admins_not_a_nudge_per_story():
    data = scan("jiraruby-rapidview-full.json")
    assert not rules_of(data, "work-hierarchy-story-without-epic")
    (finding,) = rules_of(data, "work-hierarchy-project-without-epics")
    assert finding["audience"] == "admin" and finding["issues"] == ["SAM-1", "SAM-2"] and finding["project"] == "SAM"
    assert finding["message"].startswith("Project SAM has no epics: 2 active stories roll up to none")


def test_cursor_pages_saved_without_description_or_links_give_no_verdict_on_either():
    # jira-cli saved eleven fields: no description, no parent, no custom field. Epic TEST-4 may state its
    # outcome in its description and story TEST-2 may have a parent: the data cannot say, so neither is a
    # finding, and the summary says once what the export lacked and how to save it.
    data = scan("jiracli-cloud-v3-cursor-pages.json")
    assert fired(data) == {}
    because = {entry["why"]: entry["by_rule"] for entry in data["summary"]["unjudged"]["because"]}
    assert because == {NO_DESCRIPTIONS: {"anticipated-outcome-missing": 1},
                       NO_PARENTS: {"work-hierarchy-story-without-epic": 1, "work-hierarchy-project-without-epics": 1}}
    assert any(note.startswith("1 verdict (anticipated-outcome-missing) could not be given: no issue in the "
                               "snapshot carries a description") for note in data["notes"])
    assert any("fields=*all" in note and "work-hierarchy-story-without-epic" in note for note in data["notes"])
    assert data["summary"]["feature_factory_ratio"]["overall"] is None  # the one epic was not judged either way


def test_lucene_2006_closures_are_outside_the_window_and_the_excerpt_is_partial():
    data = scan("lucene-dc-v2-excerpt.json")
    assert data["findings"] == [] and data["summary"]["issues_outside_window"] == 4
    # Its page says the search matched 4,918 issues: whole-project facts are not judged from 4.
    assert any(note.startswith("the snapshot holds 4 of the 4,918 issues its search matched") for note in data["notes"])


# -- a Chinese Cloud site --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chinese():
    return scan("zh-cloud-v3-localised.json")


def test_chinese_types_with_jira_levels_are_never_unmapped(chinese):
    assert not rules_of(chinese, "work-hierarchy-unmapped-type")
    # A note says which types flow metrics cannot count yet (no untranslatedName in CN).
    assert any(note.startswith("issue types with a level but no flow item kind: 故事 (5)") for note in chinese["notes"])


def test_chinese_orphan_story_is_found_with_or_without_untranslated_name(chinese):
    got = fired(chinese)
    assert got["CN-7"] == {"work-hierarchy-story-without-epic"}     # 故事 used like a story: most sit under epics
    assert got["CNU-2"] == {"work-hierarchy-story-without-epic"}    # untranslatedName "Story"
    for key in ("CN-8", "CN-9", "CNU-3", "CN-4", "CN-10", "CN-11"):  # tasks, bugs, children of epics, sub-tasks
        assert key not in got, key


def test_outcomes_in_any_script_and_in_tables_expands_and_bold_headings(chinese):
    got = fired(chinese)
    assert "anticipated-outcome-missing" not in got.get("CN-1", set())   # ADF table: 顧客満足度を上げる
    assert "CN-2" not in got                                              # ADF expand, with a measure
    assert got["CN-3"] == {"anticipated-outcome-missing"}                 # bold heading over "TBD"
    assert "anticipated-outcome-missing" not in got.get("CNU-1", set())  # Снизить отток клиентов
    assert "CN-12" not in got and "CN-13" not in got                      # closed in 2025 and 2024


# -- a Japanese Data Center site saved without names -----------------------------------------------

@pytest.fixture(scope="module")
def japanese():
    return scan("ja-dc-v2-no-names.json")


def test_japanese_epic_link_and_epic_type_are_found_by_shape(japanese):
    got = fired(japanese)
    for key in ("KES-10", "KES-11", "KES-12", "KES-13"):
        assert "work-hierarchy-story-without-epic" not in got.get(key, set()), key
    assert "work-hierarchy-story-without-epic" in got["KES-14"]
    assert any('"エピック" as the Epic type' in note for note in japanese["notes"])
    assert any("came without names" in note and "expand=names" in note for note in japanese["notes"])
    assert "work-hierarchy-unmapped-type" not in got.get("KES-1", set())  # the Epic type is placed
    assert "KES-17" not in got                                           # subtask: true


def test_japanese_outcomes_in_wiki_tables_and_panels(japanese):
    got = fired(japanese)
    assert "anticipated-outcome-missing" not in got.get("KES-1", set())  # ||Anticipated Outcome|顧客満足度を上げる|
    assert "anticipated-outcome-missing" in got["KES-2"]                 # {panel:title=Anticipated Outcome}TBD
    assert "KES-4" not in got                                            # closed as Duplicate: abandoned
    assert got["KES-3"] == {"closing-the-loop-actual-outcome-missing"}
    (loop,) = rules_of(japanese, "closing-the-loop-actual-outcome-missing")
    assert "was delivered 112 days ago" in loop["message"]


def test_japanese_types_nothing_places_go_to_the_admins_once_each(japanese):
    unmapped = {f["evidence"]: f["count"] for f in rules_of(japanese, "work-hierarchy-unmapped-type")}
    assert unmapped == {"ストーリー": 5, "タスク": 1, "バグ": 1, "テストケース": 2}


# -- French / German names with schema -------------------------------------------------------------

@pytest.fixture(scope="module")
def french():
    return scan("fr-de-dc-v2-names-schema.json")


def test_epic_link_by_schema_and_the_delivered_date_without_a_resolution(french):
    got = fired(french)
    for key in ("VEN-10", "VEN-14"):                                    # under VEN-1; under an epic outside
        assert "work-hierarchy-story-without-epic" not in got.get(key, set())
    assert "work-hierarchy-story-without-epic" in got["VEN-11"]  # (Récit is also one unmapped finding)
    (loop,) = rules_of(french, "closing-the-loop-actual-outcome-missing")
    assert loop["issue"] == "VEN-3"
    assert loop["evidence"] == "older than 30 days (by the status category change date); empty"
    assert "delivered  days" not in loop["message"] and "more than 30 days ago" in loop["message"]


def test_russian_outcome_counts_and_abandoned_epics_are_left_alone(french):
    got = fired(french)
    assert "anticipated-outcome-missing" not in got.get("VEN-1", set())  # Снизить отток клиентов
    assert got.get("VEN-2") == {"anticipated-outcome-missing"}          # "-"
    assert "VEN-4" not in got and "VEN-5" not in got                     # Not A Problem, Obsolete


def test_site_setup_findings_never_reach_owners_or_comments(tmp_path):
    from bot.config import load_config
    from tests.batches import run_delivery
    from bot.engine import load_rules
    from tests.batches import scan as run_scan
    from bot.sources.snapshot import load_snapshot
    from datetime import datetime, timezone

    config_file = tmp_path / "govbot.yaml"
    config_file.write_text(f"store: {{url: 'sqlite:///{tmp_path / 'g.db'}'}}\nslack: {{admin_channel: '#jira-admins'}}\n")
    config = load_config(config_file, env={})
    ruleset = load_rules(None, config)
    workspace = load_snapshot(HERE / "ja-dc-v2-no-names.json", config, ruleset)
    result = run_scan(workspace, ruleset, config, datetime(2026, 11, 23, 10, tzinfo=timezone.utc))
    report = run_delivery(config, result, now=datetime(2026, 11, 23, 10, tzinfo=timezone.utc), apply=False)
    site_setup = {f.fingerprint for f in result.findings if f.site_setup}
    assert site_setup
    for message in report.messages:
        touched = set(message.fingerprints) & site_setup
        if message.kind == "jira_comment" or message.kind == "slack_dm":
            assert not touched, message.label
        elif touched:
            assert message.recipient == "#jira-admins" and message.label.endswith("site setup")
    admin = [m for m in report.messages if m.recipient == "#jira-admins"]
    assert len(admin) == 1 and set(admin[0].fingerprints) == site_setup
    assert "KES-14" in json.dumps(admin[0].payload) or "KES-10" in json.dumps(admin[0].payload)
