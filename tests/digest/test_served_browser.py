"""Done when: headless Chromium opens the dashboard as `govbot serve` publishes it, follows a count
to its list and an item to its Jira address; no page is wider than a 390 px phone; text and chart
colours have the contrast they need.

Chromium cannot run a script on the pages (their CSP forbids it, on purpose), so widths are
measured on a copy of each page with the CSP removed and one line of script added at the end.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import urllib.error

import pytest

from bot.digest import archive, render
from bot.service.dashboard import Dashboard
from bot.service.health import HealthServer, Metrics
from bot.store import Store

from .test_browser import CHROMIUM, chromium, keep

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="headless browser test needs /usr/bin/chromium")
STYLE = Path(render.TEMPLATES) / "style.css"
LONG = "x" * 300  # one unbroken word, as pasted URLs and hashes are


@pytest.fixture
def served(tmp_path, digests):
    # A long unbroken string in every kind of text a page shows.
    digests.teams = [dataclasses.replace(d, agreements=[dataclasses.replace(a, summary=LONG, reason=LONG)
                                                        for a in d.agreements],
                                         loops=[dataclasses.replace(l, summary=LONG) for l in d.loops])
                     for d in digests.teams]
    url = f"sqlite:///{tmp_path / 'served.db'}"
    with Store(url) as store:
        store.record_dashboard(digests.week_start, archive.to_payload(digests), datetime.now(timezone.utc))
    server = HealthServer("127.0.0.1", 0, Metrics(), lambda: (True, {}),
                          dashboard=Dashboard("/dashboard", lambda: Store(url))).start()
    yield f"{server.url}/dashboard/"
    server.stop()


def dom(tmp_path: Path, url: str, size: str = "1280,1600") -> str:
    run = chromium(tmp_path, url, "--dump-dom", size=size, loopback=url.startswith("http://127.0.0.1"))
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def test_chromium_follows_a_count_to_its_list_and_an_item_to_jira(served, tmp_path):
    overview = dom(tmp_path, served)
    assert "Where to look first" in overview
    # The overview's "Unclosed loops" count is a link; Chromium opens it.
    href = re.search(r'id="kpi-loops">.*?<a class="count" href="([^"]+)">2</a>', overview, re.S).group(1)
    the_list = dom(tmp_path, urljoin(served, unescape(href)))
    assert "<h1>Unclosed loops</h1>" in the_list
    items = re.findall(r'<a class="key" href="([^"]+)"[^>]*>([A-Z]+-\d+)</a>', the_list)
    assert [key for _, key in items] == ["PAY-5", "PAY-6"]
    assert items[0][0] == "https://example.atlassian.net/browse/PAY-5"
    jql = unescape(re.search(r'<a class="jql" href="([^"]+)"', the_list).group(1))
    assert jql.startswith("https://example.atlassian.net/issues/?jql=key%20in%20%28PAY-5%2C%20PAY-6%29")


_MEASURE = ("<script>var wide=[];document.querySelectorAll('body *').forEach(function(e){"
            "var r=e.getBoundingClientRect();if(r.right>window.innerWidth+1){wide.push(e.tagName+'.'+e.className);}});"
            "parent.postMessage(window.innerWidth+' '+document.documentElement.scrollWidth+' '+"
            "wide.slice(0,8).join(','),'*');</script>")


def page_width(tmp_path: Path, html: str, width: int, name: str) -> tuple[int, int, str]:
    """(viewport, page width, elements sticking out) of ``html`` in a ``width`` px wide frame.

    Headless Chromium's window is never narrower than 500 px, so the page is loaded in an
    iframe of the phone's width inside a wider window, and reports its width to the parent.
    """
    inner = tmp_path / f"inner-{name}.html"
    inner.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
                     .replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    outer = tmp_path / f"outer-{name}-{width}.html"
    outer.write_text("<!doctype html><html><body style='margin:0'><script>window.addEventListener('message',"
                     "function(e){document.body.setAttribute('data-result',e.data);});</script>"
                     f"<iframe src='{inner.name}' style='width:{width}px;height:1800px;border:0'></iframe>"
                     "</body></html>", encoding="utf-8")
    run = chromium(tmp_path, outer.as_uri(), "--dump-dom", "--allow-file-access-from-files",
                   "--virtual-time-budget=5000", size="900,2000")
    result = re.search(r'data-result="(\d+) (\d+) ?([^"]*)"', run.stdout)
    assert result, (name, run.stderr[-1500:])
    return int(result.group(1)), int(result.group(2)), result.group(3)


def test_no_page_is_wider_than_a_phone(served, tmp_path):
    import urllib.request

    names = ["index.html", "team-payments.html", "list-team-payments-loops.html",
             "list-team-payments-agreements.html", "weeks/", "nope.html"]
    for name in names:
        try:
            with urllib.request.urlopen(urljoin(served, name), timeout=10) as response:
                html = response.read().decode("utf-8")
        except urllib.error.HTTPError as error:  # the 404 page must fit too
            html = error.read().decode("utf-8")
        for width in (360, 390, 500):
            viewport, measured, wide = page_width(tmp_path, html, width, re.sub(r"\W", "_", name))
            assert viewport == width
            assert measured <= width, (name, width, measured, wide)
    run = chromium(tmp_path, urljoin(served, "team-payments.html"), f"--screenshot={tmp_path / 'phone.png'}",
                   size="500,2400", loopback=True)
    assert run.returncode == 0
    keep(tmp_path / "phone.png")


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_and_chart_colours_have_enough_contrast():
    variables = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", STYLE.read_text(encoding="utf-8")))
    backgrounds = [variables["card"], variables["paper"]]
    for text in ("ink", "muted", "accent", "warn"):  # WCAG AA for body text: 4.5:1
        for background in backgrounds + [variables["accent-soft"]]:
            assert contrast(variables[text], background) >= 4.5, (text, background)
    assert contrast(variables["warn"], variables["warn-soft"]) >= 4.5
    for chart in ("feature", "defect", "risk", "debt", "waived", "accent"):  # WCAG 1.4.11 graphics: 3:1
        for background in backgrounds:
            assert contrast(variables[chart], background) >= 3, (chart, background)
    assert contrast("#e0a030", "#ffffff") < 3  # the measure can fail: the old amber did


def test_the_screenshot_script_writes_the_docs_images(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, str(root / "tools" / "screenshots.py"), "--out", str(tmp_path / "docs")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    for name in ("dashboard-overview.png", "dashboard-team.png"):
        image = tmp_path / "docs" / name
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 50_000
        assert (root / "docs" / name).exists()  # and the README's copies are in the repository
    assert "docs/dashboard-overview.png" in (root / "README.md").read_text(encoding="utf-8")
