"""Markdown, JSON and the HTML dashboard: golden output, escaping, self-contained pages."""

from __future__ import annotations

import json
import re

from bot.digest import render
from tests.conftest import golden

from .conftest import GOLDEN


def test_markdown_golden(digests):
    golden(GOLDEN / "digest.md", render.render_markdown(digests))


def test_text_summary_golden(digests):
    golden(GOLDEN / "digest.txt", render.render_text(digests))


def test_json_carries_the_same_numbers(digests):
    data = json.loads(render.render_json(digests))
    assert data["week_start"] == "2026-03-30"
    organisation = data["organisation"]
    assert organisation["feature_factory_ratio"] == digests.organisation.ffr == 22.2
    assert [p["ffr"] for p in organisation["ffr_trend"]] == [55.6, 33.3, 33.3, 22.2]
    payments = data["teams"]["payments"]
    assert payments["findings"]["by_rule"][0] == {
        "rule": "closing-the-loop-actual-outcome-missing", "title": "Delivered epic or initiative has no actual "
        "outcome", "open": 2, "waived": 0, "new": 0, "fixed": 0}
    assert payments["flow_distribution"]["counts"] == {"feature": 2, "defect": 1, "risk": 0, "debt": 1}
    assert payments["tech_debt_agreements"]["overdue"] == 1
    assert data["teams"]["mobile"]["issues"] == 0


def test_markdown_escapes_jira_text(digests):
    text = render.render_markdown(digests)
    assert "<script>" not in text and "<!channel>" not in text
    assert "&lt;script&gt;" in text
    assert not re.search(r"(?<!\\)\]\(javascript:", text)  # brackets escaped: no link


def test_markdown_link_targets_are_checked():
    assert render.markdown_url("javascript:alert(1)") is None
    assert render.markdown_url("https://jira.example.com/browse/A-1 (x)") is None
    assert render.markdown_url("https://jira.example.com/browse/A-(1)") == "https://jira.example.com/browse/A-%281%29"


def pages(digests):
    names = render.page_names(digests)
    return {digest.team: render.render_html(digests, digest, names) for digest in digests}


def test_html_escapes_hostile_text(digests):
    for team, html in pages(digests).items():
        assert "<script" not in html.lower(), team
        assert "<!channel>" not in html
        assert not re.search(r'href="javascript', html)
    payments = pages(digests)["payments"]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &lt;!channel&gt; &amp; &lt;@U123&gt;" in payments


def test_html_is_self_contained(digests):
    for team, html in pages(digests).items():
        lowered = html.lower()
        for forbidden in ("<script", "<link", "<img", "<iframe", "@import", "url(", "@font-face"):
            assert forbidden not in lowered, (team, forbidden)
        # The only web addresses are Jira issue links in <a href>.
        addresses = re.findall(r"https?://[^\s\"'<>]+", html)
        links = re.findall(r'<a class="key" href="(https?://[^"]+)"', html)
        assert set(addresses) == set(links), team
        assert all(link.startswith("https://example.atlassian.net/browse/") for link in links)


def test_html_pages_have_charts_and_numbers(digests):
    html = pages(digests)
    payments = html["payments"]
    assert payments.count("<svg") >= 3  # trend, flow bar, a bar per rule
    assert "14.3%" in payments and "Features <strong>50%</strong>" in payments
    assert "Ana Lima" in payments  # owners named in their own team's page...
    assert "Ana Lima" not in html["*"] and "Ana Lima" not in html["platform"]  # ...and nowhere else
    assert "No issues in the scanned projects" in html["mobile"] and "<svg" not in html["mobile"]
    index = html["*"]
    assert 'href="team-payments.html"' in index and 'href="team-mobile.html"' in index


def test_first_run_says_there_is_no_history(scan_site, site):
    from bot.config import load_config
    from bot.digest.figures import build_digests

    from .conftest import NOW, at

    digests = build_digests(scan_site(), load_config(site["config"]), at(NOW))
    assert "No history yet" in render.render_html(digests, digests.organisation)
    assert "no history yet" in render.render_markdown(digests)


def test_write_html_writes_an_index_and_a_page_per_team(digests, tmp_path):
    written = render.write_html(digests, tmp_path / "out")
    assert written[0].name == "index.html"
    assert sorted(path.name for path in written if not path.name.startswith("list-")) == [
        "index.html", "team-mobile.html", "team-payments.html", "team-platform.html"]
    # Every list a page links to was written, and nothing else.
    linked = {name for path in written if not path.name.startswith("list-")
              for name in re.findall(r'href="(list-[^"]+)"', path.read_text(encoding="utf-8"))}
    assert linked and linked <= {path.name for path in written}


def test_page_names_are_unique_and_safe(digests):
    from dataclasses import replace

    digests.teams = [replace(digests.teams[0], team="A/B"), replace(digests.teams[0], team="a b"),
                     replace(digests.teams[0], team="../")]
    names = render.page_names(digests)
    assert names["A/B"] == "team-a-b.html" and names["a b"] == "team-a-b-2.html"
    assert names["../"] == "team-team.html"


def test_organisation_page_lists_at_most_25_items_per_list(digests):
    from dataclasses import replace

    loop = digests.organisation.loops[0]
    digests.organisation = replace(digests.organisation,
                                   loops=[replace(loop, key=f"PAY-{n}") for n in range(100, 140)])
    html = render.render_html(digests, digests.organisation)
    assert "PAY-124" in html and "PAY-125" not in html
    assert re.search(r'…and <a href="list-org-loops.html">15 more loops</a> in the full list.', html)
