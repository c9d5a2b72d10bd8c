"""Peak memory of a live `govbot scan` against the loopback Jira, with its requests and bytes.

    python benchmarks/live_peak.py --issues 50000 --flavour cloud [--work /tmp/govbot-bench]

``benchmarks/run.py`` reports the same figure on its live rows, but needs the naive
``jira`` loop beside it, which cannot read past Data Center's 10,000-result
window; this runs govbot alone, at any size, without latency. The peak is what
the program itself says (``VmHWM`` at exit, ``run.run_with_peak``), and the
extrapolation to 200,000 issues is the engine rows': the fixed cost from a
1,000-issue snapshot scan plus the per-issue cost measured here.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import NOW, Emulator, _config, _keys, run_with_peak, workspace  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=20_000)
    parser.add_argument("--flavour", choices=["cloud", "datacenter"], default="cloud")
    parser.add_argument("--work", default="/tmp/govbot-bench")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    path = workspace(work, args.issues, args.flavour, full_payload=True)
    small = workspace(work, 1000, args.flavour, full_payload=False)
    emulator = Emulator(path, args.flavour)
    directory = tempfile.mkdtemp(prefix="govbot-peak-")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("JIRA_", "SLACK_", "GOVBOT_"))},
           "PYTHONPATH": str(ROOT), "JIRA_EMAIL": "bench@example.com", "JIRA_API_TOKEN": "bench-token"}
    try:
        _config(emulator.url, sorted({issue["key"].rsplit("-", 1)[0] for issue in _keys(path)}), directory)
        emulator.call("reset")
        seconds, peak = run_with_peak(["scan", "--format", "json", "--now", NOW, "--fail-on", "never"],
                                      env=env, cwd=directory)
        stats = emulator.call("stats")
    finally:
        emulator.stop()
    _, base = run_with_peak(["scan", "--snapshot", str(small), "--format", "json", "--now", NOW,
                             "--fail-on", "never"], env=env, cwd=directory)
    projected = base + max(0, peak - base) * 200_000 / args.issues
    print(f"live govbot scan, {args.issues:,} {args.flavour} issues: {seconds:.1f} s, peak {peak / 2**20:,.0f} MB "
          f"(200k: ~{projected / 2**20:,.0f} MB), {stats['requests']:,} requests, "
          f"{stats['bytes_sent'] / 2**20:,.0f} MB read")


if __name__ == "__main__":
    main()
