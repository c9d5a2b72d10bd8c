"""``/govbot`` in Slack: check an issue now, explain a rule, waive a rule on an issue, list and end waivers.

Slack Bolt in Socket Mode: the bot opens a WebSocket to Slack, so no public
endpoint is needed. Every command is acknowledged at once (Slack wants an
answer within 3 seconds) and the verdict follows through the command's
``response_url`` as an *ephemeral* message: only the person who asked sees it.

The command logic (``ChatCommands``) knows nothing about Bolt, and the verdict
on an issue comes from ``bot.runs.check``, exactly as for ``govbot check``, so
chat and the command line give the same answer.
Everything taken from Jira is escaped for Slack mrkdwn (``&``, ``<``, ``>``).

Chat speaks only of issues govbot watches (``bot.runs.scope``): an issue
outside the configured scope, or one that does not exist, gets one polite
sentence and nothing read from Jira. Waivers given or ended here go to the
audit log, and one issue's waiver on one rule is renewed at most
``service.max_waiver_renewals`` times.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from bot.deliver.slack import one_line, truncate
from bot.errors import ConfigError, GovbotError, UsageError
from bot.escape import slack_escape
from bot.redact import redact
from bot.render.check import render_slack
from bot.render.rules import explain_text
from bot.runs.check import ISSUE_KEY, check_issues
from bot.runs.check import NOT_FOUND
from bot.runs.inputs import DEMO_WORKSPACE, Inputs, Read, load_workspace
from bot.runs.scope import IN_SCOPE, OUT_OF_SCOPE, issue_scope

log = logging.getLogger("govbot.chat")

MAX_ANSWER_CHARS = 3900
MAX_LISTED_WAIVERS = 40
_WAIVE_FOR = re.compile(r"^(\d+)\s*([dw])$", re.IGNORECASE)


# -- one issue's verdict, as `govbot check` gives it ---------------------------------------------------------

def normalise_key(text: str) -> str:
    key = str(text or "").strip().upper()
    if not ISSUE_KEY.match(key):
        raise UsageError(f"{text!r} is not an issue key", hint="give a key like PROJ-123")
    return key


# -- the slash command, without Bolt --------------------------------------------------------------------------

HELP = """*govbot* answers only you. Try:
• `{command} check PROJ-123`: every rule's verdict on one issue, now
• `{command} explain rule-id`: what a rule checks, why it matters, how to fix it
• `{command} waive PROJ-123 rule-id 14d reason`: pause one rule on one issue (for up to {days} days; \
your name and reason show in the digest)
• `{command} waivers [PROJ-123]`: the waivers given in chat that are in effect
• `{command} unwaive PROJ-123 rule-id`: end a waiver given in chat
• `{command} help`: this message
Rules are about the work, never about people."""


class ChatCommands:
    """Turns the text after ``/govbot`` into an answer (Slack mrkdwn)."""

    def __init__(self, inputs: Inputs, *, snapshot: str | None = None, command: str = "/govbot",
                 max_waiver_days: int = 90, clock: Callable[[], datetime] | None = None, metrics=None,
                 open_store: Callable[..., Any] | None = None, max_waiver_renewals: int = 2, audit=None,
                 access=None):
        self.inputs = inputs
        self.access = access  # bot.service.access.Access: who may waive (None: anyone, as before)
        self.open_store = open_store
        self.config = inputs.config
        self.snapshot = snapshot
        self.command = command
        self.max_waiver_days = max_waiver_days
        self.max_waiver_renewals = max_waiver_renewals
        self._audit = audit
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.metrics = metrics
        self._cache_lock = threading.Lock()
        self._cached: tuple[Any, Any] | None = None  # (file stamp, workspace) for snapshot and demo

    def answer(self, text: str, user: dict[str, str] | None = None) -> tuple[str, str]:
        """(subcommand, answer). Never raises: problems become answers, and no answer carries a secret
        (a Jira error quoted in a warning may echo the bot's credentials)."""
        name, reply = self._answer(text, user)
        return name, redact(reply)

    def _answer(self, text: str, user: dict[str, str] | None) -> tuple[str, str]:
        words = str(text or "").split()
        name = words[0].lower() if words else "help"
        handlers = {"check": self.check, "explain": self.explain, "waive": self.waive, "waivers": self.waivers,
                    "unwaive": self.unwaive, "help": self.help}
        handler = handlers.get(name)
        if handler is None:
            close = difflib.get_close_matches(name, list(handlers), n=1)
            hint = f" Did you mean `{self.command} {close[0]}`?" if close else ""
            self._count("unknown", "usage")
            return "unknown", f"I don't know `{slack_escape(name)}`.{hint}\n\n" + self.help([], user)
        try:
            reply = handler(words[1:], user or {})
            self._count(name, "ok")
            return name, truncate(reply, MAX_ANSWER_CHARS)
        except GovbotError as error:
            self._count(name, "usage" if isinstance(error, UsageError) else "error")
            hint = f"\n_{slack_escape(error.hint)}_" if error.hint else ""
            return name, f":warning: {slack_escape(error.message)}{hint}"
        except Exception as error:  # noqa: BLE001 - the person gets an answer; the log gets the details
            self._count(name, "error")
            log.exception("/govbot %s failed", name, extra={"command": name})
            return name, f":warning: govbot could not answer (`{slack_escape(type(error).__name__)}`); " \
                         "the details are in its log."

    def _count(self, name: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.chat_command(name, outcome)

    # -- subcommands ----------------------------------------------------------------------------------
    def help(self, _words: list[str], _user: dict) -> str:
        return HELP.format(command=slack_escape(self.command), days=self.max_waiver_days)

    def check(self, words: list[str], _user: dict) -> str:
        if len(words) != 1:
            raise UsageError("check needs one issue key", hint=f"for example: {self.command} check PROJ-123")
        key = normalise_key(words[0])
        if self._scope(key) == OUT_OF_SCOPE:
            return f":mag: {self._not_watched(key)}."
        checked = check_issues(self.inputs, [key], self.clock(), snapshot=self.snapshot,
                               workspace_loader=self._local_workspace(), open_store=self._store)
        return render_slack(checked)

    def explain(self, words: list[str], _user: dict) -> str:

        if len(words) != 1:
            raise UsageError("explain needs one rule id", hint=f"for example: {self.command} explain "
                                                                "anticipated-outcome-missing")
        rule = self._rule(words[0])
        return f"```{slack_escape(explain_text(rule, full_path=False))}```"

    def waive(self, words: list[str], user: dict) -> str:
        usage = f"{self.command} waive PROJ-123 rule-id 14d reason for the waiver"
        if len(words) < 4:
            raise UsageError("waive needs an issue key, a rule id, a duration and a reason", hint=usage)
        key = normalise_key(words[0])
        rule = self._rule(words[1])
        match = _WAIVE_FOR.match(words[2])
        if not match:
            raise UsageError(f"{words[2]!r} is not a duration", hint=f"use days or weeks, like 14d or 2w: {usage}")
        days = int(match.group(1)) * (7 if match.group(2).lower() == "w" else 1)
        if not 1 <= days <= self.max_waiver_days:
            raise UsageError(f"a waiver from chat lasts 1 to {self.max_waiver_days} days, not {days}",
                             hint="for longer, add it to the waiver file (waivers.file) where it is reviewed")
        reason = " ".join(words[3:]).strip()
        if len(reason) < 3:
            raise UsageError("say why the rule does not apply here", hint=usage)
        scope = self._scope(key)
        if scope != IN_SCOPE:
            raise UsageError(self._not_watched(key) if scope == OUT_OF_SCOPE else
                             f"{key}: {NOT_FOUND[self._source_kind()]}", hint="nothing was waived")
        # Scope first: an issue govbot does not watch is refused before Jira is asked who may edit it.
        self._may_change(key, user)
        now = self.clock()
        until = now.date() + timedelta(days=days)
        by = _who(user)
        audit = self._audit_log()
        audit.check_writable()  # a waiver nobody can trace is not given
        store = self._store(dry_run=False)
        try:
            renewals = renewal_count(store.snooze_history(key, rule.id), now)
            if renewals > self.max_waiver_renewals:
                raise UsageError(f"`{rule.id}` on {key} has been waived from chat {renewals} times in a row; "
                                 f"a chat waiver is renewed at most {self.max_waiver_renewals} times "
                                 "(service.max_waiver_renewals)",
                                 hint="fix the issue, or add the waiver to the waiver file (waivers.file), "
                                      "where it is reviewed")
            snooze_id = store.add_snooze(key, rule.id, reason=reason, until=until, now=now, by=by)
        finally:
            store.close()
        audit.write("waiver.added", source="chat", issue=key, rule=rule.id, until=until, by=by, reason=reason,
                    waiver=snooze_id, renewal=renewals)
        log.info("waiver added from chat", extra={"command": "waive", "issue": key, "rule": rule.id,
                                                  "until": until.isoformat(), "by": by, "snooze": snooze_id})
        return (f":zzz: `{slack_escape(rule.id)}` is waived on *{slack_escape(key)}* until {until.isoformat()} "
                f"(waiver #{snooze_id}): {slack_escape(one_line(reason, 300))}\n"
                "Checks, nudges and the digest show it as waived, with your name and reason.")

    def _may_change(self, key: str, user: dict) -> None:
        """Only people who may edit the issue in Jira (or govbot admins) change its waivers from chat."""
        refusal = self.access.refusal(user.get("user_id", ""), key) if self.access is not None else None
        if refusal:
            raise UsageError(refusal)

    def waivers(self, words: list[str], _user: dict) -> str:
        if len(words) > 1:
            raise UsageError("waivers takes at most one issue key", hint=f"for example: {self.command} waivers "
                                                                         "PROJ-123")
        key = normalise_key(words[0]) if words else None
        store = self._store(dry_run=True)
        try:
            active = [s for s in store.snoozes(active_on=self.clock().date()) if key is None or s.issue == key]
        finally:
            store.close()
        if not active:
            where = f" on *{slack_escape(key)}*" if key else ""
            return f"No waivers from chat are in effect{where}."
        lines = [f"*{len(active)} waiver{'s' if len(active) != 1 else ''} from chat in effect*"]
        for snooze in active[:MAX_LISTED_WAIVERS]:
            until = snooze.until.isoformat() if snooze.until else "no end date"
            lines.append(f"• *{slack_escape(snooze.issue)}* `{slack_escape(snooze.rule)}` until {until} "
                         f"(#{snooze.id}, by {slack_escape(snooze.by or 'someone')}): "
                         f"{slack_escape(one_line(snooze.reason, 120))}")
        if len(active) > MAX_LISTED_WAIVERS:
            lines.append(f"… and {len(active) - MAX_LISTED_WAIVERS} more: `{self.command} waivers PROJ-123` "
                         "lists one issue's")
        return "\n".join(lines)

    def unwaive(self, words: list[str], user: dict) -> str:
        usage = f"{self.command} unwaive PROJ-123 rule-id"
        if len(words) != 2:
            raise UsageError("unwaive needs an issue key and a rule id", hint=usage)
        key = normalise_key(words[0])
        rule = self._rule(words[1])
        self._may_change(key, user)
        now = self.clock()
        by = _who(user)
        audit = self._audit_log()
        audit.check_writable()
        store = self._store(dry_run=False)
        try:
            active = [s for s in store.snoozes(active_on=now.date()) if s.issue == key and s.rule == rule.id]
            ended = [s for s in active if store.revoke_snooze(s.id, now)]
        finally:
            store.close()
        if not ended:
            raise UsageError(f"no waiver from chat of `{rule.id}` is in effect on {key}",
                             hint=f"see `{self.command} waivers {key}`; waivers in the waiver file or "
                                  "labels end there")
        for snooze in ended:
            audit.write("waiver.revoked", source="chat", issue=key, rule=rule.id, by=by, waiver=snooze.id,
                        given_by=snooze.by, until=snooze.until)
        log.info("waiver ended from chat", extra={"command": "unwaive", "issue": key, "rule": rule.id, "by": by,
                                                  "snoozes": [s.id for s in ended]})
        return (f":bell: `{slack_escape(rule.id)}` applies to *{slack_escape(key)}* again "
                f"(waiver{'s' if len(ended) > 1 else ''} {', '.join(f'#{s.id}' for s in ended)} ended).")

    # -- helpers ---------------------------------------------------------------------------------------
    def _scope(self, key: str) -> str:
        return issue_scope(self.inputs, key, snapshot=self.snapshot, workspace_loader=self._local_workspace())

    def _source_kind(self) -> str:
        return Read(snapshot=self.snapshot).source_kind(self.inputs)

    def _not_watched(self, key: str) -> str:
        # The same words whether the issue exists elsewhere or not at all: nothing about it is told.
        return (f"*{slack_escape(key)}* is not an issue govbot watches here (outside its configured scope, "
                "or not in Jira), so it has nothing to say about it")

    def _audit_log(self):
        if self._audit is None:
            from bot.deliver.audit import AuditLog

            self._audit = AuditLog.from_config(self.config)
        return self._audit

    def _rule(self, text: str):
        ruleset = self.inputs.ruleset
        rule = ruleset.get(text) or next((r for r in ruleset.rules if r.code and r.code == text), None)
        if rule is None:
            close = difflib.get_close_matches(text, [r.id for r in ruleset.rules], n=1)
            raise UsageError(f"no rule {text!r}",
                             hint=f"did you mean {close[0]}?" if close else "see the rule reference (govbot rules list)")
        return rule

    def _store(self, *, dry_run: bool):
        if self.open_store is not None:
            return self.open_store(dry_run=dry_run)
        from bot.store import open_store

        return open_store(self.config, dry_run=dry_run)

    def _local_workspace(self) -> Callable[[], Any] | None:
        """A cached loader for a snapshot or the demo (re-read when the file changes); None for live Jira."""
        if self.snapshot is None and not self.inputs.demo:
            return None
        path = Path(self.snapshot) if self.snapshot else DEMO_WORKSPACE

        def load():
            try:
                stamp = (path.stat().st_mtime_ns, path.stat().st_size)
            except OSError:
                stamp = None
            with self._cache_lock:
                if self._cached is not None and stamp is not None and self._cached[0] == stamp:
                    return self._cached[1]
            workspace = load_workspace(self.inputs, snapshot=self.snapshot)
            with self._cache_lock:
                self._cached = (stamp, workspace)
            return workspace

        return load


def renewal_count(history: list, now: datetime) -> int:
    """How many waivers in a row came before one given ``now``: walking back from now, each earlier
    waiver that was still due to run when the next began (ended early by unwaive or not) is one."""
    count, start = 0, now
    for snooze in sorted(history, key=lambda s: s.created_at, reverse=True):
        if snooze.until is not None and snooze.until < start.date():
            break
        count, start = count + 1, snooze.created_at
    return count


def _who(user: dict) -> str:
    name, user_id = user.get("user_name"), user.get("user_id")
    if name and user_id:
        return f"{name} (Slack {user_id})"
    return name or (f"Slack {user_id}" if user_id else "someone in Slack")


# -- Bolt ------------------------------------------------------------------------------------------------------

def build_app(commands: ChatCommands, *, token: str, base_url: str | None = None,
              signing_secret: str | None = None, token_verification_enabled: bool = True, actions=None):
    """The Bolt app answering ``commands.command`` (and, with ``actions``, the nudges' buttons).
    Socket Mode needs no signing secret."""
    from slack_bolt import App
    from slack_sdk import WebClient

    client = WebClient(token=token, **({"base_url": base_url} if base_url else {}))
    app = App(client=client, signing_secret=signing_secret or "",
              request_verification_enabled=bool(signing_secret),
              token_verification_enabled=token_verification_enabled,
              logger=logging.getLogger("govbot.chat.bolt"))

    @app.command(commands.command)
    def slash_command(ack, body, respond):
        # Acknowledge first: Slack gives up after 3 seconds, and a check may read Jira.
        ack()
        user = {"user_id": body.get("user_id", ""), "user_name": body.get("user_name", "")}
        started = time.monotonic()
        name, reply = commands.answer(body.get("text", ""), user)
        respond(text=reply, response_type="ephemeral", replace_original=False)
        log.info("answered %s %s in %.1fs", commands.command, name, time.monotonic() - started,
                 extra={"command": name, "user": user["user_id"]})

    if actions is not None:
        actions.register(app)  # bot/service/actions.py
    return app


class ChatHandle:
    """The running Socket Mode connection; reconnects itself, retries a failed start."""

    RETRY_SECONDS = 60

    def __init__(self, app, app_token: str):
        self.app = app
        self.app_token = app_token
        self.handler = None
        self.error: str | None = None
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> str:
        if self._closed.is_set():
            return "closed"
        if self.handler is not None:
            client = getattr(self.handler, "client", None)
            connected = client.is_connected() if client is not None and hasattr(client, "is_connected") else True
            return "connected" if connected else "reconnecting"
        return f"retrying ({self.error})" if self.error else "connecting"

    def start(self) -> "ChatHandle":
        self._thread = threading.Thread(target=self._connect_loop, name="govbot-chat", daemon=True)
        self._thread.start()
        return self

    def _connect_loop(self) -> None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        while not self._closed.is_set():
            handler = None
            try:
                handler = SocketModeHandler(self.app, self.app_token, logger=logging.getLogger("govbot.chat.socket"))
                handler.connect()
                self.handler, self.error = handler, None
                log.info("chat: connected to Slack in Socket Mode")
                return
            except Exception as error:  # noqa: BLE001 - Slack down at start must not stop the scheduler
                self.error = f"{type(error).__name__}: {error}"
                log.error("chat: cannot connect to Slack (%s); retrying in %ss", self.error, self.RETRY_SECONDS)
                if handler is not None:
                    try:
                        handler.close()
                    except Exception:  # noqa: BLE001 - best effort: its threads must not pile up
                        pass
            self._closed.wait(self.RETRY_SECONDS)

    def close(self) -> None:
        self._closed.set()
        if self.handler is not None:
            try:
                self.handler.close()
            except Exception:  # noqa: BLE001 - closing during shutdown is best effort
                log.debug("chat: close failed", exc_info=True)


AUTH_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
               "not_allowed_token_type"}


def start_chat(service) -> ChatHandle | None:
    """Start answering the slash command when Slack tokens are set (``service.chat``: auto/true/false)."""
    from bot.logs import register_secret

    setting = service.settings.chat
    config = service.config
    if setting is False:
        log.info("chat: off (service.chat: false)")
        return None
    app_token, bot_token = config.secret("SLACK_APP_TOKEN"), config.secret("SLACK_BOT_TOKEN")
    register_secret(app_token)
    register_secret(bot_token)
    if not (app_token and bot_token):
        missing = " and ".join(name for name, value in (("SLACK_APP_TOKEN", app_token),
                                                        ("SLACK_BOT_TOKEN", bot_token)) if not value)
        if setting is True:
            raise ConfigError(f"service.chat is on but {missing} is not set",
                              hint="create an app-level token (xapp-, scope connections:write) and install the "
                                   "app for a bot token (xoxb-); see docs/deploy.md")
        log.info("chat: off (%s not set)", missing)
        return None
    if not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-",
                          hint="Slack app settings > Basic Information > App-Level Tokens (scope connections:write)")
    if not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-",
                          hint="Slack app settings > OAuth & Permissions > Bot User OAuth Token")
    from bot.deliver.slack_client import api_url

    base_url = api_url(config)
    _verify_bot_token(bot_token, base_url)
    commands = ChatCommands(service.inputs, snapshot=service.snapshot, command=service.settings.slash_command,
                            max_waiver_days=service.settings.max_waiver_days,
                            max_waiver_renewals=service.settings.max_waiver_renewals, metrics=service.metrics,
                            open_store=getattr(service.jobs, "open_store", None))
    actions = _actions(service, commands, bot_token, base_url)
    app = build_app(commands, token=bot_token, base_url=base_url, token_verification_enabled=False, actions=actions)
    return ChatHandle(app, app_token).start()


def _actions(service, commands: ChatCommands, bot_token: str, base_url: str):
    """The nudges' buttons (bot/service/actions.py); ``/govbot waive`` then follows the same rule of who may act."""
    from slack_sdk import WebClient

    from bot.service.actions import build_actions

    web = WebClient(token=bot_token, base_url=base_url)
    actions = build_actions(service.inputs, config=service.config, web_client=web, open_store=commands._store,
                            apply=bool(getattr(service, "apply", False)),
                            max_days=service.settings.max_waiver_days,
                            admins=service.config.settings.service.admins, metrics=service.metrics)
    if service.snapshot is None and not service.inputs.demo:
        commands.access = actions.access  # live Jira says who may edit; a snapshot or the demo has no one to ask
    else:
        actions.live = False
    return actions


def _verify_bot_token(token: str, base_url: str) -> None:
    """A wrong token is a configuration error worth stopping for; Slack being down is not."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    try:
        WebClient(token=token, base_url=base_url, timeout=10).auth_test()
    except SlackApiError as error:
        code = str((error.response.data or {}).get("error") if hasattr(error.response, "data") else "")
        if code in AUTH_ERRORS:
            raise ConfigError(f"Slack refused SLACK_BOT_TOKEN ({code})",
                              hint="copy the Bot User OAuth Token again, or reinstall the app") from None
        log.warning("chat: Slack auth.test failed (%s); will keep trying", code or error)
    except Exception as error:  # noqa: BLE001 - network trouble: the connect loop retries
        log.warning("chat: cannot reach Slack to check the token (%s); will keep trying", error)
