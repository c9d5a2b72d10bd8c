"""A nudge run for a terminal: the messages it would send (or sent), and `govbot preview`'s counts."""

from __future__ import annotations

from collections import defaultdict

from bot.deliver.run import DeliveryReport
from bot.deliver.slack import render_text
from bot.escape import terminal_safe
from bot.prose import plural


def render_nudge_report(report: DeliveryReport, *, store_display: str = "", demo: bool = False) -> str:
    """What a nudge run would send (or sent), for a terminal.

    Jira text reaches it in names, summaries and messages: every line is passed
    through ``terminal_safe``, so no escape sequence or bidi control gets out.
    """
    safe = terminal_safe  # one-line values; the whole text is checked again at the end
    out: list[str] = []
    for note in report.notes:
        out.append(f"note: {note}")
    slack_messages = [m for m in report.messages if m.is_slack]
    comments = [m for m in report.messages if m.kind == "jira_comment"]
    verb = "Would send" if report.dry_run else "Queued"
    if report.incomplete:
        out.append(f"note: scan incomplete: {report.incomplete}.")
    if report.held:
        alert = ("; one alert would go to the admin channel." if report.dry_run else
                 " except one alert to the admin channel.")
        out.append(f"HELD by the circuit breaker: {report.submitted.trip.reason} "
                   f"(usual: {report.submitted.trip.baseline}). "
                   + ("Nothing would be sent" if report.dry_run else "Nothing was sent")
                   + (alert if report.submitted.alert else "; set slack.admin_channel to be alerted."))
        out.append("Check with `govbot preview`; if this is expected, run `govbot nudge --apply --override-breaker`.")
    else:
        out.append(f"{verb} {plural(len(slack_messages), 'Slack message')} and "
                   f"{plural(len(comments), 'Jira comment')}"
                   + ((" (dry run: the bundled demo never sends)." if demo else " (dry run: add --apply to send).")
                      if report.dry_run else "."))
    duplicates = {m.dedupe_key for m in report.submitted.duplicate}
    for message in report.messages:
        tag = " [already queued earlier]" if message.dedupe_key in duplicates else ""
        out.append("")
        out.append(f"== {safe(message.label)} · {plural(len(message.fingerprints), 'finding')}{tag} ==")
        if message.kind == "jira_comment":
            out.append(message.payload["wiki"])
        else:
            out.append(render_text(message.payload))
    if report.submitted.alert is not None:
        out.append("")
        out.append(f"== {safe(report.submitted.alert.label)} (circuit breaker alert) ==")
        out.append(render_text(report.submitted.alert.payload))
    leftovers = report.leftovers.would_send if report.dry_run else []
    if leftovers:
        out.append("")
        out.append(f"{plural(len(leftovers), 'message')} queued by an earlier run would also be sent.")
    merged = sum(len(ids) for _, ids in report.submitted.merged)
    if merged:
        out.append(f"{plural(merged, 'message')} queued by an earlier run "
                   f"{'would be' if report.dry_run else 'were'} folded into this run's (one message per person).")
    settled = report.settled
    if settled.sent:
        out.append(f"{plural(len(settled.sent), 'message')} an interrupted run left in doubt "
                   f"{'was' if len(settled.sent) == 1 else 'were'} found in Slack's history: not sent again.")
    proved = [entry for entry in settled.resent if entry not in settled.repeats]
    if proved:
        out.append(f"{plural(len(proved), 'message')} an interrupted run left in doubt "
                   f"{'is' if len(proved) == 1 else 'are'} not in Slack's history: "
                   f"{'would be sent' if report.dry_run else 'sent'} now.")
    if settled.repeats:
        out.append(f"{plural(len(settled.repeats), 'message')} an interrupted run left in doubt could not be "
                   f"checked ({safe('; '.join(settled.history_problem) or 'no Slack history')}): "
                   f"{'would be resent' if report.dry_run else 'resent'} once, marked \"in case you missed this\".")
    waiting = report.leftovers.deferred + report.flushed.deferred
    if waiting:
        out.append(f"{plural(len(waiting), 'queued message')} wait for the end of quiet time: "
                   + "; ".join(sorted({safe(why) for _, why in waiting})) + ".")
    if not report.dry_run:
        sent = report.flushed.sent
        out.append("")
        queued = (len(report.leftovers.pending) + len(report.flushed.pending) + len(report.leftovers.blocked)
                  + len(report.flushed.blocked))
        # In doubt: Slack or Jira may have it; the next run checks before sending it again. Counted apart,
        # so this line adds up to the "N messages wait for the next run" said on standard error.
        in_doubt = sum(len(part.in_doubt) for part in report.reports)
        out.append(f"Sent {len(sent)}; failed {len(report.leftovers.failed) + len(report.flushed.failed)}; "
                   f"still queued {queued}; "
                   + (f"in doubt {in_doubt} (checked before any resend); " if in_doubt else "")
                   + f"cancelled {len(report.leftovers.cancelled) + len(report.flushed.cancelled)}.")
        for entry, error in report.leftovers.failed + report.flushed.failed:
            out.append(f"  failed: {entry.kind} to {safe(entry.recipient)}: {safe(error)}")
        for entry, error in report.leftovers.blocked + report.flushed.blocked:
            out.append(f"  kept queued, Slack refused the channel: {entry.kind} to {safe(entry.recipient)}: "
                       f"{safe(error)}")
        for problem in report.settled.unreachable + report.flushed.unreachable:
            out.append(f"  not sent now (will retry next run): {safe(problem)}")
        unconfirmed = report.settled.unconfirmed + report.flushed.unconfirmed
        if unconfirmed:
            out.append(f"  {plural(len(unconfirmed), 'message')} from an interrupted run could not be "
                       "confirmed and were not resent.")
    if report.plan.deferred:
        reasons: dict[str, int] = defaultdict(int)
        for _, why in report.plan.deferred:
            reasons[why] += 1
        out.append("")
        out.append("Waiting for a better time: " + "; ".join(f"{plural(n, 'finding')} ({why})"
                                                              for why, n in sorted(reasons.items()))
                   + ". Use --now to see another day.")
    if report.plan.skipped:
        out.append("Not nudged: " + "; ".join(f"{plural(count, 'finding')} ({why})"
                                              for why, count in sorted(report.plan.skipped.items())))
    if report.plan.undeliverable:
        out.append(f"Nowhere to send {plural(len(report.plan.undeliverable), 'finding')}: "
                   + "; ".join(sorted({why for _, why in report.plan.undeliverable}))
                   + " (set teams.<name>.channel or slack.default_channel)")
    if report.plan.unmapped:
        out.append("")
        out.append("For admins - owners govbot cannot reach on Slack (their items went to the team channel):")
        for user_id, info in sorted(report.plan.unmapped.items()):
            out.append(f"  {safe(info['name'])} [{safe(user_id)}]: {safe(info['why'])} "
                       f"({plural(info['findings'], 'finding')})")
        out.append("  Add them to slack.user_map_file (Jira account id or username -> Slack user id).")
    if store_display:
        out.append("")
        out.append(f"State: {safe(store_display)}")
    return terminal_safe("\n".join(out), keep_newlines=True)


def preview_table(report: DeliveryReport) -> dict:
    rows: list[dict] = []
    for message in report.messages:
        for rule, count in sorted(message.by_rule.items()):
            rows.append({"to": message.label, "kind": message.kind, "rule": rule, "findings": count})
    # Messages an earlier run queued go too, as they are (unless merged into this run's above).
    earlier = [entry for entry in report.leftovers.would_send if entry.kind in ("slack_dm", "slack_channel")]
    for entry in earlier:
        rows.append({"to": f"{entry.recipient} (queued earlier)", "kind": entry.kind, "rule": "(queued earlier)",
                     "findings": len(entry.fingerprints)})
    people = len({m.person for m in report.plan.messages if m.kind == "slack_dm"}
                 | {e.person for e in earlier if e.kind == "slack_dm"})
    channels = len({m.recipient for m in report.plan.messages if m.kind == "slack_channel"}
                   | {e.recipient for e in earlier if e.kind == "slack_channel"})
    by_recipient: dict[str, int] = defaultdict(int)
    for recipient in [m.recipient for m in report.plan.messages] + [e.recipient for e in earlier]:
        by_recipient[recipient] += 1
    return {
        "rows": rows,
        "by_recipient": dict(sorted(by_recipient.items())),  # Slack user id or channel -> messages
        "messages": len([m for m in report.messages if m.is_slack]) + len(earlier),
        "people": people,
        "channels": channels,
        "jira_comments": len([m for m in report.messages if m.kind == "jira_comment"]),
        "findings": len({fp for m in report.messages for fp in m.fingerprints}),
        "by_rule": report.plan.by_rule(),
        "breaker": report.submitted.trip.reason if report.submitted.trip else None,
        "deferred": len(report.plan.deferred),
        "skipped": dict(report.plan.skipped),
    }


def render_preview(table: dict, report: DeliveryReport) -> str:
    out = ["Messages govbot would send today (nothing is sent or recorded):", ""]
    if not table["rows"]:
        out.append("  none")
    else:
        width_to = max(len("TO"), *(len(row["to"]) for row in table["rows"]))
        width_rule = max(len("RULE"), *(len(row["rule"]) for row in table["rows"]))
        out.append(f"  {'TO':<{width_to}}  {'RULE':<{width_rule}}  FINDINGS")
        previous = None
        for row in table["rows"]:
            to = terminal_safe(row["to"]) if row["to"] != previous else ""  # one line, whatever Jira says
            previous = row["to"]
            out.append(f"  {to:<{width_to}}  {row['rule']:<{width_rule}}  {row['findings']:>8}")
    out.append("")
    out.append(f"Total: {plural(table['messages'], 'Slack message')} ({plural(table['people'], 'person', 'people')}, "
               f"{plural(table['channels'], 'channel')}), {plural(table['jira_comments'], 'Jira comment')}, "
               f"{plural(table['findings'], 'finding')}.")
    if table["breaker"]:
        out.append(f"The circuit breaker would HOLD this run: {table['breaker']}.")
    if table["deferred"]:
        out.append(f"{plural(table['deferred'], 'finding')} wait for the end of quiet time "
                   "(use --now to see another day).")
    if table["skipped"]:
        out.append("Not nudged: " + ", ".join(f"{why} {n}" for why, n in sorted(table["skipped"].items())))
    return terminal_safe("\n".join(out), keep_newlines=True)
