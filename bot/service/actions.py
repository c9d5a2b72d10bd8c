"""The buttons on a nudge, answered: fix it from Slack, snooze it, say it is not yours.

Bolt calls these in Socket Mode (``register``); the logic (``SlackActions``)
takes Slack's payloads as plain dicts and a Web API client, so it is tested
over the real protocol and a loopback Slack.

The path of a fix: the button is clicked -> the finding is still open in the
store (else "already fixed") -> the person may edit the issue in Jira
(``bot.service.access``) -> a modal asks for the text -> on submit, once per
view (claimed in the store, so once across replicas): the value is written
where the site keeps it (a custom field, else the description section,
``bot.deliver.jira_edit``) -> govbot comments who wrote
it -> the issue is checked again and its lifecycle recorded (the finding
resolves) -> the original message is updated in place -> an audit line.
Whatever goes wrong is said to the person in one ephemeral line, and the
message is left as it was.
"""

from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from bot import text as text_rules
from bot.deliver import buttons
from bot.deliver.audit import AuditLog
from bot.deliver import moments
from bot.deliver.jira_edit import EditRefused, IssueGone, JiraEditor
from bot.deliver.questions import family_of
from bot.deliver.routing import Router
from bot.deliver.slack import Item, not_mine_message, one_line
from bot.errors import GovbotError
from bot.escape import slack_escape
from bot.service.access import Access, refusal_text

log = logging.getLogger("govbot.actions")

ALREADY_FIXED = "{key} is already fixed (or no longer needs this): nothing to do. Thank you!"
GONE = "{key} is no longer in Jira (deleted, or govbot cannot see it): nothing to do."
DRY_RUN = "govbot is running as a dry run (service.apply: false): nothing was written to Jira."
NOT_LIVE = "This govbot reads a snapshot or the bundled demo, not live Jira, so it cannot change issues from Slack."


class SlackActions:
    """Handlers for govbot's buttons and modals; Bolt-free."""

    def __init__(self, inputs, *, access: Access, editor: Callable[[], JiraEditor],
                 open_store: Callable[..., Any], audit: AuditLog, apply: bool = True, max_days: int = 90,
                 clock: Callable[[], datetime] | None = None, metrics=None):
        self.inputs = inputs
        self.config = inputs.config
        self.access = access
        self.editor = editor
        self.open_store = open_store
        self.audit = audit
        self.apply = apply
        self.max_days = max_days
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.metrics = metrics  # bot.service.health.Metrics: counts by action and outcome, never by person
        self.live = not getattr(inputs, "demo", False)  # a snapshot-backed service sets this False too
        self._lock = threading.Lock()
        self._views_seen: set[str] = set()
        self._busy: set[str] = set()                          # findings being written right now
        self._messages: dict[tuple[str, str], list[dict]] = {}  # (channel, ts) -> blocks seen at the click
        self._placeholders = text_rules.normalised_placeholders(self.config.section("placeholders"))
        # Work after the ack: Slack wants the ack within 3 seconds, Jira may take longer.
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="govbot-action")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- Bolt -------------------------------------------------------------------------------------------
    def register(self, app) -> None:
        kinds = {buttons.FIX: self.fix_clicked, buttons.SNOOZE: self.snooze_clicked,
                 buttons.NOT_MINE: self.not_mine_clicked}
        for kind, handler in kinds.items():
            app.action(re.compile("^" + re.escape(kind) + r":[0-9a-f]{20}$"))(self._listener(handler))

        app.action(re.compile("^" + re.escape(moments.REVIEW) + r":[0-9a-f]{20}$"))(
            self._listener(self.review_clicked))

        @app.action(re.compile("^" + re.escape(buttons.OPEN) + r":[0-9a-f]{20}$"))
        def link_clicked(ack):
            ack()  # a link button opens Jira in the browser; Slack still wants an answer

        for callback_id, check, handler in ((buttons.FIX_VIEW, self.fix_errors, self.fix_submitted),
                                            (buttons.SNOOZE_VIEW, self.snooze_errors, self.snooze_submitted),
                                            (moments.REVIEW_VIEW, self.review_errors, self.review_submitted)):
            app.view(callback_id)(self._submission(check, handler))

    def _submission(self, check, handler):
        """A view_submission listener: input problems keep the modal open; else ack, then work, once per view."""
        def listener(ack, body, client):
            view = body.get("view") or {}
            errors = check(view)
            if errors:
                ack(response_action="errors", errors=errors)
                return
            ack()  # closes the modal now; Jira may take longer than Slack's 3 seconds
            if self._first_submission(view):
                self._pool.submit(self._safely, self._once(handler), body, client)
        return listener

    def _once(self, handler):
        """``handler``, run only if this view is claimed in the store first (see ``_claimed``)."""
        def once(body: dict, client) -> None:
            if self._claimed(body.get("view") or {}):
                handler(body, client)
        return once

    def _listener(self, handler):
        # Bolt passes arguments by name, so the handler is bound here rather than as a default argument.
        def listener(ack, body, client):
            ack()
            self._safely(handler, body, client)
        return listener

    def _safely(self, handler, body: dict, client) -> None:
        try:
            handler(body, client)
        except Exception:  # noqa: BLE001 - one action failing must not stop the app; the log has it
            log.exception("action failed")
            user, channel = _user(body), _channel(body)
            if channel is None:  # a submission: the message it came from is in the view's metadata
                meta = buttons.parse_metadata((body.get("view") or {}).get("private_metadata"))
                channel = meta["channel"] if meta else None
            if user and channel:
                self._ephemeral(client, channel, user, "Sorry, govbot could not do that; the details are in its log.")

    # -- clicks --------------------------------------------------------------------------------------------
    def fix_clicked(self, body: dict, client) -> None:
        target, user, channel, ts = self._clicked(body)
        if target is None:
            return
        fix = self._fix(target)
        if fix is None:
            return
        if self._usable(client, target, user, channel, "fix.clicked") is None:
            return
        try:
            where = self.editor().where(target.issue, fix.fields)
        except GovbotError as error:
            self._ephemeral(client, channel, user, f"govbot cannot reach Jira right now ({one_line(error.message, 200)}).")
            return
        view = buttons.fix_modal(fix, target, channel=channel, ts=ts, where=where)
        client.views_open(trigger_id=body.get("trigger_id"), view=view)
        self._audit("action.opened", target, user, what=fix.kind)

    def snooze_clicked(self, body: dict, client) -> None:
        target, user, channel, ts = self._clicked(body)
        if target is None or self._usable(client, target, user, channel, "snooze.clicked") is None:
            return
        client.views_open(trigger_id=body.get("trigger_id"),
                          view=buttons.snooze_modal(target, channel=channel, ts=ts, max_days=self.max_days))

    def not_mine_clicked(self, body: dict, client) -> None:
        target, user, channel, ts = self._clicked(body)
        state = self._usable(client, target, user, channel, "not_mine.clicked") if target is not None else None
        if state is None:
            return
        who = self.access.decide(user, target.issue).who
        router = Router(self.config, user_map={})
        team_channel = router.team_channel(state.team)
        if not team_channel:
            self._ephemeral(client, channel, user, f"{target.issue}'s team has no Slack channel configured, so I "
                                                   "cannot pass it on; please tell its owner in Jira.")
            return
        if not self.apply:
            self._ephemeral(client, channel, user, DRY_RUN)
            return
        item = Item(rule=state.rule, issue=state.issue, summary=state.summary, title=state.title or state.rule,
                    message=state.message, url=state.url, family=family_of(state.rule, self._rule(state.rule)),
                    fingerprint=state.fingerprint)
        payload = not_mine_message(state.team or "", item, who=who,
                                   label_prefix=self.config.settings.waivers.label_prefix)
        client.chat_postMessage(channel=team_channel, text=payload["text"], blocks=payload["blocks"],
                                unfurl_links=False, unfurl_media=False)
        # Recorded as handed to the team, as an escalation is: the owner is not reminded about it again,
        # and the digest shows it with the team's other escalated items.
        store = self.open_store(dry_run=False)
        try:
            store.mark_escalated([target.finding], self.clock())
        finally:
            store.close()
        self._audit("action.not_mine", target, user, who=who, channel=team_channel)
        self._update_item(client, channel, ts, target,
                          f":leftwards_arrow_with_hook: *{slack_escape(target.issue)}* went to the team channel. "
                          "Thanks for saying it isn't yours.")

    def review_clicked(self, body: dict, client) -> None:
        """"Set the review date" on the message an epic's owner got when it moved to Done."""
        actions = body.get("actions") or []
        key = str((actions[0] if actions else {}).get("value") or "")
        user, channel = _user(body), _channel(body)
        ts = str((body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts") or "")
        if not buttons._KEY.match(key) or not user:
            return
        if not self.live:
            self._ephemeral(client, channel, user, NOT_LIVE)
            return
        message = body.get("message") or {}
        if channel and ts and isinstance(message.get("blocks"), list):
            with self._lock:
                self._messages[(channel, ts)] = message["blocks"]
        refusal = self.access.refusal(user, key)
        target = buttons.Target(key, "review", moments.key_id(key))
        if refusal is not None:
            self._audit("action.refused", target, user, step="review.clicked")
            self._ephemeral(client, channel, user, refusal)
            return
        client.views_open(trigger_id=body.get("trigger_id"), view=moments.review_modal(key, channel=channel, ts=ts))

    def review_errors(self, view: dict) -> dict[str, str]:
        errors = {}
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(buttons.submitted(view, buttons.REVIEW_DATE_BLOCK) or "")):
            errors[buttons.REVIEW_DATE_BLOCK] = "Pick a date."
        actual = str(buttons.submitted(view, buttons.field_block_id(0)) or "")
        if len(actual) > buttons.MAX_VALUE_CHARS:
            errors[buttons.field_block_id(0)] = f"Please keep it under {buttons.MAX_VALUE_CHARS} characters."
        elif actual.strip() and text_rules.placeholder_reason(actual, self._placeholders) is not None:
            errors[buttons.field_block_id(0)] = "That reads as a placeholder; leave it empty until it is known."
        return errors

    def review_submitted(self, body: dict, client) -> None:
        view = body.get("view") or {}
        meta = buttons.parse_metadata(view.get("private_metadata"))
        user = _user(body)
        if meta is None or meta["kind"] != "review" or not user:
            return
        target, channel, ts = meta["target"], meta["channel"], meta["ts"]
        refusal = self.access.refusal(user, target.issue)
        if refusal is not None:
            self._audit("action.refused", target, user, step="review.submitted")
            self._ephemeral(client, channel, user, refusal)
            return
        date = str(buttons.submitted(view, buttons.REVIEW_DATE_BLOCK))
        values = [(buttons.REVIEW_DATE, date)]
        actual = str(buttons.submitted(view, buttons.field_block_id(0)) or "").strip()
        if actual:
            values.append((moments.ACTUAL, actual))
        if self._write(client, target, user, channel, values, "review") is None:
            return
        self._recheck(target)  # an actual outcome written now resolves its finding
        self._update_item(client, channel, ts, target, f":white_check_mark: *{slack_escape(target.issue)}*: review "
                                                       f"on {date}, thank you!")

    def _write(self, client, target, user: str, channel: str | None, values: list[tuple[str, str]],
               what: str):
        """Write ``values`` to the issue, comment who did it; the Write, or None after saying why not."""
        decision = self.access.decide(user, target.issue)
        if not self.apply:
            self._ephemeral(client, channel, user, DRY_RUN)
            self._audit("action.dry_run", target, user, who=decision.who, what=what)
            return None
        editor = self.editor()
        try:
            write = editor.plan(target.issue, values)
            editor.edit(target.issue, write.update())
        except IssueGone:
            self._ephemeral(client, channel, user, GONE.format(key=target.issue))
            return None
        except EditRefused as error:
            self.access.forget(user, target.issue)
            self._audit("action.refused_by_jira", target, user, who=decision.who, why=error.message)
            self._ephemeral(client, channel, user, one_line(error.message, 400))
            return None
        except GovbotError as error:
            self._ephemeral(client, channel, user, f"Jira could not take it right now "
                                                   f"({one_line(error.message, 200)}); nothing was changed.")
            return None
        self._audit("action.written", target, user, who=decision.who, what=what, where=write.where)
        try:
            editor.comment(target.issue, decision.who, write.where)
        except GovbotError as error:  # the value is in Jira; only the note about who wrote it is missing
            log.warning("action: could not comment on %s (%s)", target.issue, error.message)
        return write

    # -- submissions ---------------------------------------------------------------------------------------
    def fix_errors(self, view: dict) -> dict[str, str]:
        """Input problems, by block, shown in the modal (Slack keeps it open)."""
        meta = buttons.parse_metadata(view.get("private_metadata"))
        fix = buttons.FIXES.get(meta["fix"]) if meta else None
        if fix is None:
            return {buttons.field_block_id(0): "This form is out of date; please click the button again."}
        errors = {}
        given = 0
        for index, _name in enumerate(fix.fields):
            value = str(buttons.submitted(view, buttons.field_block_id(index)) or "")
            if len(fix.fields) > 1 and not value.strip():
                continue  # optional when there are several: only what is given is written
            given += 1
            if len(value) > buttons.MAX_VALUE_CHARS:
                errors[buttons.field_block_id(index)] = f"Please keep it under {buttons.MAX_VALUE_CHARS} characters."
            elif text_rules.placeholder_reason(value, self._placeholders) is not None:
                errors[buttons.field_block_id(index)] = "That reads as a placeholder; a sentence or two helps."
        date = buttons.submitted(view, buttons.REVIEW_DATE_BLOCK)
        if date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(date)):
            errors[buttons.REVIEW_DATE_BLOCK] = "Pick a date."
        if not given and not errors:
            errors[buttons.field_block_id(0)] = "Fill in at least one of these."
        return errors

    def snooze_errors(self, view: dict) -> dict[str, str]:
        errors = {}
        days = str(buttons.submitted(view, "govbot-snooze-days") or "")
        if not days.isdigit() or int(days) not in buttons.SNOOZE_DAYS or int(days) > self.max_days:
            errors["govbot-snooze-days"] = f"Choose 7, 14 or 30 days (at most {self.max_days})."
        reason = str(buttons.submitted(view, "govbot-snooze-reason") or "").strip()
        if len(reason) < buttons.MIN_REASON_CHARS or len(reason) > buttons.MAX_REASON_CHARS:
            errors["govbot-snooze-reason"] = "Say why in a few words (up to 500 characters)."
        return errors

    def _first_submission(self, view: dict) -> bool:
        """A view is acted on once, however often Slack delivers its submission."""
        view_id = str(view.get("id") or "")
        with self._lock:
            if not view_id or view_id in self._views_seen:
                log.info("action: view %s already handled", view_id)
                return False
            self._views_seen.add(view_id)
            return True

    def _claimed(self, view: dict) -> bool:
        """The view is claimed in the store, in one committed transaction, before anything is written.

        ``_first_submission`` only knows this process. Every replica of the service holds a Socket Mode
        connection and Slack may deliver a retried submission to any of them: the store's unique key
        decides which one acts. A dry run writes neither to Jira nor to the store, so it claims nothing.
        """
        if not self.apply or not self.live:
            return True
        view_id = str(view.get("id") or "")
        store = self.open_store(dry_run=False)
        try:
            first = store.claim_once(f"slack-view:{view_id}", self.clock())
        finally:
            store.close()
        if not first:
            log.info("action: view %s already handled by another replica", view_id)
        return first

    def fix_submitted(self, body: dict, client) -> None:
        view = body.get("view") or {}
        meta = buttons.parse_metadata(view.get("private_metadata"))
        user = _user(body)
        if meta is None or meta["fix"] is None or not user:
            return
        target, channel, ts = meta["target"], meta["channel"], meta["ts"]
        fix = buttons.FIXES[meta["fix"]]
        with self._lock:
            if target.finding in self._busy:
                return
            self._busy.add(target.finding)
        try:
            self._save_fix(client, view, target, fix, user, channel, ts)
        finally:
            with self._lock:
                self._busy.discard(target.finding)

    def _save_fix(self, client, view, target, fix, user, channel, ts) -> None:
        if self._usable(client, target, user, channel, "fix.submitted") is None:
            return
        values = [(name, str(buttons.submitted(view, buttons.field_block_id(index)) or "").strip())
                  for index, name in enumerate(fix.fields)]
        values = [(name, value) for name, value in values if value]
        date = buttons.submitted(view, buttons.REVIEW_DATE_BLOCK)
        if fix.review_date and date:
            values.append((buttons.REVIEW_DATE, str(date)))
        if self._write(client, target, user, channel, values, fix.kind) is None:
            return
        decision = self.access.decide(user, target.issue)
        still = self._recheck(target)
        if still is None:
            self._audit("action.fixed", target, user, who=decision.who, what=fix.kind)
            self._update_item(client, channel, ts, target,
                              f":white_check_mark: *{slack_escape(target.issue)}* {fix.done}, thank you!")
        else:
            self._ephemeral(client, channel, user, f"Saved to {target.issue} in Jira, but the rule still finds "
                                                   f"something: {one_line(still, 300)}")

    def snooze_submitted(self, body: dict, client) -> None:
        view = body.get("view") or {}
        meta = buttons.parse_metadata(view.get("private_metadata"))
        user = _user(body)
        if meta is None or not user:
            return
        target, channel, ts = meta["target"], meta["channel"], meta["ts"]
        if self._usable(client, target, user, channel, "snooze.submitted") is None:
            return
        days = min(int(buttons.submitted(view, "govbot-snooze-days")), self.max_days)
        reason = one_line(buttons.submitted(view, "govbot-snooze-reason"), buttons.MAX_REASON_CHARS)
        decision = self.access.decide(user, target.issue)
        if not self.apply:
            self._ephemeral(client, channel, user, DRY_RUN)
            return
        now = self.clock()
        until = now.date() + timedelta(days=days)
        by = f"{decision.who} (Slack {user})"
        store = self.open_store(dry_run=False)
        try:
            snooze_id = store.add_snooze(target.issue, target.rule, reason=reason, until=until, now=now, by=by)
        finally:
            store.close()
        self._audit("action.snoozed", target, user, who=decision.who, until=until, reason=reason, waiver=snooze_id)
        self._update_item(client, channel, ts, target,
                          f":zzz: *{slack_escape(target.issue)}*: snoozed until {until.isoformat()} "
                          f"(waiver #{snooze_id}): {slack_escape(reason)}")

    # -- helpers ----------------------------------------------------------------------------------------
    def _clicked(self, body: dict):
        actions = body.get("actions") or []
        action = actions[0] if actions and isinstance(actions[0], dict) else {}
        target = buttons.parse_value(action.get("value"))
        user, channel = _user(body), _channel(body)
        container = body.get("container") or {}
        message = body.get("message") or {}
        ts = str(container.get("message_ts") or message.get("ts") or "") or None
        if target is None or not user:
            log.info("action: a button value govbot did not write (%r)", action.get("value"))
            return None, user, channel, ts
        if channel and ts and isinstance(message.get("blocks"), list):
            with self._lock:
                self._messages[(channel, ts)] = message["blocks"]
        return target, user, channel, ts

    def _usable(self, client, target, user: str, channel: str | None, step: str):
        """The finding's state if it is still open, still in Jira, and this person may act on it;
        else None, having said why, once, and audited it."""
        if not self.live:
            self._ephemeral(client, channel, user, NOT_LIVE)
            return None
        state = self._state(target)
        if state is None or not state.open or state.rule != target.rule or state.issue != target.issue:
            self._audit("action.stale", target, user, step=step)
            self._ephemeral(client, channel, user, ALREADY_FIXED.format(key=target.issue))
            return None
        refusal = self.access.refusal(user, target.issue)
        if refusal is not None:
            self._audit("action.refused", target, user, step=step)
            self._ephemeral(client, channel, user, refusal)
            return None
        return state

    def _state(self, target):
        store = self.open_store(dry_run=True)
        try:
            return store.finding_states([target.finding]).get(target.finding)
        finally:
            store.close()

    def _rule(self, rule_id: str):
        return self.inputs.ruleset.get(rule_id)

    def _fix(self, target) -> buttons.Fix | None:
        # By family, not buttons.fix_for: the store does not keep a finding's subjects, which fix_for
        # needs for a custom rule. A click on such a rule still passes the scope and EDIT_ISSUES checks.
        rule = self._rule(target.rule)
        kind = buttons.FAMILY_FIX.get(family_of(target.rule, rule))
        return buttons.FIXES.get(kind) if kind else None

    def _recheck(self, target) -> str | None:
        """Check the issue again and record its lifecycle; the rule's message if it still fires, else None."""
        from bot.runs.batch import ALWAYS, open_batch
        from bot.runs.inputs import Read

        store = self.open_store(dry_run=False)
        try:
            with open_batch(self.inputs, self.clock(), read=Read(keys=[target.issue]), store=store,
                            record=ALWAYS) as batch:
                for finding in batch.findings:
                    if finding.issue == target.issue and finding.rule == target.rule and not finding.waived:
                        return finding.message or finding.title or finding.rule
                return None
        finally:
            store.close()

    def _update_item(self, client, channel: str | None, ts: str | None, target, text: str) -> None:
        if not channel or not ts:
            return
        with self._lock:
            blocks = self._messages.get((channel, ts))
        if blocks is None:
            found = client.conversations_history(channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1)
            messages = found.get("messages") or []
            blocks = messages[0].get("blocks") if messages else None
        updated = buttons.replace_item(blocks or [], target.finding, text)
        if updated is None:
            return
        client.chat_update(channel=channel, ts=ts, text=text, blocks=updated)
        with self._lock:
            self._messages[(channel, ts)] = updated

    def _ephemeral(self, client, channel: str | None, user: str, text: str) -> None:
        if not channel:
            log.info("action: no channel to answer %s in: %s", user, text)
            return
        try:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        except Exception as error:  # noqa: BLE001 - the answer is a courtesy; the audit has the facts
            log.warning("action: could not answer %s (%s)", user, error)

    def _audit(self, event: str, target, user: str, **fields: Any) -> None:
        if self.metrics is not None:
            # action: what was acted on (fix kind, or the step's button); outcome: the event (fixed, refused...)
            action = str(fields.get("what") or str(fields.get("step") or "").split(".")[0] or event.split(".")[-1])
            self.metrics.slack_action(action, event.split(".", 1)[-1])
        self.audit.write(event, issue=target.issue, rule=target.rule, finding=target.finding, slack_user=user,
                         **fields)


def _user(body: dict) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _channel(body: dict) -> str | None:
    container = body.get("container") or {}
    return str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "") or None


def build_actions(service_or_inputs, *, config, web_client, open_store, apply: bool, max_days: int,
                  admins, audit: AuditLog | None = None, editor: Callable[[], JiraEditor] | None = None,
                  metrics=None) -> SlackActions:
    """The handlers as ``govbot serve`` runs them: Jira from the config, people from Slack's users.info."""
    made: dict[str, JiraEditor] = {}
    lock = threading.Lock()

    def jira() -> JiraEditor:
        with lock:
            if "editor" not in made:
                made["editor"] = JiraEditor.from_config(config)
            return made["editor"]

    def slack_user(user_id: str) -> dict | None:
        return (web_client.users_info(user=user_id).get("user")) or None

    editor = editor or jira
    try:
        user_map = Router(config).user_map  # slack.user_map_file, the same file routing reads
    except GovbotError as error:
        log.warning("actions: cannot read the Slack user map (%s); matching people by e-mail only", error.message)
        user_map = {}
    access = Access(slack_user=slack_user, editor=editor, admins=admins, user_map=user_map)
    return SlackActions(service_or_inputs, access=access, editor=editor, open_store=open_store,
                        audit=audit or AuditLog.from_config(config), apply=apply, max_days=max_days,
                        metrics=metrics)


__all__ = ["SlackActions", "build_actions", "refusal_text"]
