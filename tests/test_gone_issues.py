"""Issues gone from Jira: a whole, complete read of the scope that no longer returns an issue with open
findings asks Jira (one key-only search of the scope) and resolves only what Jira confirms is gone;
never on a partial or failed read, a failed confirmation, or a snapshot."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from bot.engine import load_rules
from bot.runs.batch import ALWAYS, open_batch
from bot.runs.inputs import Inputs, Read
from bot.store import open_store
from tests.sources.fakejira import CLOUD_ENV, DC_ENV, FakeJira, cloud_issue, dc_issue, make_config, mock

NOW = datetime(2026, 3, 30, 8, 30, tzinfo=timezone.utc)
RULE = "anticipated-outcome-missing"


def site(cloud: bool) -> list[dict]:
    make = cloud_issue if cloud else dc_issue
    return [make(key, "Epic", summary=f"Epic {key}") for key in ("PAY-1", "PAY-2", "PAY-3")]


def inputs_for(cloud: bool, projects=("PAY",)) -> Inputs:
    config = make_config({"projects": list(projects)}, env=CLOUD_ENV if cloud else DC_ENV)
    return Inputs(config, load_rules(None, config))


def scan(inputs: Inputs, *, read: Read | None = None, now: datetime = NOW):
    with open_store(inputs.config) as store:
        with open_batch(inputs, now, read=read, store=store, record=ALWAYS, carry=True) as batch:
            return batch


def open_issues(inputs: Inputs) -> set[str]:
    with open_store(inputs.config, dry_run=True) as store:
        return {state.issue for state in store.finding_states(open_only=True).values()}


def key_checks(jira: FakeJira) -> list[str]:
    jql = [call["params"].get("jql") or (call["body"] or {}).get("jql") or "" for call in jira.searches()]
    # Scoped key checks only: a Data Center scan also reads the owners of the issues with findings
    # by a `key in (...)` search, unscoped (bot/sources/owners.py).
    return [text for text in jql if "key in" in text and not text.startswith("key in")]


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "datacenter"])
def test_a_deleted_or_moved_issue_has_its_findings_resolved_once_jira_confirms_it(cloud):
    with mock() as rsps:
        jira = FakeJira(site(cloud), cloud=cloud).install(rsps)
        inputs = inputs_for(cloud)
        first = scan(inputs)
        assert {f.issue for f in first.findings if f.rule == RULE} == {"PAY-1", "PAY-2", "PAY-3"}
        assert not key_checks(jira)  # nothing was open before: nothing to ask
        del jira.issues["PAY-2"]                                     # deleted in Jira
        jira.issues["PAY-3"]["fields"]["project"] = {"key": "MOB"}   # moved out of the scope
        before = len(jira.searches())
        later = NOW + timedelta(hours=1)
        second = scan(inputs, now=later)
        assert second.gone == {"PAY-2", "PAY-3"}
        assert not any(f.issue in second.gone for f in second.carried)  # nobody is reminded about them
        assert open_issues(inputs) == {"PAY-1"}
        checks = key_checks(jira)
        assert checks and all(text.startswith("(project = PAY) AND key in (") for text in checks)
        # Cloud answers in one request; Data Center refuses the unknown key (400) and is asked once more,
        # and reads the owners of PAY-1 by a search (Cloud: by bulkfetch, not a search).
        assert len(jira.searches()) - before == (2 if cloud else 4)
        assert set(second.record.resolved) >= {f.fingerprint for f in first.findings if f.issue != "PAY-1"}
        with open_store(inputs.config, dry_run=True) as store:
            states = store.finding_states()
            health = store.rule_health(later)
        assert {s.resolved_as for s in states.values() if s.issue in second.gone} == {"gone"}
        assert health[RULE].fixed == 0  # deleted or moved is not fixed: the digest does not count it
        from bot.digest.figures import week_changes

        changes = week_changes(states.values(), NOW, later)
        assert changes is not None and not changes.fixed
        # The next full read has nothing left to ask about.
        scan(inputs, now=later)
        assert len(key_checks(jira)) == len(checks)
        # Moved back into the scope: its finding reopens, as any returning finding does.
        jira.issues["PAY-3"]["fields"]["project"] = {"key": "PAY"}
        scan(inputs, now=later)
        with open_store(inputs.config, dry_run=True) as store:
            back = [s for s in store.finding_states().values() if s.issue == "PAY-3" and s.rule == RULE]
        assert back and back[0].open and back[0].resolved_as is None and back[0].reopened == 1


def test_an_issue_the_read_left_out_but_jira_still_has_stays_open():
    # A whole read is the question, never the answer: an issue it did not return (a lost page, an issue
    # skipped as malformed) but that Jira still has in the scope keeps its findings.
    with mock() as rsps:
        jira = FakeJira(site(True)).install(rsps)
        inputs = inputs_for(True)
        scan(inputs)
        from bot.runs.inputs import read_workspace

        workspace = read_workspace(inputs, Read())
        assert workspace.whole_scope and workspace.complete
        del workspace.issues["PAY-2"]
        batch = scan(inputs, read=Read(workspace=workspace))
        assert batch.gone == set()
        assert key_checks(jira)  # it did ask
        assert "PAY-2" in open_issues(inputs)
        assert any(f.issue == "PAY-2" for f in batch.carried)


def test_nothing_is_resolved_on_a_partial_or_failed_read_or_when_jira_cannot_confirm():
    with mock() as rsps:
        jira = FakeJira(site(True)).install(rsps)
        inputs = inputs_for(True)
        scan(inputs)
        del jira.issues["PAY-2"]
        from bot.runs.inputs import read_workspace

        # A read that could not read everything in scope.
        workspace = read_workspace(inputs, Read())
        workspace.complete = False
        assert scan(inputs, read=Read(workspace=workspace)).gone == set()
        # Changes only (an incremental read) and named issues.
        workspace = read_workspace(inputs, Read())
        workspace.partial = True
        assert scan(inputs, read=Read(workspace=workspace)).gone == set()
        assert scan(inputs, read=Read(keys=["PAY-1"])).gone == set()
        # A read of --jql rather than the configured scope.
        assert not read_workspace(inputs, Read(jql="project = PAY")).whole_scope
        assert not key_checks(jira)
        # The confirming search fails: a note, and the findings stay open.
        jira.fail("/rest/api/3/search/jql", len(jira.searches()) + 2, status=403)
        batch = scan(inputs)
        assert batch.gone == set() and "PAY-2" in open_issues(inputs)
        assert any("their findings stay open" in note for note in batch.notes)
        # Asked again on the next whole read, it is confirmed.
        assert scan(inputs).gone == {"PAY-2"} and "PAY-2" not in open_issues(inputs)


def test_a_snapshot_without_an_issue_resolves_nothing(tmp_path):
    # A snapshot does not claim to hold the whole scope, so a key missing from it proves nothing.
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps({"issues": site(True)}))
    inputs = inputs_for(True)
    scan(inputs, read=Read(snapshot=str(snapshot)))
    assert open_issues(inputs) >= {"PAY-1", "PAY-2"}
    snapshot.write_text(json.dumps({"issues": [i for i in site(True) if i["key"] != "PAY-2"]}))
    with mock():  # no Jira request at all
        batch = scan(inputs, read=Read(snapshot=str(snapshot)))
    assert batch.gone == set() and "PAY-2" in open_issues(inputs)
    assert not batch.notes  # not even asked


def test_the_nightly_full_rescan_resolves_a_deleted_issue():
    from bot.runs.rescan import full_rescan

    with mock() as rsps:
        jira = FakeJira(site(False), cloud=False).install(rsps)
        inputs = inputs_for(False)
        scan(inputs)
        del jira.issues["PAY-1"]
        with open_store(inputs.config) as store:
            batch = full_rescan(inputs, NOW, store)
        assert batch.record is not None and batch.gone == {"PAY-1"}
        assert open_issues(inputs) == {"PAY-2", "PAY-3"}
