"""The service against live Jira (the fake at the HTTP layer): `/govbot check` and the full rescan."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from bot.service.chat import ChatCommands
from bot.engine import load_rules
from bot.runs.inputs import Inputs
from bot.service import JobCancelled, JobRun, Jobs
from tests.sources.fakejira import FakeJira, adf, cloud_issue, make_config, mock

NOW = datetime(2026, 3, 30, 8, 30, tzinfo=timezone.utc)


def site() -> list[dict]:
    return [
        cloud_issue("INIT-1", "Initiative", description=adf(("p", "Anticipated Outcome: churn below 2% by Q4"))),
        cloud_issue("PAY-1", "Epic", parent="INIT-1", parent_type="Initiative", summary="Pay <b>&</b> go",
                    description=adf(("h2", "Anticipated Outcome"), ("p", "TBD"))),
        cloud_issue("PAY-2", "Story", parent="PAY-1"),
    ]


@pytest.fixture
def live_inputs():
    config = make_config({"projects": ["PAY"]})
    return Inputs(config, load_rules(None, config))


def test_slash_check_reads_the_one_issue_from_jira(live_inputs):
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        name, answer = ChatCommands(live_inputs, clock=lambda: NOW).answer("check PAY-1", {"user_id": "U1"})
    assert name == "check"
    assert "anticipated-outcome-missing" in answer and "Pay &lt;b&gt;&amp;&lt;/b&gt; go" in answer
    assert all("PAY-1" in (call["params"].get("jql") or "PAY-1") for call in fake.searches())


def test_full_rescan_records_the_lifecycle_then_the_cursor(live_inputs, tmp_path):
    from bot.store import open_store

    jobs = Jobs(live_inputs)
    with mock() as rsps:
        FakeJira(site()).install(rsps)
        counts = jobs.full_rescan(JobRun("full-rescan", NOW, apply=False))
    assert counts["summary"]["source"].startswith("jira:") and counts["recorded"]["new"] >= 1
    with open_store(live_inputs.config) as store:
        assert store.recent_runs("scan") and store.finding_states()
        with store.transaction() as connection:
            cursors = connection.exec_driver_sql("SELECT count(*) FROM cursors WHERE scope LIKE 'jira:%'").scalar()
            site_facts = connection.exec_driver_sql("SELECT count(*) FROM cursors WHERE scope LIKE 'jira-site:%'").scalar()
    assert cursors == 1 and site_facts == 1  # the scope's cursor, and what the rescans need not ask the site again


def test_a_stop_while_reading_jira_cancels_before_anything_is_written(live_inputs):
    from bot.store import open_store

    stopping = threading.Event()
    stopping.set()  # progress from the source is the first safe point
    with mock() as rsps:
        fake = FakeJira(site()).install(rsps)
        with pytest.raises(JobCancelled):
            Jobs(live_inputs).full_rescan(JobRun("full-rescan", NOW, apply=False, stopping=stopping))
    assert len(fake.searches()) <= 1
    with open_store(live_inputs.config) as store:
        assert store.recent_runs("scan") == [] and store.get_cursor("anything") is None
