"""Screenshots of the dashboard for the docs: the overview and a team page, from the demo.

    python tools/screenshots.py              # writes docs/dashboard-overview.png, docs/dashboard-team.png
    python tools/screenshots.py --out DIR

Runs the weekly digest on the bundled demo workspace for four weeks (one skipped, so
the trend shows its gap) into a temporary store, writes the dashboard, and has
headless Chromium (/usr/bin/chromium, or $CHROMIUM) photograph it. Nothing is sent
anywhere: the digest is a dry run and Chromium resolves no host name.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.runs.digest import run_digest  # noqa: E402
from bot.runs.inputs import load_inputs  # noqa: E402
from bot.store import Store  # noqa: E402

# Tuesdays around the demo's "today" (Monday 2026-11-16); the week of 9 Nov has no digest.
WEEKS = ["2026-10-20", "2026-10-27", "2026-11-03", "2026-11-17"]
TEAM_PAGE = "team-payments.html"


def shoot(chromium: str, page: Path, image: Path, size: str, profile: Path) -> None:
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND", f"--window-size={size}",
               f"--screenshot={image}", page.as_uri()]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs"))
    args = parser.parse_args(argv)
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        print(f"needs headless Chromium at {chromium} (apt-get install -y chromium, or set CHROMIUM)",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="govbot-screenshots-") as folder:
        work = Path(folder)
        os.chdir(work)  # no govbot.yaml here: the demo's config and workspace
        os.environ.pop("GOVBOT_CONFIG", None)
        inputs = load_inputs(None)
        with Store(f"sqlite:///{work / 'govbot.db'}") as store:
            for day in WEEKS:
                now = datetime.fromisoformat(f"{day}T09:00:00").replace(tzinfo=timezone.utc)
                run_digest(inputs, now, store, apply=False, html_dir=work / "site" if day == WEEKS[-1] else None)
        for page, name, size in (("index.html", "dashboard-overview.png", "1280,2300"),
                                 (TEAM_PAGE, "dashboard-team.png", "1280,2300")):
            shoot(chromium, work / "site" / page, out / name, size, work / f"profile-{name}")
            print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
