"""What a snapshot did not save is not judged: fields left out of every issue, pages left out of the search.

Jira's search answer carries every field it was asked for, null when empty (`"description": null`);
in pages saved as Jira sent them (with its paging: startAt/total, or isLast), a key absent from every
issue means the export never asked for it. Those verdicts are withheld (nothing found, nothing
resolved) and the summary says once what to save. A key absent from some issues only, or from a bare
`{"issues": [...]}` written by hand, is an empty value.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli
from bot.engine.checks.hierarchy import NO_PARENTS
from bot.engine.checks.values import NO_DESCRIPTIONS

NOW = "2026-11-21"
OPEN = {"name": "In Progress", "statusCategory": {"key": "indeterminate"}}


def issue(key: str, kind: str, **fields) -> dict:
    return {"key": key, "fields": {"issuetype": {"name": kind}, "status": OPEN, "summary": f"{kind} {key}",
                                   "created": "2026-10-01T10:00:00.000+0000",
                                   "updated": "2026-11-01T10:00:00.000+0000", **fields}}


def page(*issues: dict, **paging) -> dict:
    """A search answer as Jira sends it (Data Center /rest/api/2/search paging)."""
    return {"startAt": 0, "maxResults": 50, "total": len(issues), **paging, "issues": list(issues)}


def scan(tmp_path, data) -> dict:
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(path), "--format", "json", "--now", NOW,
                                      "--fail-on", "never"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def fired(data: dict) -> set[tuple[str, str]]:
    return {(key, finding["rule"]) for finding in data["findings"] for key in finding.get("issues") or [finding["issue"]]}


def because(data: dict) -> dict[str, dict[str, int]]:
    return {entry["why"]: entry["by_rule"] for entry in data["summary"].get("unjudged", {}).get("because", [])}


# -- the description -------------------------------------------------------------------------------

def test_an_epic_saved_without_any_description_gets_no_outcome_verdict(tmp_path):
    data = scan(tmp_path, page(issue("PAY-1", "Epic"), issue("PAY-2", "Epic")))
    assert not {rule for _, rule in fired(data)} & {"anticipated-outcome-missing"}
    assert because(data)[NO_DESCRIPTIONS] == {"anticipated-outcome-missing": 2}
    assert sum(NO_DESCRIPTIONS in note for note in data["notes"]) == 1  # said once, for both
    assert data["summary"]["feature_factory_ratio"]["overall"] is None


def test_check_withholds_what_scan_withholds(tmp_path):
    # `check` reads the snapshot whole and narrows it to the keys: what the read knew goes along.
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(page(issue("PAY-1", "Epic"), issue("PAY-2", "Story"))))
    result = CliRunner().invoke(cli, ["check", "PAY-1", "PAY-2", "--snapshot", str(path), "--format", "json",
                                      "--now", NOW], catch_exceptions=False)
    data = json.loads(result.output)
    assert data["findings"] == [] and any(NO_DESCRIPTIONS in note for note in data["notes"])
    rows = {row["rule"]: row["status"] for row in data["issues"][0]["verdicts"]}
    assert rows["anticipated-outcome-missing"] == "not-judged"  # not "not-applicable": the rule applies
    assert data["summary"]["verdicts"]["not-judged"] == 3
    text = CliRunner().invoke(cli, ["check", "PAY-1", "--snapshot", str(path), "--now", NOW]).output
    assert "anticipated-outcome-missing (not judged from this read: see the notes)" in text
    assert NO_DESCRIPTIONS in text.replace("\n", " ")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(page(issue("OPS-1", "Story", description=None, customfield_1=None), total=40)))
    result = CliRunner().invoke(cli, ["check", "OPS-1", "--snapshot", str(partial), "--format", "json",
                                      "--now", NOW], catch_exceptions=False)
    assert json.loads(result.output)["findings"] == []  # "Project OPS has no epics" is not said from 1 of 40


def test_a_null_description_is_an_empty_one(tmp_path):
    data = scan(tmp_path, page(issue("PAY-1", "Epic", description=None)))
    assert ("PAY-1", "anticipated-outcome-missing") in fired(data)
    assert NO_DESCRIPTIONS not in because(data)


def test_a_description_absent_from_some_issues_only_is_empty_there(tmp_path):
    # An export that drops nulls: PAY-2's description came, so PAY-1 simply has none.
    data = scan(tmp_path, page(issue("PAY-1", "Epic"),
                               issue("PAY-2", "Epic", description="Anticipated Outcome: churn below 2% by Q3")))
    assert ("PAY-1", "anticipated-outcome-missing") in fired(data)
    assert ("PAY-2", "anticipated-outcome-missing") not in fired(data)


def test_a_bare_list_of_issues_without_descriptions_is_judged_as_before(tmp_path):
    # No paging: written by hand or by a script, which may well drop empty fields. Absent is empty.
    data = scan(tmp_path, {"issues": [issue("PAY-1", "Epic"), issue("PAY-2", "Story")]})
    assert {("PAY-1", "anticipated-outcome-missing"), ("PAY-2", "work-hierarchy-story-without-epic")} <= fired(data)
    assert not because(data)


def test_an_outcome_in_its_field_is_judged_without_descriptions(tmp_path):
    data = scan(tmp_path, page(issue("PAY-1", "Epic", customfield_10050="Churn below 2% by Q3"),
                               issue("PAY-2", "Epic", customfield_10050="TBD"),
                               names={"customfield_10050": "Anticipated Outcome"}))
    got = fired(data)
    assert ("PAY-1", "anticipated-outcome-missing") not in got
    # A placeholder in the field: the real outcome may sit in the description nobody saved.
    assert ("PAY-2", "anticipated-outcome-missing") not in got
    assert because(data)[NO_DESCRIPTIONS] == {"anticipated-outcome-missing": 1}


def test_a_rule_that_reads_only_the_field_is_judged_without_descriptions(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "outcome-field.yaml").write_text(
        "rules:\n  - id: outcome-field-empty\n    title: Outcome field empty\n    severity: warning\n"
        "    scope: {min_level: epic}\n    condition: {missing: {field: Anticipated Outcome, in: [field]}}\n"
        "    message: '{{ issue.key }} has no outcome in its field'\n"
        "    docs: {what: The outcome field is empty, why: It is read by a report, example: PAY-1, fix: Fill it in}\n")
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(page(issue("PAY-1", "Epic"))))
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(path), "--rules", str(tmp_path / "rules"),
                                      "--format", "json", "--now", NOW, "--fail-on", "never"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ("PAY-1", "outcome-field-empty") in fired(json.loads(result.output))


# -- the links to parents --------------------------------------------------------------------------

def test_a_story_saved_without_any_link_field_is_no_orphan(tmp_path):
    data = scan(tmp_path, page(issue("PAY-1", "Epic", description=None), issue("PAY-2", "Story")))
    assert ("PAY-2", "work-hierarchy-story-without-epic") not in fired(data)
    assert because(data)[NO_PARENTS] == {"work-hierarchy-story-without-epic": 1,
                                         "work-hierarchy-project-without-epics": 1}
    assert ("PAY-1", "anticipated-outcome-missing") in fired(data)  # the epic itself is still judged


def test_links_saved_for_some_issues_make_the_others_orphans(tmp_path):
    data = scan(tmp_path, page(issue("PAY-1", "Epic", description=None),
                               issue("PAY-2", "Story", parent={"key": "PAY-1"}),
                               issue("PAY-3", "Story")))
    assert ("PAY-3", "work-hierarchy-story-without-epic") in fired(data)
    assert ("PAY-2", "work-hierarchy-story-without-epic") not in fired(data)
    assert NO_PARENTS not in because(data)


def test_a_null_custom_field_means_links_were_saved(tmp_path):
    # A Data Center export with fields=*all: the unnamed Epic Link is null on the story.
    data = scan(tmp_path, page(issue("PAY-1", "Epic", description=None, customfield_10008=None),
                               issue("PAY-2", "Story", customfield_10008=None)))
    assert ("PAY-2", "work-hierarchy-story-without-epic") in fired(data)


# -- pages left out --------------------------------------------------------------------------------

def test_a_page_whose_total_is_larger_than_the_snapshot_is_a_partial_read(tmp_path):
    stories = [issue(f"OPS-{n}", "Story", description=None, customfield_10008=None) for n in range(1, 4)]
    whole = scan(tmp_path, page(*stories))
    assert ("OPS-1", "work-hierarchy-project-without-epics") in fired(whole)
    assert not any(note.startswith("the snapshot holds") for note in whole.get("notes", []))

    part = scan(tmp_path, page(*stories, maxResults=3, total=40))
    # Project OPS may well have epics among the 37 issues not saved.
    assert ("OPS-1", "work-hierarchy-project-without-epics") not in fired(part)
    assert any(note.startswith("the snapshot holds 3 of the 40 issues its search matched")
               for note in part["notes"])


def test_cursor_pages_that_stop_before_the_last_are_a_partial_read(tmp_path):
    stories = [issue(f"OPS-{n}", "Story", description=None, customfield_10008=None) for n in range(1, 3)]
    pages = [{"issues": stories[:1], "isLast": False, "nextPageToken": "page-2"},
             {"issues": stories[1:], "isLast": False, "nextPageToken": "page-3"}]
    data = scan(tmp_path, pages)
    assert not fired(data)
    assert any(note.startswith("the snapshot holds only the first pages of its search") for note in data["notes"])
    pages[-1] = {"issues": stories[1:], "isLast": True}
    assert ("OPS-1", "work-hierarchy-project-without-epics") in fired(scan(tmp_path, pages))


def test_repeated_pages_do_not_count_twice_towards_the_total(tmp_path):
    # go-jira's recorded Data Center pages: total 6, the same two keys on every page.
    one, two = issue("BULK-1", "Story", description=None), issue("BULK-2", "Story", description=None)
    pages = [{"startAt": start, "maxResults": 2, "total": 6, "issues": [one, two]} for start in (0, 2, 4)]
    data = scan(tmp_path, pages)
    assert any(note.startswith("the snapshot holds 2 of the 6 issues") for note in data["notes"])


# -- a key in a field nobody named -----------------------------------------------------------------

def test_a_story_holding_an_issue_key_in_an_unnamed_field_is_no_orphan(tmp_path):
    # Data Center saved without names: PAY-2's customfield_10008 names ZZ-999, an epic in a project
    # outside the read (Epic Links cross projects), so it may well roll up to one. PAY-3 holds nothing.
    from bot.engine.checks.hierarchy import MAYBE_LINKED

    data = scan(tmp_path, page(issue("PAY-1", "Epic", description="Anticipated Outcome: churn below 2% by Q3",
                                     customfield_10008=None),
                               issue("PAY-2", "Story", customfield_10008="ZZ-999"),
                               issue("PAY-3", "Story", customfield_10008=None)))
    assert ("PAY-2", "work-hierarchy-story-without-epic") not in fired(data)
    assert ("PAY-3", "work-hierarchy-story-without-epic") in fired(data)
    assert because(data)[MAYBE_LINKED] == {"work-hierarchy-story-without-epic": 1,
                                           "work-hierarchy-project-without-epics": 1}
    # Named, the field says what it is: a "Blocked by" field holding a key is no parent.
    named = scan(tmp_path, page(issue("PAY-1", "Epic", customfield_10008=None, customfield_10014=None),
                                issue("PAY-2", "Story", customfield_10008="ZZ-999", customfield_10014=None),
                                names={"customfield_10008": "Blocked by", "customfield_10014": "Epic Link"}))
    assert ("PAY-2", "work-hierarchy-story-without-epic") in fired(named)
    # Where a story sits under its epic by `parent` (Cloud), a key in an unnamed field is no Epic Link;
    # nor is a field that holds one key on a story whose parent is another ("PI-7": a release train).
    cloud = scan(tmp_path, page(issue("PAY-1", "Epic", description=None),
                                issue("PAY-2", "Story", parent={"key": "PAY-1"}, customfield_10050="PI-7"),
                                issue("PAY-3", "Story", customfield_10050="PI-7")))
    assert ("PAY-3", "work-hierarchy-story-without-epic") in fired(cloud)


def test_named_fields_that_link_nothing_do_not_say_links_were_saved(tmp_path):
    # fields=summary,status,issuetype,description,customfield_10002: Story Points, named; no parent asked.
    data = scan(tmp_path, page(issue("PAY-1", "Epic", description="Anticipated Outcome: churn below 2% by Q3",
                                     customfield_10002=None),
                               issue("PAY-2", "Story", description=None, customfield_10002=3.0),
                               names={"description": "Description", "customfield_10002": "Story Points"}))
    assert ("PAY-2", "work-hierarchy-story-without-epic") not in fired(data)
    assert NO_PARENTS in because(data)
    # Cloud leaves `parent` out of an issue that has none: `names` listing it says it was asked for.
    asked = scan(tmp_path, page(issue("PAY-1", "Epic", description=None), issue("PAY-2", "Story", description=None),
                                names={"parent": "Parent", "description": "Description"}))
    assert ("PAY-2", "work-hierarchy-story-without-epic") in fired(asked)


# -- names -----------------------------------------------------------------------------------------

def test_field_names_with_stray_spaces_or_a_plural_are_the_outcome_field(tmp_path):
    data = scan(tmp_path, page(issue("PAY-1", "Epic", description=None, customfield_1="Churn below 2% by Q3"),
                               issue("PAY-2", "Epic", description=None, customfield_2="Churn below 2% by Q3"),
                               names={"customfield_1": "Anticipated Outcome ", "customfield_2": "Anticipated Outcomes"}))
    assert not {key for key, rule in fired(data) if rule == "anticipated-outcome-missing"}


def test_the_unnamed_fields_note_suggests_a_field_that_holds_sentences(tmp_path):
    # A Rank and a select option come first by id; the sentence is what an outcome field would hold.
    data = scan(tmp_path, page(issue("PAY-1", "Epic", description=None, customfield_10009="0|100004:",
                                     customfield_10039={"value": "High", "id": "10030"},
                                     customfield_10305="Churn below two percent by the third quarter")))
    note = next(note for note in data["notes"] if "came without names" in note)
    assert note.startswith("3 custom fields (customfield_10009, customfield_10039, customfield_10305) came without")
    assert "read only description sections here" in note and "[customfield_10305]" in note
    bare = scan(tmp_path, page(issue("PAY-1", "Epic", description=None, customfield_10009="0|100004:")))
    assert "[customfield_NNNNN]" in next(note for note in bare["notes"] if "came without names" in note)


def test_each_search_in_a_file_is_held_to_its_own_total(tmp_path):
    # Two searches saved into one file: OPS stopped after 3 of its 5 issues; WEB is whole (and has more
    # issues than OPS matched, so the file as a whole looked complete).
    ops = [issue(f"OPS-{n}", "Story", description=None, customfield_1=None) for n in range(1, 4)]
    web = [issue(f"WEB-{n}", "Story", description=None, customfield_1=None) for n in range(1, 6)]
    web.append(issue("WEB-9", "Epic", description=None, customfield_1=None))
    data = scan(tmp_path, [page(*ops, maxResults=3, total=5), page(*web)])
    assert ("OPS-1", "work-hierarchy-project-without-epics") not in fired(data)
    assert any(note.startswith("the snapshot holds only part of 1 of its 2 searches") for note in data["notes"])
    # Cursor pages: a search ends at the page that says isLast, and the next page starts another.
    # (A page after one that says more follow reads as that search's next page: nothing tells them apart.)
    whole = scan(tmp_path, [{"isLast": False, "nextPageToken": "t", "issues": ops[:2]},
                            {"isLast": True, "issues": ops[2:]}, {"isLast": True, "issues": web}])
    assert ("OPS-1", "work-hierarchy-project-without-epics") in fired(whole)
    cut = scan(tmp_path, [{"isLast": True, "issues": web}, {"isLast": False, "nextPageToken": "t", "issues": ops}])
    assert ("OPS-1", "work-hierarchy-project-without-epics") not in fired(cut)
