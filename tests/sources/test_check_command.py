"""`govbot check KEY...`: every rule's verdict, passes included, from a snapshot or live Jira."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.commands.check import check, parse_keys
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
    assert verdicts and set(verdicts) == {"pass"}


def test_json_carries_every_verdict(snapshot):
    result = invoke("PAY-1", "PAY-2", "--snapshot", snapshot, "--format", "json", "--now", "2026-03-01")
    data = json.loads(result.output)
    assert [issue["key"] for issue in data["issues"]] == ["PAY-1", "PAY-2"]
    statuses = {v["rule"]: v["status"] for v in data["issues"][1]["verdicts"]}
    assert statuses["anticipated-outcome-missing"] == "fail"
    assert statuses["work-hierarchy-inverted"] == "pass"
    assert data["summary"]["findings"] == 1 and data["missing"] == []
    assert [f["issue"] for f in data["findings"]] == ["PAY-2"]


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
