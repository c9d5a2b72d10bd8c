"""Write a synthetic Jira workspace for benchmarks: 1k to 200k issues, Cloud or Data Center.

The file is a list of search-response pages shaped exactly like Jira's
(Cloud ``/rest/api/3/search/jql`` or Data Center ``/rest/api/2/search``), so
``govbot scan --snapshot FILE`` and the loopback Jira emulator can both serve
it. Pages are rendered and written one at a time: memory stays flat however
many issues are asked for.

    python benchmarks/generate.py --issues 200000 --flavour cloud --seed 1 --out /tmp/cloud-200k.json
    python benchmarks/generate.py --issues 5000 --flavour datacenter --seed 7 --out dc.json \
        --expected dc.expected.json

``--full-payload`` adds what Jira returns for ``fields=*all`` that the synthetic
issues otherwise lack and no rule reads (``with_full_payload``): avatar URLs on
every user, creator, watches, votes, worklog, a few short comments, progress and
time tracking, sprint and rank, and the empty custom fields of a typical site.
The live benchmark serves such pages, so a naive ``*all`` client pays for what
a real one would.

``--expected`` also writes what the generator seeded: for each issue with a
violation, the default rule ids it should trip, the count per rule and the
Feature Factory Ratio (see ``bot/demo/README.md`` for the rule semantics).

From Python: ``generate(n_issues, flavour, seed, now) -> list[dict]`` (pages).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.synth import CLOUD, DEMO_NOW, FLAVOURS, Tally, generate, workload, write_pages  # noqa: E402

__all__ = ["generate", "write_workspace", "main"]


def write_workspace(path: str | Path, n_issues: int, flavour: str = CLOUD, seed: int = 0,
                    now: datetime = DEMO_NOW, *, page_size: int = 100,
                    expected_path: str | Path | None = None, progress=None, full_payload: bool = False) -> dict:
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

    pages = builder.pages(counted(), page_size, total=n_issues, seed=seed)
    if full_payload:
        pages = with_full_payload(pages, flavour, seed)
    with open(path, "w", encoding="utf-8") as out:
        written = write_pages(pages, out)
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


# -- what fields=*all returns besides -------------------------------------------------------------

CLOUD_EXTRA_NAMES = {
    "customfield_10000": "Development", "customfield_10019": "Rank", "customfield_10020": "Sprint",
    "customfield_10021": "Flagged", "customfield_10014": "Epic Link", "customfield_10017": "Issue color",
    "customfield_10018": "Parent Link", "customfield_10011": "Epic Name", "customfield_10012": "Epic Status",
    "customfield_10002": "Organizations", "customfield_10003": "Approvers", "customfield_10004": "Impact",
    "customfield_10005": "Change type", "customfield_10006": "Change risk", "customfield_10007": "Change reason",
    "customfield_10008": "Actual start", "customfield_10009": "Actual end", "customfield_10022": "Target start",
    "customfield_10023": "Target end", "customfield_10024": "Category",
}
DC_EXTRA_NAMES = {
    "customfield_10104": "Sprint", "customfield_10105": "Rank", "customfield_10102": "Epic Status",
    "customfield_10103": "Epic Colour", "customfield_10000": "Development", "customfield_10107": "Flagged",
    "customfield_10108": "Team (Advanced Roadmaps)", "customfield_10109": "Target start",
    "customfield_10110": "Target end", "customfield_10111": "Original story points",
}
SYSTEM_EXTRA_NAMES = {
    "creator": "Creator", "watches": "Watchers", "votes": "Votes", "worklog": "Log Work", "comment": "Comment",
    "subtasks": "Sub-tasks", "issuelinks": "Linked Issues", "attachment": "Attachment",
    "timetracking": "Time tracking", "progress": "Progress", "aggregateprogress": "Σ Progress",
    "timespent": "Time Spent", "aggregatetimespent": "Σ Time Spent", "timeestimate": "Remaining Estimate",
    "aggregatetimeestimate": "Σ Remaining Estimate", "timeoriginalestimate": "Original estimate",
    "aggregatetimeoriginalestimate": "Σ Original Estimate", "workratio": "Work Ratio", "lastViewed": "Last Viewed",
    "environment": "Environment", "security": "Security Level", "versions": "Affects versions",
}
_COMMENTS = ("Picked this up; will update once the first cut is in review.",
             "Blocked on the upstream change, see the linked ticket.",
             "Demoed in the sprint review, feedback captured in the notes.",
             "Moved to next sprint after planning.",
             "QA passed on staging.")


def with_full_payload(pages, flavour: str, seed: int = 0):
    """Pages whose issues carry what Jira adds for ``fields=*all`` (see the module docstring).

    Conservative on purpose: no sub-task lists, issue links or attachments, and
    at most two one-line comments per issue.
    """
    rng = random.Random(seed ^ 0xA11)
    extra_names = {**SYSTEM_EXTRA_NAMES, **(CLOUD_EXTRA_NAMES if flavour == CLOUD else DC_EXTRA_NAMES)}
    for page in pages:
        for issue in page["issues"]:
            _add_full_payload(issue, flavour, rng)
        if isinstance(page.get("names"), dict):
            page["names"] = {**page["names"], **extra_names}
        yield page


def _avatars(user: dict | None, flavour: str) -> None:
    if not isinstance(user, dict) or "avatarUrls" in user:
        return
    ident = user.get("accountId") or user.get("key") or user.get("name") or ""
    if flavour == CLOUD:
        digest = hashlib.md5(str(ident).encode()).hexdigest()
        initials = "".join(part[:1] for part in str(user.get("displayName") or "?").split()[:2]).upper()
        base = (f"https://secure.gravatar.com/avatar/{digest}?d=https%3A%2F%2Favatar-management--avatars.us-west-2"
                f".prod.public.atl-paas.net%2Finitials%2F{initials}-3.png")
    else:
        base = f"https://jira.example.com/secure/useravatar?ownerId={ident}&avatarId=10341"
    user["avatarUrls"] = {size: base + ("" if size == "48x48" else f"&size={size}")
                          for size in ("48x48", "24x24", "16x16", "32x32")}


def _add_full_payload(issue: dict, flavour: str, rng: random.Random) -> None:
    fields = issue["fields"]
    site = issue.get("self", "").split("/rest/", 1)[0]
    api = "3" if flavour == CLOUD else "2"
    key = issue["key"]
    for name in ("assignee", "reporter", "customfield_10052"):
        _avatars(fields.get(name), flavour)
    reporter = fields.get("reporter")
    fields["creator"] = dict(reporter) if isinstance(reporter, dict) else None
    fields["watches"] = {"self": f"{site}/rest/api/{api}/issue/{key}/watchers", "watchCount": rng.randint(1, 4),
                         "isWatching": False}
    fields["votes"] = {"self": f"{site}/rest/api/{api}/issue/{key}/votes", "votes": 0, "hasVoted": False}
    fields["worklog"] = {"startAt": 0, "maxResults": 20, "total": 0, "worklogs": []}
    comments = []
    for number in range(rng.choice((0, 0, 0, 0, 0, 1, 1, 1, 2, 2))):
        author = reporter if isinstance(reporter, dict) else None
        text = rng.choice(_COMMENTS)
        body: object = text if flavour != CLOUD else {
            "type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}
        comment_id = str(100000 + int(issue.get("id") or 0) * 3 + number)
        comments.append({"self": f"{site}/rest/api/{api}/issue/{issue.get('id')}/comment/{comment_id}",
                         "id": comment_id, "author": author, "body": body, "updateAuthor": author,
                         "created": fields.get("updated"), "updated": fields.get("updated"),
                         **({"jsdPublic": True} if flavour == CLOUD else {})})
    fields["comment"] = {"comments": comments, "self": f"{site}/rest/api/{api}/issue/{issue.get('id')}/comment",
                         "maxResults": len(comments), "total": len(comments), "startAt": 0}
    fields.update({"subtasks": [], "issuelinks": [], "attachment": [], "timetracking": {},
                   "progress": {"progress": 0, "total": 0}, "aggregateprogress": {"progress": 0, "total": 0},
                   "timespent": None, "aggregatetimespent": None, "timeestimate": None,
                   "aggregatetimeestimate": None, "timeoriginalestimate": None,
                   "aggregatetimeoriginalestimate": None, "workratio": -1, "lastViewed": None, "environment": None,
                   "security": None, "versions": []})
    level = (fields.get("issuetype") or {}).get("name")
    in_sprint = level not in ("Epic", "Initiative", "Theme") and rng.random() < 0.7
    rank = f"0|i{int(issue.get('id') or 0):05x}:"
    if flavour == CLOUD:
        fields["issuerestriction"] = {"issuerestrictions": {}, "shouldDisplay": False}
        fields["customfield_10019"] = rank
        fields["customfield_10000"] = "{}"
        sprint_number = rng.randint(1, 40)
        fields["customfield_10020"] = [{"id": sprint_number, "name": f"{key.split('-')[0]} Sprint {sprint_number}",
                                        "state": "closed", "boardId": 5, "goal": "",
                                        "startDate": "2026-09-01T08:00:00.000Z", "endDate": "2026-09-15T08:00:00.000Z",
                                        "completeDate": "2026-09-15T09:12:00.000Z"}] if in_sprint else None
        for field_id in CLOUD_EXTRA_NAMES:
            fields.setdefault(field_id, None)
    else:
        fields["customfield_10105"] = rank
        fields["customfield_10000"] = "{}"
        sprint_number = rng.randint(1, 40)
        fields["customfield_10104"] = [
            f"com.atlassian.greenhopper.service.sprint.Sprint@1a2b3c[id={sprint_number},rapidViewId=5,"
            f"state=CLOSED,name={key.split('-')[0]} Sprint {sprint_number},startDate=2026-09-01T08:00:00.000Z,"
            f"endDate=2026-09-15T08:00:00.000Z,completeDate=2026-09-15T09:12:00.000Z,activatedDate=<null>,"
            f"sequence={sprint_number},goal=,synced=false,autoStartStop=false,incompleteIssuesDestinationId=<null>]"
        ] if in_sprint else None
        for field_id in DC_EXTRA_NAMES:
            fields.setdefault(field_id, None)


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
    parser.add_argument("--full-payload", action="store_true",
                        help="add what Jira returns for fields=*all and no rule reads (avatars, comments, "
                             "sprint, watches...): what a naive client downloads")
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
                                  page_size=args.page_size, expected_path=args.expected, progress=show,
                                  full_payload=args.full_payload)
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
