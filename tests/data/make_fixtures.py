"""Write the hand-curated acceptance snapshots in this folder, and what each must trigger.

    python tests/data/make_fixtures.py

- ``datacenter_small.json``: two ``/rest/api/2/search`` pages (wiki markup,
  Epic Link / Parent Link custom fields found through the ``names`` map only).
- ``cloud_small.json``: two ``/rest/api/3/search/jql`` pages (ADF, ``parent``
  objects with ``issuetype.hierarchyLevel``).
- ``*.expected.json``: for every issue key, the default rule ids that must
  fire (and so, no others), the malformed issues that must be skipped, and the
  Feature Factory Ratio, evaluated on 2026-11-16 with no govbot.yaml.

Every issue below is written out by hand, its summary says what it tests, and
its expected rules are typed in next to it, not computed. This file shares no
code with ``tools/synth.py`` on purpose: the fixtures check the engine, so
they must not inherit the generator's mistakes. The only derived numbers are
the counts and the FFR, summed from the hand-typed expectations.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = "2026-11-16"

AOM = "anticipated-outcome-missing"
AOU = "anticipated-outcome-unmeasurable"
CTL = "closing-the-loop-actual-outcome-missing"
TDI = "tech-debt-agreement-incomplete"
TDO = "tech-debt-agreement-overdue"
TDB = "tech-debt-agreement-below-epic"
NWI = "work-hierarchy-not-a-work-item"
INV = "work-hierarchy-inverted"
SKP = "work-hierarchy-skipped-level"
SWE = "work-hierarchy-story-without-epic"
UNM = "work-hierarchy-unmapped-type"
RULES = (AOM, AOU, CTL, TDI, TDO, TDB, NWI, INV, SKP, SWE, UNM)
TOP_TYPES = {"Theme", "Initiative", "Epic"}  # what the Feature Factory Ratio counts
LABEL = "tech-debt-agreement"

CATEGORY = {"new": (2, "To Do", "blue-gray"), "indeterminate": (4, "In Progress", "yellow"),
            "done": (3, "Done", "green")}


def row(key, type_name, summary, status, expect, **extra):
    return {"key": key, "type": type_name, "summary": summary, "status": status, "expect": list(expect), **extra}


def expected_file(snapshot: str, flavour: str, rows: list[dict], notes: dict) -> dict:
    issues, skipped, counts = {}, [], {}
    for item in rows:
        if item.get("malformed"):
            skipped.append(item["key"])
            continue
        issues[item["key"]] = [rule for rule in RULES if rule in item["expect"]]
        if item["type"] in TOP_TYPES:
            pair = counts.setdefault(item["key"].split("-")[0], [0, 0])
            pair[0] += AOM in item["expect"]
            pair[1] += 1
    by_rule = {rule: sum(rule in fired for fired in issues.values()) for rule in RULES}
    missing, total = sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())
    pct = lambda a, b: round(100.0 * a / b, 2)  # noqa: E731
    return {
        "snapshot": f"tests/data/{snapshot}",
        "flavour": flavour,
        "now": NOW,
        "config": None,
        "rules": list(RULES),
        "semantics": "tests/data/README.md",
        "notes": notes,
        "issues_scanned": len(issues),
        "skipped": skipped,
        "findings": sum(by_rule.values()),
        "by_rule": by_rule,
        "feature_factory_ratio": {
            "overall": pct(missing, total),
            "by_project": {key: pct(*pair) for key, pair in sorted(counts.items())},
            "counts": {"overall": [missing, total], **dict(sorted(counts.items()))},
            "note": "no config, so the engine's by_team keys are the project keys",
        },
        "issues": issues,
    }


def write(name: str, data) -> None:
    path = HERE / name
    with open(path, "w", encoding="utf-8") as out:
        if isinstance(data, list):  # pages: one issue per line keeps diffs readable
            out.write("[")
            for index, page in enumerate(data):
                out.write(",\n" if index else "")
                rest = json.dumps({k: v for k, v in page.items() if k != "issues"}, ensure_ascii=False)
                out.write('{"issues": [\n' + ",\n".join(json.dumps(i, ensure_ascii=False) for i in page["issues"])
                          + "\n], " + rest[1:])
            out.write("]\n")
        else:
            out.write(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


# =============================================================================
# Data Center: projects ORD (Orders) and WH (Warehouse), wiki markup
# =============================================================================
DC_SITE = "https://jira.acme-logistics.example"
DC_FIELDS = {  # deliberately not the demo's ids: the engine must go by the names map
    "customfield_11900": "Anticipated Outcome",
    "customfield_11901": "Actual Outcome",
    "customfield_11902": "Outcome Owner",
    "customfield_10008": "Epic Link",
    "customfield_10009": "Epic Name",
    "customfield_12310": "Parent Link",
    "customfield_12000": "Team",
    "customfield_10002": "Story Points",
}
DC_SYSTEM = {"summary": "Summary", "issuetype": "Issue Type", "parent": "Parent", "project": "Project",
             "status": "Status", "priority": "Priority", "labels": "Labels", "components": "Component/s",
             "assignee": "Assignee", "reporter": "Reporter", "created": "Created", "updated": "Updated",
             "resolutiondate": "Resolved", "resolution": "Resolution", "description": "Description"}
DC_TYPES = {"Theme": "10400", "Initiative": "10300", "Epic": "10000", "Story": "10001", "Task": "10002",
            "Bug": "10004", "Sub-task": "10003", "Release": "10500", "Deliverable": "10501",
            "Work Package": "10502"}
DC_STATUS = {"Open": ("1", "new"), "In Progress": ("3", "indeterminate"), "Resolved": ("5", "done"),
             "Closed": ("6", "done")}
DC_PROJECTS = {"ORD": ("11000", "Orders"), "WH": ("11001", "Warehouse")}
DC_USERS = {
    "alice": ("achen", "JIRAUSER10201", "Alice Chen"),
    "bob": ("bokafor", "JIRAUSER10202", "Bob Okafor"),
    "carla": ("cmendes", "JIRAUSER10203", "Carla Mendes"),
    "dev": ("dpatel", "JIRAUSER10204", "Dev Patel"),
    "erik": ("elund", "JIRAUSER10205", "Erik Lund"),
}

C = "\r\n"  # Data Center hands descriptions back with Windows line endings


def _big_wiki_description() -> str:
    """~2 MB: the outcome first, then a pasted scanner log."""
    lines = ["h2. Anticipated Outcome",
             "Cut mis-picks from 1.8% to 0.5% of order lines by 2027-06-30, saving 300 re-delivery trips a month.",
             "", "h2. Appendix: scanner log from the pilot", "{noformat}"]
    size = sum(len(line) + 2 for line in lines)
    number = 0
    while size < 2_000_000:
        line = (f"2026-10-{number % 28 + 1:02d} {number % 24:02d}:{number % 60:02d}:{(number * 7) % 60:02d},"
                f"{number % 1000:03d} WARN [scanner-{number % 12}] retry={number % 4} "
                f"sku=SKU-{number * 37 % 999983:06d} "
                f"bin=A-{number % 40:02d}-{number % 9:02d} latency_ms={(number * 13) % 1500}")
        lines.append(line)
        size += len(line) + 2
        number += 1
    lines.append("{noformat}")
    return C.join(lines)


def dc_rows() -> list[dict]:
    big = _big_wiki_description()
    return [
        # ---- ORD: a clean spine, both outcome styles ---------------------------------
        row("ORD-1", "Theme", "Theme: Same-day delivery everywhere (clean, outcome in field)", "In Progress", [],
            outcome="Offer same-day delivery in 12 metro areas by Q4 2027, lifting repeat orders by 15%.",
            description=f"h2. Context{C}Same-day is the top reason shoppers give for choosing a rival."),
        row("ORD-2", "Initiative", "Initiative: Self-service order changes (clean, outcome in field)", "In Progress",
            [], parent="ORD-1", via="parent-link",
            outcome="Halve 'change my order' support contacts (from 4,000 to 2,000 a month) by 2027-03-31.",
            owner="alice"),
        row("ORD-3", "Epic", "Epic: Change delivery address after checkout (clean, outcome as h2 section)",
            "In Progress", [], parent="ORD-2", via="parent-link-key",
            description=(f"h2. Context{C}Shoppers move house or order to the office.{C}{C}"
                         f"h2. Anticipated Outcome{C}70% of address-change requests are self-served "
                         f"within 3 months of launch.{C}{C}h2. Scope{C}* Web{C}* App")),
        row("ORD-4", "Story", "Story: Address change form (clean, Epic Link)", "In Progress", [],
            parent="ORD-3", via="epic-link",
            description=f"As a shopper I want to change my address so that the parcel reaches me.{C}{C}"
                        f"h3. Acceptance criteria{C}* Postcode validated{C}* Confirmation email sent"),
        row("ORD-5", "Sub-task", "Sub-task: Validate postcode (clean)", "Open", [], parent="ORD-4", via="subtask"),
        row("ORD-6", "Bug", "Bug: Address change email shows the old address (clean)", "Open", [],
            parent="ORD-3", via="epic-link",
            description="h3. Steps to reproduce{C}# Change address{C}# Open the email".replace("{C}", C)),
        row("ORD-7", "Epic", "Epic: Order cancellation window (clean, outcome as *Anticipated Outcome:* line)",
            "Open", [], parent="ORD-2", via="parent-link",
            description=(f"Shoppers want a short window to cancel.{C}{C}{{panel:title=Outcome}}{C}"
                         f"*Anticipated Outcome:* 25% fewer cancellation calls to support by Q2 2027.{C}"
                         f"{{panel}}{C}{C}h2. Scope{C}* 30-minute window")),
        row("ORD-8", "Task", "Task: Update the cancellation runbook (clean)", "Open", [],
            parent="ORD-7", via="epic-link"),
        # ---- anticipated-outcome-missing ------------------------------------------------
        row("ORD-9", "Epic", "Epic: Gift messages (outcome field empty, no section)", "In Progress", [AOM],
            parent="ORD-2", via="parent-link", outcome="",
            description=f"h2. Context{C}Shoppers want to add a note to gifts."),
        row("ORD-10", "Epic", "Epic: Order history export (outcome field says TBD)", "Open", [AOM],
            parent="ORD-2", via="parent-link", outcome="TBD"),
        row("ORD-11", "Epic", "Epic: Split shipments (outcome copies the summary)", "Open", [AOM],
            outcome="Epic: Split shipments (outcome copies the summary)"),
        row("ORD-12", "Initiative", "Initiative: Loyalty points (h2. Anticipated Outcome heading left empty)",
            "Open", [AOM], parent="ORD-1", via="parent-link",
            description=f"h2. Anticipated Outcome{C}{C}h2. Scope{C}* Earn points{C}* Spend points"),
        # ---- anticipated-outcome-unmeasurable ---------------------------------------------
        row("ORD-13", "Epic", "Epic: Order tracking page (vague outcome in field, no measure)", "In Progress",
            [AOU], parent="ORD-2", via="parent-link",
            outcome="Make order tracking nicer and clearer for shoppers."),
        row("ORD-14", "Epic", "Epic: Returns portal (vague outcome as a description line)", "Open", [AOU],
            description=(f"h2. Context{C}Returns are handled by email today.{C}{C}"
                         f"*Anticipated Outcome:* A smoother returns experience that people like.{C}{C}"
                         f"h2. Scope{C}* Printable labels")),
        # ---- closing-the-loop ---------------------------------------------------------------
        row("ORD-15", "Epic", "Epic: Delivery slot picker (delivered 60 days ago, no Actual Outcome)", "Closed",
            [CTL], parent="ORD-2", via="parent-link", resolved="2026-09-17T10:15:00.000+0000",
            outcome="40% of orders pick a delivery slot by Q1 2027."),
        row("ORD-16", "Epic", "Epic: Click and collect (delivered 31 days ago, no Actual Outcome)", "Resolved",
            [CTL], resolved="2026-10-16T10:15:00.000+0100",
            outcome="10% of orders collected in store within 6 months."),
        row("ORD-17", "Epic", "Epic: Order notes (delivered 29 days ago, inside the grace period, clean)",
            "Closed", [], resolved="2026-10-18T16:40:00.000+0000",
            outcome="Cut 'where do I leave it' calls by 20% by 2027-01-31."),
        row("ORD-18", "Epic", "Epic: Express checkout (delivered 90 days ago, Actual Outcome in field, clean)",
            "Closed", [], parent="ORD-2", via="parent-link", resolved="2026-08-18T09:00:00.000+0000",
            outcome="Checkout completion from 62% to 70% within 8 weeks.",
            actual="Completion reached 68% after 8 weeks; we keep iterating on the payment step."),
        row("ORD-19", "Initiative", "Initiative: Paperless invoices (delivered 120 days ago, Actual Outcome "
            "as h2 section, clean)", "Closed", [], parent="ORD-1", via="parent-link-key",
            resolved="2026-07-19T11:30:00.000+0000", outcome="90% of invoices sent by email by Q3 2026.",
            description=(f"h2. Actual Outcome{C}94% of invoices went out by email in Q3 2026; "
                         "print costs fell by a third.")),
        row("ORD-20", "Epic", "Epic: Saved addresses (delivered 45 days ago, Actual Outcome is TBD)", "Closed",
            [CTL], resolved="2026-10-02T14:00:00.000+0000", outcome="Repeat checkout 15 seconds faster by Q4 2026.",
            actual="TBD"),
        # ---- tech-debt agreements ---------------------------------------------------------
        row("ORD-21", "Epic", "Tech debt: Synchronous stock check (complete agreement, future timeline, clean)",
            "In Progress", [], labels=[LABEL], owner="bob",
            outcome="Checkout p95 under 800 ms during the 2026 peak, down from 2.4 s.",
            description=(f"h2. Technical debt agreement{C}h3. Reason{C}Black Friday deadline; no time for an "
                         f"async design.{C}h3. Impact{C}Checkout slows when the stock service is slow.{C}"
                         f"h3. Timeline{C}Pay down by 2027-03-31.")),
        row("ORD-22", "Epic", "Tech debt: Copy-pasted pricing rules (agreement lacks Impact)", "In Progress",
            [TDI], labels=[LABEL], owner="bob", outcome="One pricing engine serving 100% of quotes by 2027-06-30.",
            description=(f"*Reason:* The promo launch could not wait for the pricing service.{C}"
                         f"*Timeline:* Pay down by 2027-05-31.")),
        row("ORD-23", "Epic", "Tech debt: Legacy SOAP order API (timeline 2026-02-01 has passed, still open)",
            "In Progress", [TDO], labels=[LABEL], owner="bob",
            outcome="Retire the SOAP API: 0 calls a day by 2027-01-31, saving 2 on-call pages a week.",
            description=(f"*Reason:* Partner integration deadline.{C}*Impact:* Two code paths for every order "
                         f"change.{C}*Timeline:* pay down by 2026-02-01")),
        row("ORD-24", "Story", "Story: tech-debt-agreement label on a story", "Open", [TDB],
            parent="ORD-3", via="epic-link", labels=[LABEL]),
        # ---- work hierarchy ---------------------------------------------------------------
        row("ORD-25", "Release", "Release 2026.12 used as a work item (Epic Link to an epic)", "Open", [NWI],
            parent="ORD-7", via="epic-link"),
        row("ORD-26", "Epic", "Epic under a story via Parent Link (inverted)", "Open", [INV],
            parent="ORD-4", via="parent-link", outcome="Address lookups answered in under 200 ms for 99% of calls."),
        row("ORD-27", "Story", "Story directly under an initiative via Parent Link (skips the epic)", "Open",
            [SKP], parent="ORD-2", via="parent-link"),
        row("ORD-28", "Story", "Story with no Epic Link and no parent (orphan)", "Open", [SWE]),
        row("ORD-29", "Deliverable", "Deliverable: custom type unknown to the hierarchy map", "Open", [UNM],
            parent="ORD-7", via="epic-link"),
        row("ORD-30", "Epic", "Epic directly under the theme via Parent Link (skips the initiative)", "Open",
            [SKP], parent="ORD-1", via="parent-link", outcome="Same-day slots in 3 pilot cities by 2027-02-28."),
        row("ORD-31", "Story", "Malformed issue: fields is null (skipped, never a crash)", "Open", [],
            malformed=True),
        row("ORD-32", "Story", "Story whose Epic Link names an epic outside this snapshot (clean: no verdict)",
            "Open", [], parent="ARCH-12", via="epic-link-outside"),
        # ---- WH: the other project ---------------------------------------------------------
        row("WH-1", "Initiative", "Initiative: Faster picking (clean, outcome under h3. Expected Outcome, a synonym)",
            "In Progress", [], description=(f"h3. Expected Outcome{C}Orders picked in under 12 minutes "
                                            f"(now 20) by Q2 2027.")),
        row("WH-2", "Epic", "Epic: Pick-path optimisation (clean, field empty but outcome in h2 section)",
            "In Progress", [], parent="WH-1", via="parent-link", outcome="   ",
            description=f"h2. Anticipated Outcome{C}Walking distance per pick down 30% by 2027-01-31."),
        row("WH-3", "Story", "Story: Pick list screen (clean)", "In Progress", [], parent="WH-2", via="epic-link"),
        row("WH-4", "Story", "Story whose Epic Link points at another story (inverted)", "Open", [INV],
            parent="WH-3", via="epic-link"),
        row("WH-5", "Initiative", "Initiative under an epic via Parent Link (inverted)", "Open", [INV],
            parent="WH-2", via="parent-link", outcome="Robots pick 20% of lines by 2027-12-31."),
        row("WH-6", "Epic", "Epic: Cycle counts (outcome field says n/a)", "Open", [AOM], outcome="n/a"),
        row("WH-7", "Epic", "Epic: Dock scheduling (vague outcome, no measure)", "Open", [AOU],
            outcome="Drivers and dock staff have a calmer, better organised day."),
        row("WH-8", "Epic", "Tech debt: Manual label printing (Trigger instead of Timeline, clean)", "Open", [],
            labels=[LABEL], outcome="Labels printed automatically for 95% of parcels by 2027-04-30.",
            description=(f"h3. Reason{C}Printer vendor API was not ready.{C}h3. Impact{C}One person per shift "
                         f"prints labels by hand.{C}h3. Trigger{C}When the vendor ships its API, or we open a "
                         f"second site.")),
        row("WH-9", "Epic", "Tech debt: Hard-coded shelf layout (no Reason; timeline 2026-06-30 has passed)",
            "In Progress", [TDI, TDO], labels=[LABEL],
            outcome="Re-slotting a zone takes 1 day instead of 5 by 2027-03-31.",
            description=(f"h3. Impact{C}Every re-slotting needs a deploy.{C}h3. Timeline{C}"
                         f"Pay down by 2026-06-30.")),
        row("WH-10", "Epic", "Tech debt: Nightly batch sync (past timeline but the epic is done, "
            "Actual Outcome recorded, clean)", "Closed", [], labels=[LABEL], resolved="2026-10-01T08:00:00.000+0000",
            outcome="Stock levels at most 5 minutes stale by 2026-09-30.",
            actual="Replaced with streaming; stock is 40 seconds stale at p95.",
            description=(f"*Reason:* Launch deadline.{C}*Impact:* Stock is up to a day stale.{C}"
                         f"*Timeline:* Pay down by 2026-05-01.")),
        row("WH-11", "Sub-task", "Sub-task carrying the tech-debt-agreement label", "Open", [TDB],
            parent="WH-3", via="subtask", labels=[LABEL]),
        row("WH-12", "Release", "Release: scanner firmware 4.1 used as a work item (no parent)", "Open", [NWI]),
        row("WH-13", "Work Package", "Work Package: custom type unknown to the hierarchy map", "Open", [UNM],
            parent="WH-2", via="epic-link"),
        row("WH-14", "Story", "Story with no parent at all (orphan)", "Open", [SWE]),
        row("WH-15", "Epic", "Epic: Warehouse handbook (2 MB description, outcome section first, clean)",
            "In Progress", [], description=big),
        row("WH-16", "Epic", "Delivered epic with neither anticipated nor actual outcome (resolved 75 days ago)",
            "Closed", [AOM, CTL], resolved="2026-09-02T12:00:00.000+0000"),
        row("WH-17", "Theme", "Theme: Zero-waste warehouse (outcome field is '-')", "Open", [AOM], outcome="-"),
        row("WH-18", "Bug", "Bug: Scanner beeps twice (clean, Epic Link)", "Open", [], parent="WH-2",
            via="epic-link"),
        row("WH-19", "Epic", "Tech debt: label added, no agreement sections at all", "Open", [TDI],
            labels=[LABEL], outcome="Nightly jobs finish before 05:00 on 99% of days by 2027-02-28."),
        row("WH-20", "Bug", "Bug without an epic (clean: bugs may stand alone)", "Open", []),
        row("WH-21", "Initiative", "Initiative: Second warehouse (delivered 100 days ago, no Actual Outcome)",
            "Closed", [CTL], resolved="2026-08-08T15:45:00.000+0000",
            outcome="Second site ships 25% of national orders by Q3 2026."),
    ]


def dc_issue(item: dict, index: int, by_key: dict) -> dict:
    key = item["key"]
    project = key.split("-")[0]
    issue_id = str(20000 + index)
    url = f"{DC_SITE}/rest/api/2/issue/{issue_id}"
    if item.get("malformed"):
        return {"expand": "renderedFields", "id": issue_id, "self": url, "key": key, "fields": None}
    status_id, category = DC_STATUS[item["status"]]
    number, category_name, colour = CATEGORY[category]

    def user(name):
        if name is None:
            return None
        username, user_key, display = DC_USERS[name]
        return {"self": f"{DC_SITE}/rest/api/2/user?username={username}", "name": username, "key": user_key,
                "emailAddress": f"{username}@acme-logistics.example", "displayName": display, "active": True,
                "timeZone": "Europe/Lisbon"}

    def type_of(name):
        return {"self": f"{DC_SITE}/rest/api/2/issuetype/{DC_TYPES[name]}", "id": DC_TYPES[name],
                "description": "", "iconUrl": f"{DC_SITE}/images/icons/issuetypes/generic.svg",
                "name": name, "subtask": name == "Sub-task", "avatarId": 10318}

    def status_of(name):
        sid, cat = DC_STATUS[name]
        n, cname, col = CATEGORY[cat]
        return {"self": f"{DC_SITE}/rest/api/2/status/{sid}", "description": "", "iconUrl": "", "name": name,
                "id": sid, "statusCategory": {"self": f"{DC_SITE}/rest/api/2/statuscategory/{n}", "id": n,
                                              "key": cat, "colorName": col, "name": cname}}

    resolved = item.get("resolved")
    fields = {
        "summary": item["summary"],
        "issuetype": type_of(item["type"]),
        "project": {"self": f"{DC_SITE}/rest/api/2/project/{DC_PROJECTS[project][0]}", "id": DC_PROJECTS[project][0],
                    "key": project, "name": DC_PROJECTS[project][1], "projectTypeKey": "software"},
        "status": status_of(item["status"]),
        "priority": {"self": f"{DC_SITE}/rest/api/2/priority/3", "iconUrl": "", "name": "Medium", "id": "3"},
        "labels": item.get("labels", []),
        "components": [],
        "assignee": user(item.get("assignee", "carla")),
        "reporter": user(item.get("reporter", "dev")),
        "created": item.get("created", "2026-04-06T09:30:00.000+0100"),
        "updated": item.get("updated", resolved or "2026-11-09T15:20:00.000+0000"),
        "resolutiondate": resolved,
        "resolution": ({"self": f"{DC_SITE}/rest/api/2/resolution/1", "id": "1", "description": "",
                        "name": "Fixed"} if category == "done" else None),
        "description": item.get("description"),
        "customfield_11900": item.get("outcome"),
        "customfield_11901": item.get("actual"),
        "customfield_11902": user(item.get("owner")),
        "customfield_10008": None,
        "customfield_10009": item["summary"][:40] if item["type"] == "Epic" else None,
        "customfield_12310": None,
        "customfield_12000": {"self": f"{DC_SITE}/rest/api/2/customFieldOption/12100", "value": DC_PROJECTS[project][1],
                              "id": "12100", "disabled": False},
        "customfield_10002": 3.0 if item["type"] == "Story" else None,
    }
    parent_key = item.get("parent")
    if parent_key and item["via"] == "epic-link-outside":
        fields["customfield_10008"] = parent_key
    elif parent_key:
        parent = by_key[parent_key]
        parent_id = str(20000 + parent["index"])
        via = item["via"]
        if via == "epic-link":
            fields["customfield_10008"] = parent_key
        elif via == "parent-link-key":
            fields["customfield_12310"] = parent_key
        elif via == "parent-link":
            fields["customfield_12310"] = {
                "hasEpicLinkFieldDependency": False, "showField": True,
                "data": {"id": int(parent_id), "keyNum": int(parent_key.split("-")[1]), "key": parent_key,
                         "summary": parent["summary"], "projectId": int(DC_PROJECTS[parent_key.split("-")[0]][0]),
                         "issueTypeId": int(DC_TYPES[parent["type"]])}}
        elif via == "subtask":
            fields["parent"] = {"id": parent_id, "key": parent_key, "self": f"{DC_SITE}/rest/api/2/issue/{parent_id}",
                                "fields": {"summary": parent["summary"], "status": status_of(parent["status"]),
                                           "priority": fields["priority"], "issuetype": type_of(parent["type"])}}
        else:
            raise ValueError(via)
    return {"expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
            "id": issue_id, "self": url, "key": key, "fields": fields}


def build_datacenter() -> tuple[list[dict], dict]:
    rows = dc_rows()
    by_key = {item["key"]: {**item, "index": index} for index, item in enumerate(rows)}
    # Newest first, as "ORDER BY created DESC" returns them: children come before their parents.
    issues = [dc_issue(item, index, by_key) for index, item in enumerate(rows)][::-1]
    names = {**DC_SYSTEM, **DC_FIELDS}
    split = 30
    pages = [
        {"expand": "names,schema", "startAt": 0, "maxResults": split, "total": len(issues),
         "issues": issues[:split], "names": names},
        {"expand": "names,schema", "startAt": split, "maxResults": split, "total": len(issues),
         "issues": issues[split:], "names": names},
    ]
    notes = {
        "field ids": "custom field ids differ from the demo's; Epic Link / Parent Link are found by name "
                     "(no schema map in these pages)",
        "ORD-16": "resolved 2026-10-16T10:15+01:00: 31 days before 2026-11-16, past the 30-day grace",
        "ORD-17": "resolved 29 days before 2026-11-16: inside the grace period",
        "WH-2": "the Anticipated Outcome field holds only spaces; the description section supplies the outcome",
        "WH-15": "description is about 2 MB (a pasted log after the outcome section)",
        "WH-20": "bugs and tasks may stand alone: work-hierarchy-story-without-epic covers feature-flow items "
                 "(Story, Feature) only",
        "ORD-27": "a story right under an initiative is reported by skipped-level only, not also as an orphan",
        "ORD-32": "its Epic Link names ARCH-12, which is not in the snapshot: the parent exists but cannot be "
                  "seen, so no orphan verdict",
        "order": "issues are newest first (ORDER BY created DESC), so children appear before their parents",
    }
    return pages, expected_file("datacenter_small.json", "datacenter", rows, notes)


# =============================================================================
# Cloud: projects PAY (Payments) and MOB (Mobile), ADF
# =============================================================================
CLOUD_SITE = "https://acme-pay.atlassian.net"
CLOUD_FIELDS = {
    "customfield_10230": "Anticipated Outcome",
    "customfield_10231": "Actual Outcome",
    "customfield_10232": "Outcome Owner",
    "customfield_10001": "Team",
    "customfield_10016": "Story point estimate",
}
CLOUD_SYSTEM = {"summary": "Summary", "issuetype": "Issue Type", "parent": "Parent", "project": "Project",
                "status": "Status", "statuscategorychangedate": "Status Category Changed", "priority": "Priority",
                "labels": "Labels", "components": "Components", "assignee": "Assignee", "reporter": "Reporter",
                "created": "Created", "updated": "Updated", "resolutiondate": "Resolved",
                "resolution": "Resolution", "description": "Description"}
CLOUD_TYPES = {  # name: (id, hierarchyLevel)
    "Theme": ("10110", 3), "Initiative": ("10109", 2), "Epic": ("10100", 1), "Feature": ("10108", 0),
    "Story": ("10101", 0), "Task": ("10102", 0), "Bug": ("10104", 0), "Sub-task": ("10103", -1),
    "Release": ("10111", 0), "Deliverable": ("10112", 0), "Work Package": ("10113", 0),
}
CLOUD_STATUS = {"To Do": ("10000", "new"), "In Progress": ("3", "indeterminate"), "Done": ("10001", "done")}
CLOUD_PROJECTS = {"PAY": ("10200", "Payments"), "MOB": ("10201", "Mobile")}
CLOUD_USERS = {
    "maya": ("712020:0b7c2a10-5e1f-4c7e-9a55-3f8d2b1c0a01", "Maya Iyer", "maya.iyer@acme-pay.example"),
    "tom": ("712020:1c8d3b21-6f20-4d8f-8b66-4a9e3c2d1b02", "Tom Walsh", None),  # email hidden
    "sara": ("5b10ac8d82e05b22cc7d4ef5", "Sara Haddad", "sara.haddad@acme-pay.example"),  # older id format
    "li": ("712020:2d9e4c32-7031-4e90-8c77-5bafd43e2c03", "Li Zhang", None),
}


# -- tiny ADF writers ---------------------------------------------------------
def t(text, *marks):
    node = {"type": "text", "text": text}
    if marks:
        node["marks"] = [{"type": mark} for mark in marks]
    return node


def doc(*content):
    return {"type": "doc", "version": 1, "content": list(content)}


def h(text, level=2):
    return {"type": "heading", "attrs": {"level": level}, "content": [t(text)]}


def p(*parts):
    return {"type": "paragraph", "content": [t(part) if isinstance(part, str) else part for part in parts]}


def labelled(name, *parts):
    return p(t(f"{name}:", "strong"), *[t(" " + part) if isinstance(part, str) else part for part in parts])


def ul(*items):
    return {"type": "bulletList", "content": [{"type": "listItem", "content": [p(item)]} for item in items]}


def adf_date(day):
    stamp = int(datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp() * 1000)
    return {"type": "date", "attrs": {"timestamp": str(stamp)}}


def panel(*content):
    return {"type": "panel", "attrs": {"panelType": "info"}, "content": list(content)}


def mention(user):
    account, display, _ = CLOUD_USERS[user]
    return {"type": "mention", "attrs": {"id": account, "text": f"@{display}", "accessLevel": ""}}


def _big_adf_description():
    """~1 MB of ADF: the outcome first, then hundreds of audit findings."""
    content = [h("Anticipated Outcome"),
               p("WCAG 2.2 AA on every checkout screen by 2027-03-31; screen-reader task success from 55% to 90%."),
               h("Audit findings")]
    size, number = 0, 0
    while size < 900_000:
        text = (f"Finding {number}: control {number % 97} on screen {number % 31} has a contrast ratio of "
                f"{2 + number % 3}.{number % 10}:1 and no accessible name; "
                f"severity {('low', 'medium', 'high')[number % 3]}.")
        content.append(p(text))
        size += len(text) + 60
        number += 1
    return doc(*content)


def cloud_rows() -> list[dict]:
    return [
        # ---- PAY: a clean spine, both outcome styles ---------------------------------
        row("PAY-1", "Theme", "Theme: Grow card revenue in Europe (clean, outcome in field)", "In Progress", [],
            outcome=doc(p("Double EU card volume from EUR 40m to EUR 80m a quarter by Q4 2027."))),
        row("PAY-2", "Initiative", "Initiative: One-click checkout (clean, outcome in field)", "In Progress", [],
            parent="PAY-1", owner="maya",
            outcome=doc(p("Returning customers check out in one tap: completion from 64% to 75% by 2027-06-30."))),
        row("PAY-3", "Epic", "Epic: Saved cards (clean, outcome under an ADF heading)", "In Progress", [],
            parent="PAY-2",
            description=doc(h("Context"), p("Customers retype card numbers on every purchase."),
                            h("Anticipated Outcome"), p("45% of returning customers pay with a saved card within "
                                                        "60 days of launch."),
                            h("Scope"), ul("Vault", "Checkout UI"))),
        row("PAY-4", "Story", "Story: Save card at checkout (clean)", "In Progress", [], parent="PAY-3",
            description=doc(p("As a customer I want to save my card. Designs from ", mention("sara"), "."),
                            h("Acceptance criteria", 3), ul("Opt-in checkbox", "Card is tokenised"))),
        row("PAY-5", "Sub-task", "Sub-task: Tokenise the card number (clean)", "To Do", [], parent="PAY-4"),
        row("PAY-6", "Epic", "Epic: Apple Pay (clean, outcome as an 'Anticipated Outcome:' line)", "To Do", [],
            parent="PAY-2",
            description=doc(p("Mobile web customers ask for Apple Pay."),
                            labelled("Anticipated Outcome", "Apple Pay carries 15% of mobile checkouts by Q2 2027",
                                     {"type": "hardBreak"}, t("(measured on the payments dashboard)")),
                            h("Scope"), ul("Merchant validation", "Payment sheet"))),
        row("PAY-7", "Bug", "Bug: Apple Pay sheet closes on rotation (clean)", "To Do", [], parent="PAY-6"),
        # ---- anticipated-outcome-missing ------------------------------------------------
        row("PAY-8", "Epic", "Epic: Refund flow (outcome field is an empty ADF paragraph, no section)",
            "In Progress", [AOM], parent="PAY-2", outcome=doc({"type": "paragraph", "content": []}),
            description=doc(h("Context"), p("Refunds are issued by the finance team by hand."))),
        row("PAY-9", "Epic", "Epic: Chargeback dashboard (outcome field says TBD)", "To Do", [AOM],
            parent="PAY-2", outcome=doc(p("TBD"))),
        row("PAY-10", "Epic", "Epic: Payout scheduling (outcome copies this summary)", "To Do", [AOM],
            outcome=doc(p("Epic: Payout scheduling (outcome copies this summary)"))),
        row("PAY-11", "Epic", "Epic: Fraud rules (template heading left empty)", "To Do", [AOM],
            description=doc(h("Anticipated Outcome"), h("Scope"), ul("Velocity rules", "Country blocks"))),
        # ---- anticipated-outcome-unmeasurable ---------------------------------------------
        row("PAY-12", "Epic", "Epic: Better checkout (vague outcome in field, no measure)", "In Progress", [AOU],
            parent="PAY-2", outcome=doc(p("Make checkout feel smoother and friendlier for customers."))),
        row("PAY-13", "Initiative", "Initiative: Merchant onboarding (vague outcome in description section)",
            "To Do", [AOU], parent="PAY-1",
            description=doc(h("Anticipated Outcome"), p("Merchants enjoy signing up and feel welcome."),
                            h("Scope"), ul("Sign-up", "Verification"))),
        # ---- closing-the-loop ---------------------------------------------------------------
        row("PAY-14", "Epic", "Epic: Card vault migration (delivered 60 days ago, no Actual Outcome)", "Done",
            [CTL], parent="PAY-2", resolved="2026-09-17T10:15:00.000+0000",
            outcome=doc(p("Vault costs down 30% by Q4 2026."))),
        row("PAY-15", "Epic", "Epic: 3-D Secure 2 (delivered 120 days ago, Actual Outcome in field, clean)",
            "Done", [], resolved="2026-07-19T09:00:00.000+0000",
            outcome=doc(p("Authentication drop-off from 12% to 6% by Q3 2026.")),
            actual=doc(p("Drop-off fell to 7.5%; frictionless flow covers 80% of payments."))),
        row("PAY-16", "Epic", "Epic: Receipt emails (delivered 10 days ago, inside the grace period, clean)",
            "Done", [], resolved="2026-11-06T13:00:00.000+0000",
            outcome=doc(p("Receipt-related tickets down 50% by 2027-01-31."))),
        row("PAY-17", "Epic", "Epic: Currency display (delivered 31 days ago, no Actual Outcome)", "Done", [CTL],
            resolved="2026-10-16T10:15:00.000+0000", outcome=doc(p("Cross-border conversion up 5% by Q1 2027."))),
        row("PAY-18", "Epic", "Epic: Invoice PDFs (delivered 29 days ago, inside the grace period, clean)", "Done",
            [], resolved="2026-10-18T16:40:00.000+0000", outcome=doc(p("Invoice requests to support down 70%."))),
        row("PAY-19", "Initiative", "Initiative: Wallets (delivered 90 days ago, Actual Outcome under an ADF "
            "heading inside a panel, clean)", "Done", [], parent="PAY-1", resolved="2026-08-18T11:00:00.000+0000",
            outcome=doc(p("Wallets carry 20% of card volume by Q3 2026.")),
            description=doc(h("Context"), p("Apple Pay and Google Pay."),
                            panel(h("Actual Outcome"), p("Wallets reached 17% of volume in Q3 2026; Google Pay "
                                                         "lagged on Android tablets.")))),
        # ---- tech-debt agreements ---------------------------------------------------------
        row("PAY-20", "Epic", "Tech debt: Hard-coded FX rates (complete agreement, future timeline, clean)",
            "In Progress", [], labels=[LABEL], owner="tom",
            outcome=doc(p("FX rates refreshed every 15 minutes, cutting FX support tickets 40% by Q2 2027.")),
            description=doc(h("Technical debt agreement"), h("Reason", 3), p("Launch deadline for EU expansion."),
                            h("Impact", 3), p("Rates can be a day stale; finance reconciles by hand."),
                            h("Timeline", 3), p("Pay down by 2027-03-31."))),
        row("PAY-21", "Epic", "Tech debt: Skipped idempotency keys (agreement lacks Impact and Timeline)",
            "In Progress", [TDI], labels=[LABEL], owner="tom",
            outcome=doc(p("Zero duplicate charges a month by 2027-01-31 (now 30).")),
            description=doc(labelled("Reason", "Black Friday deadline."))),
        row("PAY-22", "Epic", "Tech debt: Legacy PSP adapter (timeline 2026-02-01 has passed, still open)",
            "In Progress", [TDO], labels=[LABEL], owner="tom",
            outcome=doc(p("One PSP adapter, halving payment incidents to 2 a quarter by Q2 2027.")),
            description=doc(labelled("Reason", "Vendor contract ended early."),
                            labelled("Impact", "Two adapters to patch for every scheme change."),
                            labelled("Timeline", "pay down by 2026-02-01"))),
        row("PAY-23", "Story", "Story: tech-debt-agreement label on a story", "To Do", [TDB], parent="PAY-3",
            labels=[LABEL]),
        # ---- work hierarchy ---------------------------------------------------------------
        row("PAY-24", "Release", "Release 2026.11 used as a work item (under an epic)", "To Do", [NWI],
            parent="PAY-6"),
        row("PAY-25", "Epic", "Epic under a story (inverted)", "To Do", [INV], parent="PAY-4",
            outcome=doc(p("Card updater keeps 95% of saved cards valid by 2027-06-30."))),
        row("PAY-26", "Story", "Story directly under an initiative (skips the epic)", "To Do", [SKP],
            parent="PAY-2"),
        row("PAY-27", "Story", "Story with no parent (orphan)", "To Do", [SWE]),
        row("PAY-28", "Deliverable", "Deliverable: custom type with hierarchyLevel 0", "To Do", [UNM],
            parent="PAY-3"),
        row("PAY-29", "Epic", "Delivered epic with neither anticipated nor actual outcome (resolved 75 days ago)",
            "Done", [AOM, CTL], resolved="2026-09-02T12:00:00.000+0000"),
        row("PAY-30", "Theme", "Theme: Cheaper payments (outcome field is '-')", "To Do", [AOM],
            outcome=doc(p("-"))),
        row("PAY-31", "Epic", "Epic directly under a theme (skips the initiative)", "To Do", [SKP],
            parent="PAY-1", outcome=doc(p("Interchange costs down 8% by Q3 2027."))),
        row("PAY-32", "Story", "Malformed issue: fields is null (skipped, never a crash)", "To Do", [],
            malformed=True),
        # ---- MOB -------------------------------------------------------------------------
        row("MOB-1", "Initiative", "Initiative: Mobile self-service (clean, outcome under an 'Expected Outcome' "
            "heading in a panel)", "In Progress", [],
            description=doc(panel(h("Expected Outcome"), p("60% of card issues solved in the app without a call "
                                                           "by Q3 2027.")))),
        row("MOB-2", "Epic", "Epic: In-app card freeze (clean, field empty but outcome under a heading)",
            "In Progress", [], parent="MOB-1", outcome={"type": "doc", "version": 1, "content": []},
            description=doc(h("Anticipated Outcome"), p("Lost-card calls down 35% within 90 days of launch."))),
        row("MOB-3", "Feature", "Feature: Freeze toggle (clean)", "In Progress", [], parent="MOB-2"),
        row("MOB-4", "Story", "Story: Freeze toggle UI (clean, under a feature)", "In Progress", [],
            parent="MOB-3"),
        row("MOB-5", "Story", "Story under a story (inverted)", "To Do", [INV], parent="MOB-4"),
        row("MOB-6", "Initiative", "Initiative under an epic (inverted)", "To Do", [INV], parent="MOB-2",
            outcome=doc(p("Card controls used by 30% of active customers by 2027-09-30."))),
        row("MOB-7", "Epic", "Epic: Dark mode (outcome field says n/a)", "To Do", [AOM], outcome=doc(p("n/a"))),
        row("MOB-8", "Epic", "Epic: Offline mode (vague outcome as an 'Anticipated Outcome:' line)", "To Do",
            [AOU], description=doc(labelled("Anticipated Outcome", "The app feels dependable on the underground."),
                                   h("Scope"), ul("Cached balance"))),
        row("MOB-9", "Epic", "Tech debt: Old push SDK (Trigger instead of Timeline, clean)", "To Do", [],
            labels=[LABEL], owner="li",
            outcome=doc(p("Push delivery rate back above 97% by Q2 2027.")),
            description=doc(labelled("Reason", "The new SDK needed an OS version we still supported."),
                            labelled("Impact", "Pushes fail silently on some devices."),
                            labelled("Trigger", "When we drop support for the old OS versions."))),
        row("MOB-10", "Epic", "Tech debt: Webview login (no Reason; timeline, an ADF date, 2026-06-30 has passed)",
            "In Progress", [TDI, TDO], labels=[LABEL], owner="li",
            outcome=doc(p("Native login for 100% of sessions, cutting login failures 50% by Q1 2027.")),
            description=doc(labelled("Impact", "Login breaks whenever the web team changes the page."),
                            labelled("Timeline", "pay down by ", adf_date("2026-06-30")))),
        row("MOB-11", "Epic", "Tech debt: Analytics shim (past timeline but the epic is done, Actual Outcome "
            "recorded, clean)", "Done", [], labels=[LABEL], resolved="2026-10-02T09:00:00.000+0000",
            outcome=doc(p("One analytics SDK, app size down 4 MB by 2026-09-30.")),
            description=doc(labelled("Actual Outcome", "Shim removed; app size down 3.6 MB."),
                            h("Reason", 3), p("Vendor migration deadline."), h("Impact", 3),
                            p("Events double-counted on Android."), h("Timeline", 3), p("Pay down by 2026-05-01."))),
        row("MOB-12", "Sub-task", "Sub-task carrying the tech-debt-agreement label", "To Do", [TDB],
            parent="MOB-4", labels=[LABEL]),
        row("MOB-13", "Release", "Release: app 5.2 used as a work item (no parent)", "To Do", [NWI]),
        row("MOB-14", "Work Package", "Work Package: custom type with hierarchyLevel 0", "To Do", [UNM],
            parent="MOB-2"),
        row("MOB-15", "Story", "Story with no parent at all (orphan)", "To Do", [SWE]),
        row("MOB-16", "Epic", "Epic delivered 200 days ago, Actual Outcome says TBD", "Done", [CTL],
            resolved="2026-04-30T10:00:00.000+0000", outcome=doc(p("App rating from 4.1 to 4.5 by Q3 2026.")),
            actual=doc(p("TBD"))),
        row("MOB-17", "Epic", "Epic: Accessibility audit (1 MB ADF description, outcome heading first, clean)",
            "In Progress", [], description=_big_adf_description()),
        row("MOB-18", "Story", "Story under an epic of another project that is not in this snapshot (clean)",
            "To Do", [], parent="OTHER-7",
            parent_object={"id": "30007", "key": "OTHER-7", "self": f"{CLOUD_SITE}/rest/api/3/issue/30007",
                           "fields": {"summary": "Shared design system", "status": None,
                                      "priority": None, "issuetype": None}}),
        row("MOB-19", "Task", "Task without an epic (clean: tasks may stand alone)", "To Do", []),
        row("MOB-20", "Epic", "Tech debt: Crash reporter fork (Impact: TBD counts as missing)", "In Progress",
            [TDI], labels=[LABEL], owner="li",
            outcome=doc(p("Crash-free sessions from 98.9% to 99.6% by Q2 2027.")),
            description=doc(labelled("Reason", "Upstream fix was months away."), labelled("Impact", "TBD"),
                            labelled("Timeline", "Pay down by 2027-04-30."))),
        row("MOB-21", "Initiative", "Initiative: App store relaunch (delivered 100 days ago, no Actual Outcome)",
            "Done", [CTL], resolved="2026-08-08T15:45:00.000+0000",
            outcome=doc(p("Store conversion from 28% to 35% by Q3 2026."))),
    ]


def cloud_issue(item: dict, index: int, by_key: dict) -> dict:
    key = item["key"]
    project = key.split("-")[0]
    issue_id = str(30100 + index)
    url = f"{CLOUD_SITE}/rest/api/3/issue/{issue_id}"
    if item.get("malformed"):
        return {"expand": "renderedFields", "id": issue_id, "self": url, "key": key, "fields": None}

    def user(name):
        if name is None:
            return None
        account, display, email = CLOUD_USERS[name]
        value = {"self": f"{CLOUD_SITE}/rest/api/3/user?accountId={account}", "accountId": account}
        if email:
            value["emailAddress"] = email
        value.update({"displayName": display, "active": True, "timeZone": "Europe/London",
                      "accountType": "atlassian"})
        return value

    def type_of(name):
        type_id, level = CLOUD_TYPES[name]
        return {"self": f"{CLOUD_SITE}/rest/api/3/issuetype/{type_id}", "id": type_id, "description": "",
                "iconUrl": f"{CLOUD_SITE}/rest/api/2/universal_avatar/view/type/issuetype/avatar/10300",
                "name": name, "subtask": level == -1, "avatarId": 10300, "hierarchyLevel": level}

    def status_of(name):
        sid, cat = CLOUD_STATUS[name]
        n, cname, col = CATEGORY[cat]
        return {"self": f"{CLOUD_SITE}/rest/api/3/status/{sid}", "description": "", "iconUrl": "", "name": name,
                "id": sid, "statusCategory": {"self": f"{CLOUD_SITE}/rest/api/3/statuscategory/{n}", "id": n,
                                              "key": cat, "colorName": col, "name": cname}}

    priority = {"self": f"{CLOUD_SITE}/rest/api/3/priority/3", "iconUrl": "", "name": "Medium", "id": "3"}
    resolved = item.get("resolved")
    category = CLOUD_STATUS[item["status"]][1]
    fields = {
        "summary": item["summary"],
        "issuetype": type_of(item["type"]),
        "project": {"self": f"{CLOUD_SITE}/rest/api/3/project/{CLOUD_PROJECTS[project][0]}",
                    "id": CLOUD_PROJECTS[project][0], "key": project, "name": CLOUD_PROJECTS[project][1],
                    "projectTypeKey": "software", "simplified": False},
        "status": status_of(item["status"]),
        "statuscategorychangedate": resolved or "2026-11-02T10:00:00.000+0000",
        "priority": priority,
        "labels": item.get("labels", []),
        "components": [],
        "assignee": user(item.get("assignee", "sara")),
        "reporter": user(item.get("reporter", "maya")),
        "created": item.get("created", "2026-03-09T09:30:00.000+0000"),
        "updated": item.get("updated", resolved or "2026-11-12T17:05:00.000+0000"),
        "resolutiondate": resolved,
        "resolution": ({"self": f"{CLOUD_SITE}/rest/api/3/resolution/10000", "id": "10000", "description": "",
                        "name": "Done"} if category == "done" else None),
        "description": item.get("description"),
        "customfield_10230": item.get("outcome"),
        "customfield_10231": item.get("actual"),
        "customfield_10232": user(item.get("owner")),
        "customfield_10001": {"id": f"team-{project.lower()}", "name": CLOUD_PROJECTS[project][1],
                              "title": CLOUD_PROJECTS[project][1], "isVisible": True, "isVerified": False,
                              "isShared": True},
        "customfield_10016": 3.0 if item["type"] == "Story" else None,
    }
    if item.get("parent_object"):
        stub = item["parent_object"]
        stub["fields"].update(status=status_of("In Progress"), priority=priority, issuetype=type_of("Epic"))
        fields["parent"] = stub
    elif item.get("parent"):
        parent = by_key[item["parent"]]
        parent_id = str(30100 + parent["index"])
        fields["parent"] = {"id": parent_id, "key": parent["key"], "self": f"{CLOUD_SITE}/rest/api/3/issue/{parent_id}",
                            "fields": {"summary": parent["summary"], "status": status_of(parent["status"]),
                                       "priority": priority, "issuetype": type_of(parent["type"])}}
    return {"expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
            "id": issue_id, "self": url, "key": key, "fields": fields}


def build_cloud() -> tuple[list[dict], dict]:
    rows = cloud_rows()
    by_key = {item["key"]: {**item, "index": index} for index, item in enumerate(rows)}
    issues = [cloud_issue(item, index, by_key) for index, item in enumerate(rows)]
    names = {**CLOUD_SYSTEM, **CLOUD_FIELDS}
    split = 30
    pages = [
        {"issues": issues[:split], "names": names, "nextPageToken": "CAEaAggDIh4KHGZpeHR1cmU6Y2xvdWRfc21hbGw6MzA",
         "isLast": False},
        {"issues": issues[split:], "names": names, "isLast": True},
    ]
    notes = {
        "field ids": "custom field ids differ from the demo's (customfield_10230..10232); resolve by the names map",
        "PAY-17": "resolved 31 days before 2026-11-16: past the 30-day grace",
        "PAY-18": "resolved 29 days before 2026-11-16: inside the grace period",
        "PAY-31": "an epic right under a theme skips the required initiative level (theme and feature are optional)",
        "MOB-2": "the Anticipated Outcome field is an empty ADF doc; the description heading supplies the outcome",
        "MOB-3/MOB-4": "Feature is a standard type in Jira Cloud (hierarchyLevel 0) but the hierarchy map puts it "
                       "above stories: levels come from the map by type name, not from hierarchyLevel",
        "MOB-10": "the Timeline date is an ADF date node (timestamp 2026-06-30)",
        "MOB-11": "the Actual Outcome is an 'Actual Outcome:' line at the top of the description",
        "MOB-17": "description is about 1 MB of ADF",
        "MOB-18": "its parent OTHER-7 is known only from the embedded parent object (an Epic)",
        "MOB-19": "tasks and bugs may stand alone: work-hierarchy-story-without-epic covers Story and Feature only",
        "MOB-20": "a placeholder (Impact: TBD) counts as a missing agreement section",
        "PAY-26": "a story right under an initiative is reported by skipped-level only, not also as an orphan",
    }
    return pages, expected_file("cloud_small.json", "cloud", rows, notes)


def main() -> None:
    for name, build in (("datacenter_small", build_datacenter), ("cloud_small", build_cloud)):
        pages, expected = build()
        write(f"{name}.json", pages)
        write(f"{name}.expected.json", expected)
        print(f"tests/data/{name}.json: {expected['issues_scanned']} issues + {len(expected['skipped'])} malformed, "
              f"{expected['findings']} expected findings, FFR {expected['feature_factory_ratio']['overall']}%")


if __name__ == "__main__":
    main()
