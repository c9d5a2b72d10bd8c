"""Check that an engine change leaves every report as it was: byte for byte.

    git archive main | tar -x -C /tmp/govbot-before      # the tree to compare with
    python benchmarks/same_reports.py --before /tmp/govbot-before \
        /tmp/govbot-bench/cloud-20000-s1.json /tmp/govbot-bench/datacenter-50000-s1.json

Scans each snapshot with ``govbot scan --format json`` twice, each in its own
process: once with the code in ``--before`` and once with this checkout, and
compares the two reports. Snapshots come from ``benchmarks/generate.py`` (or
``benchmarks/run.py``'s cache). Exit 0 when every report is identical, 1 when
one differs (the first differing line is shown).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-16"


def report(tree: Path, snapshot: Path, cwd: str) -> bytes:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("JIRA_", "SLACK_", "GOVBOT_"))},
           "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-m", "bot", "scan", "--snapshot", str(snapshot), "--format", "json",
                           "--now", NOW, "--fail-on", "never"], env=env, cwd=cwd, capture_output=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{tree}: scan of {snapshot} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/same_reports.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, type=Path, help="a checkout of the code to compare with")
    parser.add_argument("snapshots", nargs="+", type=Path)
    args = parser.parse_args(argv)
    cwd = tempfile.mkdtemp(prefix="govbot-same-")  # no govbot.yaml here
    differ = 0
    for snapshot in args.snapshots:
        before, after = report(args.before, snapshot, cwd), report(ROOT, snapshot, cwd)
        if before == after:
            print(f"{snapshot.name}: identical ({len(after):,} bytes)")
            continue
        differ += 1
        old, new = before.decode().splitlines(), after.decode().splitlines()
        line = next((n for n, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
        print(f"{snapshot.name}: DIFFERS from line {line + 1}:\n  before: {old[line:line + 1]}\n"
              f"  after:  {new[line:line + 1]}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
