"""The lists behind the dashboard's counts: every count links to its list, every item to Jira."""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape
from urllib.parse import parse_qs, urlsplit

from bot.digest import lists, render
from bot.digest.figures import FindingItem

SITE = "https://example.atlassian.net"


def keys_on(html: str) -> list[str]:
    return re.findall(r'<a class="key" href="[^"]+/browse/([^"]+)"', html)


def test_every_count_on_a_page_links_to_a_list_that_exists(digests):
    written = render.render_site(digests)
    for name in ("index.html", "team-payments.html", "team-platform.html"):
        html = written[name]
        targets = re.findall(r'<a class="count" href="([^"]+)"', html)
        assert targets, name
        assert set(targets) <= set(written), name


def test_the_payments_counts_lead_to_the_issues_behind_them(digests):
    written = render.render_site(digests)
    team = written["team-payments.html"]
    payments = next(d for d in digests.teams if d.team == "payments")
    # Open findings: the KPI's number is a link, and its list holds exactly that many findings.
    match = re.search(r'id="kpi-findings">.*?<a class="count" href="([^"]+)">(\d+)</a>', team, re.S)
    assert match and match.group(1) == "list-team-payments-findings-open.html"
    assert int(match.group(2)) == payments.open_findings
    open_list = written[match.group(1)]
    assert len(re.findall(r"<li>", open_list)) == payments.open_findings
    # Fixed this week (from the lifecycle): PAY-2's anticipated outcome.
    fixed = written["list-team-payments-findings-fixed.html"]
    assert keys_on(fixed) == ["PAY-2"] and "One-click checkout" in fixed
    # Per rule: the table's waived cell leads to that rule's waived findings.
    rules = {line.rule: line for line in payments.rules}
    for rule, line in rules.items():
        if line.open:
            name = f"list-team-payments-rule-{rule}-open.html"
            assert f'href="{name}"' in team
            assert len(keys_on(written[name])) == line.open
    # The FFR's "N of M without an anticipated outcome" names those epics and initiatives.
    ffr = written["list-team-payments-ffr.html"]
    assert len(keys_on(ffr)) == payments.ffr_missing
    assert "PAY-3" in keys_on(ffr) and "PAY-2" not in keys_on(ffr)
    # Unclosed loops and overdue agreements.
    assert keys_on(written["list-team-payments-loops.html"]) == [loop.key for loop in payments.loops]
    assert keys_on(written["list-team-payments-overdue.html"]) == ["PAY-4"]


def test_the_overview_team_grid_links_each_teams_counts(digests):
    index = render.render_site(digests)["index.html"]
    assert 'href="list-team-payments-findings-open.html" aria-label="Payments open findings: ' in index
    assert 'href="list-team-payments-overdue.html"' in index
    assert '<a class="team-name" href="team-payments.html">Payments</a>' in index


def test_a_list_page_links_each_item_to_jira_and_offers_a_jql_search(digests):
    html = render.render_site(digests)["list-team-payments-loops.html"]
    assert f'<a class="key" href="{SITE}/browse/PAY-5"' in html
    href = unescape(re.search(r'<a class="jql" href="([^"]+)"', html).group(1))
    parts = urlsplit(href)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{SITE}/issues/"
    payments = next(d for d in digests.teams if d.team == "payments")
    keys = ", ".join(loop.key for loop in payments.loops)
    assert parse_qs(parts.query)["jql"] == [f"key in ({keys}) ORDER BY key ASC"]
    assert "<script" not in html.lower()


def test_no_jql_link_for_keys_that_are_not_jira_keys_or_links_to_several_sites():
    one = lists.Item("PAY-1", "x", f"{SITE}/browse/PAY-1")
    assert lists.jql_url([one]) is not None
    assert lists.jql_url([one, lists.Item("PAY-2", "y", "https://other.example/browse/PAY-2")]) is None
    assert lists.jql_url([lists.Item("x) OR (1=1", "x", f"{SITE}/browse/x")]) is None
    assert lists.jql_url([lists.Item("PAY-1", "x", None)]) is None


def test_a_list_of_520_is_paged_and_every_item_is_on_one_page(digests):
    payments = next(d for d in digests.teams if d.team == "payments")
    many = [FindingItem(f"PAY-{n}", f"Story {n}", f"{SITE}/browse/PAY-{n}", "payments", "some-rule", "Some rule")
            for n in range(1000, 1520)]
    digests.teams = [replace(d, open_items=many) if d is payments else d for d in digests.teams]
    written = render.render_site(digests)
    names = [f"list-team-payments-findings-open{suffix}.html" for suffix in ("", "-p2", "-p3", "-p4", "-p5", "-p6")]
    assert all(name in written for name in names) and "list-team-payments-findings-open-p7.html" not in written
    seen = [key for name in names for key in keys_on(written[name])]
    assert seen == [f"PAY-{n}" for n in range(1000, 1520)]
    second = written[names[1]]
    assert "page 2 of 6" in second and 'rel="prev" href="list-team-payments-findings-open.html"' in second
    assert 'rel="next" href="list-team-payments-findings-open-p3.html"' in second
    assert '<ol class="issues" start="101">' in second
    # Each page's Jira search names exactly its own issues.
    jql = parse_qs(urlsplit(unescape(re.search(r'class="jql" href="([^"]+)"', second).group(1))).query)["jql"][0]
    assert jql.startswith("key in (PAY-1100, ") and jql.endswith("PAY-1199) ORDER BY key ASC")


def test_organisation_lists_name_no_owner_and_no_waiver_reason(digests):
    written = render.render_site(digests)
    for name, html in written.items():
        if name.startswith("list-org-"):
            assert "Ana Lima" not in html and "Bo Chen" not in html, name


def test_a_zero_count_links_nowhere(digests):
    mobile = render.render_site(digests)["team-mobile.html"]
    assert 'class="count"' not in mobile


def test_long_lists_can_be_sorted_by_a_link(digests):
    written = render.render_site(digests)
    by_issue = written["list-team-payments-findings-open.html"]
    assert "Sorted by issue" in by_issue
    assert '<a href="list-team-payments-findings-open-by-rule.html">sort by rule</a>' in by_issue
    by_rule = written["list-team-payments-findings-open-by-rule.html"]
    assert "Sorted by rule" in by_rule and 'href="list-team-payments-findings-open.html">sort by issue' in by_rule
    details = re.findall(r'<span class="detail">([^<]+)</span>', by_rule)
    assert details == sorted(details) and sorted(keys_on(by_rule)) == sorted(keys_on(by_issue))
    loops = written["list-team-payments-loops.html"]
    assert "Sorted oldest first" in loops and 'href="list-team-payments-loops-by-issue.html">sort by issue' in loops
