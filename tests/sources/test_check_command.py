"""`govbot check KEY...`: every rule's verdict, passes included, from a snapshot or live Jira."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.runs.check import parse_keys
from bot.commands.check import check
from bot.errors import UsageError
from fakejira import CLOUD_ENV, FakeJira, adf, cloud_issue, make_config, mock

GOOD_OUTCOME = adf(("h2", "Anticipated Outcome"), ("p", "80% of new users finish onboarding within 7 days by Q3"))


def site() -> list[dict]:
    return [
        cloud_issue("INIT-1", "Initiative", description=adf(("p", "Anticipated Outcome: churn below 2% by Q4"))),
        cloud_issue("PAY-1", "Epic", parent="INIT-1", parent_type="Initiative", description=GOOD_OUTCOME),
        cloud_issue("PAY-2", "Epic", parent="INIT-1", parent_type="Initiative", summary="Faster checkout",
                    description=adf(("h2", "Anticipated Outcome"), ("p", "TBD"))),
        cloud_issue("PAY-3", "Story", parent="PAY-1"),
    ]


def invoke(*args, env=None):
    return CliRunner().invoke(check, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def snapshot(tmp_path):
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({"issues": site()}))
    return str(path)


def test_text_lists_failures_and_passes(snapshot):
    result = invoke("PAY-2", "--snapshot", snapshot, "--now", "2026-03-01")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("PAY-2  Epic  Faster checkout  https://example.atlassian.net/browse/PAY-2")
    assert lines[1].split() == ["FAIL", "error", "anticipated-outcome-missing"]
    assert any(line.split()[:2] == ["pass", "work-hierarchy-inverted"] for line in lines)
    assert lines[-1].startswith("1 issue checked: 1 finding (1 error, 0 warnings, 0 info), ")
    assert "\x1b[" not in result.output  # no colour off a terminal


def test_a_clean_issue_exits_zero_and_shows_only_passes(snapshot):
    result = invoke("pay-1", "--snapshot", snapshot, "--now", "2026-03-01")
    assert result.exit_code == 0, result.output
    verdicts = [line.split()[0] for line in result.output.splitlines()[1:] if line.startswith("  ")]
    # Rules that do not apply to it are listed on one "n/a" line.
    assert verdicts.count("pass") >= 1 and set(verdicts) <= {"pass", "n/a"}


def test_json_carries_every_verdict(snapshot):
    result = invoke("PAY-1", "PAY-2", "--snapshot", snapshot, "--format", "json", "--now", "2026-03-01")
    data = json.loads(result.output)
    assert [issue["key"] for issue in data["issues"]] == ["PAY-1", "PAY-2"]
    statuses = {v["rule"]: v["status"] for v in data["issues"][1]["verdicts"]}
    assert statuses["anticipated-outcome-missing"] == "fail"
    assert statuses["work-hierarchy-inverted"] == "pass"
    assert data["summary"]["findings"] == 1 and data["missing"] == []
    assert [f["issue"] for f in data["findings"]] == ["PAY-2"]
    assert isinstance(data["notes"], list)  # the same notes as scan's (what could not be judged)


def test_markdown(snapshot):
    result = invoke("PAY-2", "--snapshot", snapshot, "--format", "markdown", "--now", "2026-03-01")
    assert "## [PAY-2](<https://example.atlassian.net/browse/PAY-2>): Faster checkout (Epic)" in result.output
    assert "| fail | error | `anticipated-outcome-missing` |" in result.output
    assert "| pass |  | `work-hierarchy-inverted` |  |" in result.output


def test_unknown_key_is_exit_2_after_reporting_the_others(snapshot):
    result = CliRunner().invoke(check, ["PAY-1", "PAY-99", "--snapshot", snapshot])
    assert result.exit_code == 2
    assert "PAY-1  Epic" in result.stdout
    assert result.stderr.strip() == "govbot: PAY-99: not found in the snapshot"


def test_bad_keys_are_usage_errors():
    assert parse_keys(["pay-1,PAY-2", "PAY-1"]) == ["PAY-1", "PAY-2"]
    with pytest.raises(UsageError, match="'PAY1' is not an issue key"):
        parse_keys(["PAY1"])


def test_live_check_reads_the_issue_and_its_relatives(tmp_path, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail("slept for real"))
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        make_config()
        result = invoke("PAY-2", "--config", "govbot.yaml", "--format", "json", "--now", "2026-03-01",
                        env=CLOUD_ENV)
    data = json.loads(result.output)
    assert result.exit_code == 1
    assert data["summary"]["source"] == "jira:https://example.atlassian.net"
    assert data["issues"][0]["parent"] == "INIT-1"
    bulk = fake.calls_to("/rest/api/3/issue/bulkfetch")
    assert [call["body"]["issueIdsOrKeys"] for call in bulk] == [["PAY-2"], ["INIT-1"]]


def test_live_check_of_a_missing_issue_is_one_line(tmp_path):
    with mock() as rsps:
        FakeJira(site()).install(rsps)
        make_config()
        result = CliRunner().invoke(check, ["PAY-404", "--config", "govbot.yaml"], env=CLOUD_ENV)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "govbot: PAY-404: not found in Jira (or not visible to this user)\n"


def test_a_key_missing_from_the_demo_says_so():
    result = CliRunner().invoke(check, ["NOPE-1"])  # no config, no Jira: the bundled demo
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "govbot: NOPE-1: not in the bundled demo workspace"


def test_waivers_from_the_file_and_from_chat_show_as_in_chat(snapshot, tmp_path):
    """`govbot check` applies every waiver `/govbot check` does: the waiver file and the store's."""
    from datetime import date, datetime, timezone

    from bot.config import load_config
    from bot.store import open_store

    (tmp_path / "waivers.yaml").write_text(
        "waivers:\n  - {issue: PAY-2, rule: anticipated-outcome-missing, reason: discovery spike}\n")
    config = tmp_path / "govbot.yaml"
    config.write_text(f"store: {{url: {tmp_path / 'state.db'}}}\nwaivers: {{file: waivers.yaml}}\n")
    result = invoke("PAY-2", "--snapshot", snapshot, "--config", str(config), "--now", "2026-03-01")
    assert result.exit_code == 0, result.output
    assert [line.split() for line in result.output.splitlines() if "waived" in line.split()[:1]] \
        == [["waived", "error", "anticipated-outcome-missing"]]

    config.write_text(f"store: {{url: {tmp_path / 'state.db'}}}\n")
    with open_store(load_config(config)) as store:
        store.add_snooze("PAY-2", "anticipated-outcome-missing", reason="waived from chat",
                         until=date(2026, 4, 1), now=datetime(2026, 3, 1, tzinfo=timezone.utc), by="sam")
    data = json.loads(invoke("PAY-2", "--snapshot", snapshot, "--config", str(config), "--format", "json",
                             "--now", "2026-03-01").output)
    statuses = {v["rule"]: v["status"] for v in data["issues"][0]["verdicts"]}
    assert statuses["anticipated-outcome-missing"] == "waived" and data["summary"]["waived"] == 1


def test_a_store_that_cannot_be_opened_costs_only_the_chat_waivers(snapshot, tmp_path):
    (tmp_path / "state.db").write_text("not a database, " * 100)
    config = tmp_path / "govbot.yaml"
    config.write_text(f"store: {{url: {tmp_path / 'state.db'}}}\n")
    result = invoke("PAY-2", "--snapshot", snapshot, "--config", str(config), "--now", "2026-03-01")
    assert result.exit_code == 1
    assert "note: waivers from chat could not be read" in result.output


def test_help_documents_every_exit_code():
    text = " ".join(CliRunner().invoke(check, ["--help"]).output.split())
    assert "3 Jira or the state store unavailable (after retries)" in text
    assert "a wrong or unknown Jira host" in text and "4 some issues or their relatives could not be read" in text


def test_json_summary_has_the_scans_keys_and_every_rules_verdict(snapshot):
    """The documented contract: `check` JSON uses the same summary keys as `scan`, plus verdict counts,
    and lists every active rule per issue, not-applicable ones included."""
    check = json.loads(invoke("PAY-2", "--snapshot", snapshot, "--format", "json", "--now", "2026-03-01").output)
    scan = json.loads(CliRunner().invoke(cli, ["scan", "--snapshot", snapshot, "--format", "json", "--now",
                                               "2026-03-01", "--fail-on", "never"]).stdout)
    assert set(scan["summary"]) <= set(check["summary"])
    assert check["summary"]["issues_scanned"] == 1 and check["summary"]["feature_factory_ratio"]["rule"]
    counts = check["summary"]["verdicts"]
    rows = check["issues"][0]["verdicts"]
    assert sum(counts.values()) == len(rows) == len(scan["summary"]["rules_evaluated"])
    assert counts["not-applicable"] > 0 and {row["status"] for row in rows} >= {"fail", "pass", "not-applicable"}
