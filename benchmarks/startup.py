"""Wall time of whole `govbot` processes that do little: `--help`, a scan of the demo, a 10-issue scan.

Each round runs every variant once, alternating, so a noisy machine slows them alike:

- ``cold``: this checkout with an empty cache folder (parses and validates everything, then
  writes the cache entries);
- ``warm``: this checkout, with the entries the first run wrote (bot/yamlcache.py);
- ``baseline``: another checkout (``--baseline DIR``, run with ``PYTHONPATH=DIR``), if given;
- ``python``: ``python -c pass``, the floor.

Python's bytecode is cached for all of them (under ``--work``), as it is for an installed govbot.

    python benchmarks/startup.py --rounds 7 --baseline /tmp/govbot-main
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def small_snapshot(folder: Path, count: int = 10) -> Path:
    """The demo's first ``count`` issues, as one search response."""
    pages = json.loads((ROOT / "bot" / "demo" / "workspace.json").read_text(encoding="utf-8"))
    page = dict(pages[0])
    page["issues"] = pages[0]["issues"][:count]
    page.pop("nextPageToken", None)
    page["isLast"] = True
    path = folder / f"snapshot-{count}.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    return path


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall time, CPU time) of one process. CPU time (user + system) is what other jobs on a
    shared machine disturb least; wall time is what a person waits."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="another govbot checkout to compare with")
    parser.add_argument("--work", type=Path, help="folder for bytecode, caches and the snapshot (default: temporary)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="govbot-startup-"))
    work.mkdir(parents=True, exist_ok=True)
    snapshot = small_snapshot(work)
    base = {name: value for name, value in os.environ.items()
            if not name.startswith(("GOVBOT_", "JIRA_", "SLACK_", "PYTHON"))}
    base["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    warm_cache = work / "cache-warm"
    cold_cache = work / "cache-cold"
    variants: dict[str, dict[str, str]] = {
        "cold": {**base, "GOVBOT_CACHE_DIR": str(cold_cache)},
        "warm": {**base, "GOVBOT_CACHE_DIR": str(warm_cache)},
    }
    if args.baseline:
        variants["baseline"] = {**base, "PYTHONPATH": str(args.baseline.resolve()),
                                "GOVBOT_CACHE_DIR": str(work / "cache-baseline")}
    workloads = {
        "help": ["--help"],
        "demo scan (297 issues)": ["scan", "--now", "2026-11-16"],
        "10-issue snapshot scan": ["scan", "--snapshot", str(snapshot), "--now", "2026-11-16"],
    }
    python = [sys.executable, "-m", "bot"]
    cwd = work  # no govbot.yaml there
    for env in variants.values():  # bytecode written, warm cache filled
        for arguments in workloads.values():
            timed(python + arguments, env, cwd)
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for workload, arguments in workloads.items():
            for variant, env in variants.items():
                if variant == "cold":
                    shutil.rmtree(cold_cache, ignore_errors=True)
                times.setdefault((workload, variant), []).append(timed(python + arguments, env, cwd))
            times.setdefault(("python -c pass", "python"), []).append(
                timed([sys.executable, "-c", "pass"], base, cwd))
    print(f"{args.rounds} rounds, medians (min-max) in seconds")
    print(f"  {'':26} {'':9} {'wall':>6}  {'(min-max)':15} {'CPU':>6}")
    for (workload, variant), values in times.items():
        wall = [value[0] for value in values]
        cpu = [value[1] for value in values]
        print(f"  {workload:26} {variant:9} {statistics.median(wall):6.3f}  ({min(wall):.3f}-{max(wall):.3f})"
              f" {statistics.median(cpu):6.3f}")


if __name__ == "__main__":
    main()
