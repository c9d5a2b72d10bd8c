"""`govbot scan` end to end through the CLI: formats, exit codes, bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli


def issue(key, type_name, category="indeterminate", **fields):
    return {"id": key.split("-")[1], "key": key, "self": f"https://acme.atlassian.net/rest/api/3/issue/{key}",
            "fields": {"summary": fields.pop("summary", f"{type_name} {key}"), "issuetype": {"name": type_name},
                       "project": {"key": key.split("-")[0]},
                       "status": {"name": "x", "statusCategory": {"key": category}}, "labels": [], **fields}}


@pytest.fixture
def snapshot(tmp_path):
    data = {"names": {"customfield_1": "Anticipated Outcome"}, "issues": [
        issue("PAY-1", "Epic", customfield_1="Lift retention 25% by Q3"),
        issue("PAY-2", "Epic", customfield_1="TBD"),
        issue("PAY-3", "Story", parent={"key": "PAY-1"}),
        issue("MOB-1", "Epic", description={"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Anticipated Outcome: make it nicer"}]}]}),
        issue("MOB-2", "Epic", summary="<!channel> \x1b[31mred", labels=["govbot-waive-anticipated-outcome-missing"]),
    ]}
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(data))
    return path


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_json_contract(snapshot):
    result = run("scan", "--snapshot", str(snapshot), "--format", "json", "--now", "2026-06-01")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert set(data) >= {"findings", "summary", "notes"}  # notes always, a list even with nothing to say
    assert isinstance(data["notes"], list)
    assert {"rule", "issue", "severity", "message"} <= set(data["findings"][0])
    summary = data["summary"]
    assert summary["issues_scanned"] == 5
    assert summary["by_rule"] == {"anticipated-outcome-missing": 1, "anticipated-outcome-unmeasurable": 1}
    # PAY-2 missing, MOB-2 missing (waived still counts): 2 of 4 epics.
    assert summary["feature_factory_ratio"]["overall"] == 50.0
    assert summary["feature_factory_ratio"]["by_team"] == {"MOB": 50.0, "PAY": 50.0}
    waived = [f for f in data["findings"] if f["waived"]]
    assert [f["issue"] for f in waived] == ["MOB-2"]


def test_fail_on_threshold(snapshot):
    assert run("scan", "--snapshot", str(snapshot), "--fail-on", "never").exit_code == 0
    assert run("scan", "--snapshot", str(snapshot), "--fail-on", "info").exit_code == 1


def test_text_output_has_no_control_characters(snapshot):
    result = run("scan", "--snapshot", str(snapshot), "--show-waived")
    assert "\x1b" not in result.output
    assert "PAY-2" in result.output and "Feature Factory Ratio: 50.0%" in result.output


def test_markdown_escapes_jira_text(snapshot):
    result = run("scan", "--snapshot", str(snapshot), "--format", "markdown")
    assert "| PAY-2" in result.output or "[PAY-2]" in result.output
    assert "<!channel>" not in result.output


@pytest.mark.parametrize("args, message", [
    (["--snapshot", "missing.json"], "snapshot file not found"),
    (["--format", "xml"], "Invalid value for '--format'"),
    (["--now", "31/12/2026"], "--now: '31/12/2026' is not a date"),
    (["--now", "0001-01-01"], "--now: '0001-01-01' is outside the years 1900 to 9000"),
    (["--jql", "project = NOPE"], "--jql queries live Jira; a snapshot or the bundled demo is read whole"),
])
def test_bad_input_exit_2_without_traceback(args, message):
    result = CliRunner().invoke(cli, ["scan", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_jql_with_a_snapshot_is_refused_rather_than_ignored(snapshot):
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--jql", "project = MOB"])
    assert result.exit_code == 2 and "--jql queries live Jira" in result.output and "PAY-2" not in result.output


def test_counts_in_the_summary_line_are_singular_for_one(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"issues": [issue("A-1", "Epic"), {"key": "A-2"}]}))
    result = run("scan", "--snapshot", str(path), "--now", "2026-06-01")
    assert "1 issue scanned, 1 finding (1 error, 0 warnings, 0 info)" in result.output
    assert "1 malformed issue skipped" in result.output


def test_clean_snapshot_exits_zero(tmp_path):
    path = tmp_path / "clean.json"
    path.write_text(json.dumps({"issues": [issue("A-1", "Story", parent={"key": "A-0", "fields": {
        "issuetype": {"name": "Epic"}}})]}))
    result = run("scan", "--snapshot", str(path))
    assert result.exit_code == 0, result.output
    assert "1 issue scanned, 0 findings" in result.output


def test_waiver_file_applies_to_scan_as_to_check_and_nudge(snapshot, tmp_path):
    (tmp_path / "waivers.yaml").write_text(
        "- issue: PAY-2\n  rule: anticipated-outcome-missing\n  reason: agreed at kickoff\n  until: 2026-12-31\n")
    (tmp_path / "govbot.yaml").write_text("waivers: {file: waivers.yaml}\nstore: {url: sqlite:///" +
                                          str(tmp_path / "s.db") + "}\n")
    result = run("scan", "--snapshot", str(snapshot), "--config", str(tmp_path / "govbot.yaml"),
                 "--format", "json", "--now", "2026-06-01")
    data = json.loads(result.output)
    waived = {f["issue"] for f in data["findings"] if f["waived"]}
    assert waived == {"PAY-2", "MOB-2"}
    assert result.exit_code == 0  # the only error-level findings are waived
    assert not (tmp_path / "s.db").exists()  # scan reads the store, never creates or writes it


def test_a_waiver_naming_no_rule_says_so_once_with_the_nearest_id(snapshot, tmp_path):
    # A typo in the rule id: the finding keeps coming back while its owner believes it waived.
    (tmp_path / "waivers.yaml").write_text(
        "- issue: PAY-2\n  rule: anticipated-outcome-missing\n  reason: agreed at kickoff\n"
        "- issue: PAY-3\n  rule: anticipated-outcome-mising\n  reason: agreed at kickoff\n"
        "- issue: PAY-1\n  rule: '*'\n  reason: all of it\n")
    (tmp_path / "govbot.yaml").write_text("waivers: {file: waivers.yaml}\n")
    result = run("scan", "--snapshot", str(snapshot), "--config", str(tmp_path / "govbot.yaml"),
                 "--format", "json", "--now", "2026-06-01", "--fail-on", "never")
    notes = [note for note in json.loads(result.output)["notes"] if "waiver" in note]
    assert notes == [f"the waiver at {tmp_path / 'waivers.yaml'}:4 names rule 'anticipated-outcome-mising', which "
                     f"no loaded rule has (did you mean 'anticipated-outcome-missing'?): it waives nothing on PAY-3"]


@pytest.mark.parametrize("fail_on, complete, with_finding, code", [
    ("error", True, True, 0), ("warning", True, True, 1), ("warning", False, True, 1),
    ("warning", False, False, 4), ("never", True, True, 0), ("never", False, True, 4),
])
def test_exit_code_table(fail_on, complete, with_finding, code):
    from bot.model import Finding, Severity
    from bot.runs.batch import exit_code_for

    findings = [Finding("r", "A-1", Severity.WARNING, "m")] if with_finding else []
    assert exit_code_for(findings, fail_on, complete) == code


# -- a scan that judged nothing is not clean ----------------------------------------------------------------

def test_an_empty_rule_folder_is_not_a_clean_scan(snapshot, tmp_path):
    empty = tmp_path / "no-rules"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(snapshot), "--only-rules", str(empty),
                                      "--format", "json", "--now", "2026-06-01"])
    assert result.exit_code == 4, result.output
    assert result.stderr.strip() == ("govbot: scan incomplete: no rule was evaluated (the rule set is empty "
                                     "or every rule is disabled)")
    assert json.loads(result.stdout)["summary"]["complete"] is False


@pytest.mark.parametrize("body", [{"issues": [1]}, {"issues": [{"key": "PAY-1"}, {"key": "PAY-2"}]}])
def test_a_snapshot_whose_every_issue_was_skipped_is_not_a_clean_scan(tmp_path, body):
    path = tmp_path / "skipped.json"
    path.write_text(json.dumps(body))
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(path), "--format", "json", "--now", "2026-06-01"])
    assert result.exit_code == 4, result.output
    summary = json.loads(result.stdout)["summary"]
    assert summary["complete"] is False and summary["issues_scanned"] == 0
    assert "no issue could be read" in result.stderr


def test_the_ffr_says_when_no_rule_defines_it(snapshot, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("""rules:
  - id: epic-summary-wip
    title: Epic summary says WIP
    severity: info
    scope: {levels: [epic]}
    condition: {matches: {field: summary, pattern: WIP}}
    message: "{{ issue.key }} is marked WIP."
    docs: {what: w, why: y, example: e, fix: f}
""")
    result = run("scan", "--snapshot", str(snapshot), "--only-rules", str(rules), "--now", "2026-06-01")
    assert ("Feature Factory Ratio: not computed (no loaded rule carries `metric: feature-factory-ratio`)"
            in result.output)


def test_the_ffr_is_computed_when_the_rule_that_defines_it_is_disabled(snapshot, tmp_path):
    config = tmp_path / "govbot.yaml"
    config.write_text("rules: {disable: [anticipated-outcome-missing]}\n")
    data = json.loads(run("scan", "--snapshot", str(snapshot), "--config", str(config), "--format", "json",
                          "--now", "2026-06-01", "--fail-on", "never").output)
    assert "anticipated-outcome-missing" not in data["summary"]["by_rule"]
    assert data["summary"]["feature_factory_ratio"]["counts"]["total"] == 4
