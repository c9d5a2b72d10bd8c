"""Write a synthetic Jira workspace for benchmarks: 1k to 200k issues, Cloud or Data Center.

The file is a list of search-response pages shaped exactly like Jira's
(Cloud ``/rest/api/3/search/jql`` or Data Center ``/rest/api/2/search``), so
``govbot scan --snapshot FILE`` and the loopback Jira emulator can both serve
it. Pages are rendered and written one at a time: memory stays flat however
many issues are asked for.

    python benchmarks/generate.py --issues 200000 --flavour cloud --seed 1 --out /tmp/cloud-200k.json
    python benchmarks/generate.py --issues 5000 --flavour datacenter --seed 7 --out dc.json \
        --expected dc.expected.json

``--expected`` also writes what the generator seeded: for each issue with a
violation, the default rule ids it should trip, the count per rule and the
Feature Factory Ratio (see ``bot/demo/README.md`` for the rule semantics).

From Python: ``generate(n_issues, flavour, seed, now) -> list[dict]`` (pages).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.demo.synth import CLOUD, DEMO_NOW, FLAVOURS, Tally, generate, workload, write_pages  # noqa: E402

__all__ = ["generate", "write_workspace", "main"]


def write_workspace(path: str | Path, n_issues: int, flavour: str = CLOUD, seed: int = 0,
                    now: datetime = DEMO_NOW, *, page_size: int = 100,
                    expected_path: str | Path | None = None, progress=None) -> dict:
    """Stream a workspace to ``path``; returns counts (and writes expectations when asked)."""
    builder, specs = workload(n_issues, flavour, seed, now)
    tally = Tally(flavour, now) if expected_path else None

    def counted():
        for index, spec in enumerate(specs, 1):
            if tally is not None:
                tally.add(spec, keep_clean=False)
            if progress and index % 5000 == 0:
                progress(index, n_issues)
            yield spec

    with open(path, "w", encoding="utf-8") as out:
        written = write_pages(builder.pages(counted(), page_size, total=n_issues, seed=seed), out)
    summary = {"written": written, "flavour": flavour, "seed": seed, "now": now.date().isoformat()}
    if tally is not None:
        expected = {
            **summary,
            "note": "issues not listed trip no default rule; semantics in bot/demo/README.md",
            "issues_scanned": tally.scanned,
            "findings": sum(tally.by_rule.values()),
            "by_rule": tally.by_rule,
            "feature_factory_ratio": tally.feature_factory_ratio(),
            "types": dict(sorted(tally.levels.items())),
            "issues_with_findings": tally.issues,
        }
        with open(expected_path, "w", encoding="utf-8") as out:
            json.dump(expected, out, indent=1)
            out.write("\n")
        summary["findings"] = expected["findings"]
    return summary


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} issues")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/generate.py",
        description="Write a synthetic Jira workspace (a list of search-response pages).")
    parser.add_argument("--issues", type=int, required=True, metavar="N", help="how many issues (1 to 2,000,000)")
    parser.add_argument("--flavour", choices=FLAVOURS, default=CLOUD,
                        help="cloud: /rest/api/3/search/jql pages, ADF; datacenter: /rest/api/2/search, wiki markup")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same file (default 0)")
    parser.add_argument("--out", required=True, metavar="FILE")
    parser.add_argument("--pages-of", type=int, default=100, metavar="SIZE", dest="page_size",
                        help="issues per page (default 100, Jira's usual maximum with all fields)")
    parser.add_argument("--now", default=DEMO_NOW.date().isoformat(), metavar="YYYY-MM-DD",
                        help="the date the workspace is relative to (default %(default)s)")
    parser.add_argument("--expected", metavar="FILE", help="also write the seeded violations as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.issues <= 2_000_000:
        parser.error("--issues must be between 1 and 2,000,000")
    if not 1 <= args.page_size <= 5000:
        parser.error("--pages-of must be between 1 and 5000")
    try:
        now = datetime.combine(date.fromisoformat(args.now), DEMO_NOW.timetz()).astimezone(timezone.utc)
    except ValueError:
        parser.error(f"--now: {args.now!r} is not a date (YYYY-MM-DD)")
    started = time.perf_counter()
    show = _progress if sys.stderr.isatty() and args.issues >= 20000 else None
    try:
        summary = write_workspace(args.out, args.issues, args.flavour, args.seed, now,
                                  page_size=args.page_size, expected_path=args.expected, progress=show)
    except OSError as error:
        print(f"generate: cannot write {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    if show:
        sys.stderr.write("\n")
    size = Path(args.out).stat().st_size
    print(f"wrote {summary['written']:,} {args.flavour} issues to {args.out} "
          f"({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
