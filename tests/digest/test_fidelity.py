"""Jira text stays as typed: a summary is plain text (never wiki markup) in the scan JSON, the
dashboard and Slack; control and bidi characters are dropped; Slack formats none of it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_config
from bot.digest import render
from bot.digest.figures import build_digests
from bot.digest.slack import build_messages
from bot.sources.normalize import summary_text

from .conftest import CONFIG, ISSUES, NOW, at, snapshot_data

TILDES = "Remove ~tmp~ dirs"
BRACKETS = "See [docs|https://x.io] *now*"
BIDI = "Pay \u202eevil\u202c out\x07 now"
EXTRA = [
    ("PAY-30", "Epic", "new", TILDES, "", None, "PAY-1", [], None),
    ("PAY-31", "Epic", "new", BRACKETS, "Reason: speed\nImpact: none\nTimeline: 2027-01-01", None, "PAY-1",
     ["tech-debt-agreement"], None),
    ("PAY-32", "Epic", "new", BIDI, "", None, "PAY-1", [], None),
    ("CORE-1", "Epic", "new", "Core epic", "", None, None, [], None),
]


@pytest.fixture
def hostile_site(site):
    site["snapshot"].write_text(json.dumps(snapshot_data(ISSUES + EXTRA)), encoding="utf-8")
    config = CONFIG.replace("teams:\n", 'teams:\n  core: {projects: [CORE], channel: "#core", name: "*Core* ~team~"}\n')
    site["config"].write_text(config + f"store: {{url: 'sqlite:///{site['dir'] / 'govbot.db'}'}}\n",
                              encoding="utf-8")
    return site


@pytest.fixture
def digests(hostile_site):
    from bot.runs.inputs import load_inputs
    from bot.runs.scan import run_scan

    inputs = load_inputs(str(hostile_site["config"]), snapshot=str(hostile_site["snapshot"]))
    batch = run_scan(inputs, at(NOW), snapshot=str(hostile_site["snapshot"]))
    return build_digests(batch, load_config(hostile_site["config"]), at(NOW))


def test_a_summary_is_plain_text_kept_exactly():
    assert summary_text(TILDES) == TILDES
    assert summary_text(BRACKETS) == BRACKETS
    assert summary_text(BIDI) == BIDI  # data; every display drops the controls (below)


def test_scan_json_keeps_the_summary_as_typed(hostile_site):
    result = CliRunner().invoke(cli, ["scan", "--snapshot", str(hostile_site["snapshot"]), "--config",
                                      str(hostile_site["config"]), "--now", NOW, "--format", "json"])
    summaries = {f["issue"]: f["summary"] for f in json.loads(result.stdout)["findings"]}
    assert summaries["PAY-30"] == TILDES
    assert summaries["PAY-32"] == BIDI  # exactly the data (escaped as \\u202e in the JSON text)
    assert "\u202e" not in result.stdout


def test_dashboard_shows_the_summary_as_typed(digests):
    pages = render.render_site(digests)
    everything = "".join(pages.values())
    assert TILDES in everything and "See [docs|https://x.io] *now*" in everything
    assert "Pay evil out now" in everything  # controls dropped, not shown as U+FFFD
    assert "\ufffd" not in everything and "\u202e" not in everything
    assert "<del>" not in everything and 'href="https://x.io"' not in everything


def test_slack_formats_nothing_of_jira_or_team_text(digests, hostile_site):
    messages, _ = build_messages(digests, load_config(hostile_site["config"]))
    payments = json.dumps(next(m for m in messages if m.team == "payments").payload, ensure_ascii=False)
    assert "See [docs|https://x.io] \u2217now\u2217" in payments  # no bold, no link
    organisation = json.dumps(next(m for m in messages if m.team == "*").payload, ensure_ascii=False)
    assert "\u2217Core\u2217 \u223cteam\u223c" in organisation and "*Core*" not in organisation
    assert "\u202e" not in payments + organisation and "\x07" not in payments + organisation
