"""The dashboard in a real browser: headless Chromium renders charts and numbers,
logs no console message and fetches nothing from the network.

Needs Debian's ``chromium`` (.ci/run installs it); skipped with a reason when absent.
Set SCREENSHOT_DIR to keep the screenshots for a look.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.digest import render

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="headless browser test needs /usr/bin/chromium "
                                                               "(apt-get install -y chromium)")


def chromium(tmp_path: Path, url: str, *extra: str, size: str = "1280,1600",
             loopback: bool = False) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", f"--user-data-dir={profile}", f"--window-size={size}",
               # Nothing may leave the machine even if the page tried: every host name fails to resolve.
               # (``loopback``: except 127.0.0.1, where a test serves the dashboard itself.)
               "--host-resolver-rules=MAP * ~NOTFOUND" + (", EXCLUDE 127.0.0.1" if loopback else ""), "--enable-logging=stderr", "--v=0", *extra, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked for (Chromium's own background calls have no origin)."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"]["url"] for event in log["events"]
            if event["type"] == start_job and "url" in event.get("params", {})
            and event["params"].get("initiator") != "not an origin"]


@pytest.fixture
def dashboard(digests, tmp_path) -> Path:
    render.write_html(digests, tmp_path / "dashboard")
    return tmp_path / "dashboard"


@pytest.mark.parametrize("page", ["team-payments.html", "index.html"])
def test_dashboard_renders_in_chromium(dashboard, tmp_path, page):
    url = (dashboard / page).as_uri()
    net_log = tmp_path / "net-log.json"
    screenshot = tmp_path / f"{page}.png"
    run = chromium(tmp_path, url, "--dump-dom", f"--screenshot={screenshot}", f"--log-net-log={net_log}")
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    # Charts drawn: the FFR line with a point per week, the flow bar, a bar per rule.
    assert re.search(r'<svg class="trend"[^>]*>.*<path class="line"', dom, re.S)
    assert dom.count('<circle class="pt') == 4
    assert '<svg class="flowbar"' in dom and dom.count('<svg class="bar"') >= 4
    # Numbers rendered.
    assert ("14.3%" if page.startswith("team") else "22.2%") in dom
    assert "Where to look first" in dom
    # Jira text stayed text.
    assert "<script" not in dom and "&lt;script&gt;" in dom
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    assert page_requests(net_log) == []
    assert screenshot.stat().st_size > 20_000
    keep(screenshot)


def test_dashboard_fits_a_phone(dashboard, tmp_path):
    screenshot = tmp_path / "team-payments-phone.png"
    run = chromium(tmp_path, (dashboard / "team-payments.html").as_uri(), f"--screenshot={screenshot}",
                   size="390,2400")
    assert run.returncode == 0 and screenshot.stat().st_size > 10_000, run.stderr[-2000:]
    keep(screenshot)


def keep(image: Path) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(image, Path(folder) / image.name)
