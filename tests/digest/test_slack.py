"""Slack digest messages: golden payloads, escaping, limits, no people named."""

from __future__ import annotations

import json
from dataclasses import replace

from bot.config import load_config
from bot.deliver.slack import all_texts
from bot.digest.figures import Agreement
from bot.digest.slack import build_messages, digest_payload

from .conftest import GOLDEN
from tests.conftest import golden


def messages_for(digests, site):
    return build_messages(digests, load_config(site["config"]))


def test_slack_payloads_golden(digests, site):
    messages, notes = messages_for(digests, site)
    assert [m.channel for m in messages] == ["#mobile", "#payments", "#platform", "#delivery"]
    assert notes == []
    golden(GOLDEN / "slack.json", json.dumps([m.payload for m in messages], indent=2, ensure_ascii=False) + "\n")


def test_hostile_text_is_escaped(digests, site):
    messages, _ = messages_for(digests, site)
    for message in messages:
        for text in all_texts(message.payload):
            assert "<!channel>" not in text and "<script>" not in text and "<@U123>" not in text
    payments = json.dumps(messages[1].payload)
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in payments
    sections = [block for block in messages[1].payload["blocks"] if block["type"] == "section"]
    texts = [block["text"] for block in sections if "text" in block] + [
        field for block in sections for field in block.get("fields", [])]
    assert texts and all(text["verbatim"] for text in texts)


def test_no_people_are_named_in_slack(digests, site):
    messages, _ = messages_for(digests, site)
    text = json.dumps([m.payload for m in messages])
    assert "Ana Lima" not in text and "Bo Chen" not in text


def test_limits_hold_and_long_lists_link_to_the_dashboard(digests):
    payments = next(d for d in digests if d.team == "payments")
    many = [Agreement(f"PAY-{n}", "x" * 500, f"https://example.atlassian.net/browse/PAY-{n}", "payments",
                      "Open", "r", "i", "t", overdue=True) for n in range(100, 400)]
    big = replace(payments, agreements=many)
    payload = digest_payload(big, "https://intranet.example.com/govbot/team-payments.html", max_items=20)
    assert len(payload["blocks"]) <= 50
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "text" in b]
    assert all(len(text) <= 3000 for text in sections)
    register = next(text for text in sections if text.startswith("*Tech-debt agreements"))
    shown = register.count("\n• ")
    assert 0 < shown <= 20
    assert f"…and {300 - shown} more agreements" in register
    assert "<https://intranet.example.com/govbot/team-payments.html|on the dashboard>" in register
    assert len(json.dumps(payload)) < 40_000


def test_a_team_without_a_channel_is_noted(digests, site):
    config = load_config(site["config"])
    del config.data["teams"]["mobile"]["channel"]
    messages, notes = build_messages(digests_without_channel(digests, "mobile"), config)
    assert "#mobile" not in [m.channel for m in messages]
    assert notes == ["no Slack channel for 1 team digest (mobile); set teams.<name>.channel "
                     "(or slack.default_channel) to post them"]


def digests_without_channel(digests, team):
    digests.teams = [replace(d, channel=None) if d.team == team else d for d in digests.teams]
    return digests


def test_a_team_without_a_channel_posts_to_slack_default_channel(scan_site, site):
    from bot.digest.figures import build_digests

    from .conftest import NOW, at

    text = site["config"].read_text(encoding="utf-8")
    text = text.replace('  mobile: {projects: [MOB], channel: "#mobile", name: Mobile}',
                        "  mobile: {projects: [MOB], name: Mobile}")
    site["config"].write_text(text.replace('slack:\n', 'slack:\n  default_channel: "#delivery-teams"\n'),
                              encoding="utf-8")
    config = load_config(site["config"])
    digests = build_digests(scan_site(), config, at(NOW))
    messages, notes = build_messages(digests, config)
    assert {m.team: m.channel for m in messages}["mobile"] == "#delivery-teams"
    assert {m.team: m.channel for m in messages}["payments"] == "#payments"  # its own channel still wins
    assert notes == []


def test_and_n_more_leads_to_the_full_list(digests, site):
    from bot.digest.slack import list_links

    payments = next(d for d in digests if d.team == "payments")
    many = [Agreement(f"PAY-{n}", "x", f"https://example.atlassian.net/browse/PAY-{n}", "payments",
                      "Open", "r", "i", "t", overdue=False) for n in range(100, 120)]
    big = replace(payments, agreements=many)
    links = list_links(big, "team-payments.html", "https://intranet.example.com/govbot")
    assert links["agreements"] == "https://intranet.example.com/govbot/list-team-payments-agreements.html"
    payload = digest_payload(big, "https://intranet.example.com/govbot/team-payments.html", 5, links)
    register = next(b["text"]["text"] for b in payload["blocks"]
                    if b["type"] == "section" and b.get("text", {}).get("text", "").startswith("*Tech-debt"))
    assert register.endswith("…and 15 more agreements "
                             "<https://intranet.example.com/govbot/list-team-payments-agreements.html|in the full list>")
    assert list_links(big, "team-payments.html", None) == {}
