"""Jira's issue webhooks, for hearing about a new epic in seconds instead of at the next scan.

Optional and off by default (``service.webhook_path``). ``govbot serve``
accepts ``POST`` on that path on its HTTP port (beside ``/healthz``):

- only signed deliveries: ``X-Hub-Signature: sha256=<hex HMAC of the body>``
  with the shared secret in ``GOVBOT_WEBHOOK_SECRET`` (what Jira Cloud and Data
  Center send when the webhook has a secret). Unsigned or wrongly signed: 401;
- a body over ``service.webhook_max_bytes``: 413, unread;
- a delivery seen before (its ``X-Atlassian-Webhook-Identifier``, else the
  body's own digest) or older than ``REPLAY_WINDOW`` by its ``timestamp``: 409;
- ``jira:issue_created``, ``jira:issue_updated`` and ``jira:issue_deleted``
  are queued by issue key (202); other events are acknowledged and ignored.

The queue coalesces: an issue is checked once its edits have been quiet for
``service.webhook_debounce`` (at most ``MAX_WAIT_FACTOR`` times that after the
first), with at most ``MAX_PENDING`` issues waiting, so a flood costs one
check per issue and never a message storm. The check is the ordinary nudge
run over those issues (``bot.runs.nudge.deliver``): the same outbox, policy,
quiet hours, breaker and one-message-per-person as the scheduled runs, which
keep running as the safety net for anything a webhook missed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping

log = logging.getLogger("govbot.webhooks")

SECRET_ENV = "GOVBOT_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Hub-Signature"
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
EVENTS = {"jira:issue_created", "jira:issue_updated", "jira:issue_deleted"}
REPLAY_WINDOW = 1800.0     # seconds: a delivery stamped older than this is refused (Jira retries for a while)
SEEN_LIMIT = 10_000        # delivery ids remembered
MAX_PENDING = 1_000        # issues waiting to be checked; more are left to the scheduled scan
MAX_WAIT_FACTOR = 5
BATCH = 100                # issues per check
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")


@dataclass(frozen=True)
class Event:
    key: str
    kind: str          # created | updated | deleted
    done: bool = False  # the status moved into Done in this change


class Debouncer:
    """Issue keys waiting to be checked, each due once its events have gone quiet."""

    def __init__(self, quiet_seconds: float, *, max_pending: int = MAX_PENDING,
                 clock: Callable[[], float] = time.monotonic):
        self.quiet = max(0.0, float(quiet_seconds))
        self.max_pending = max_pending
        self.clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[float, float]] = {}  # key -> (first, last)
        self._done: set[str] = set()     # keys whose status moved into Done meanwhile
        self._deleted: set[str] = set()  # keys Jira said were deleted
        self.dropped = 0
        self.wake = threading.Event()

    def add(self, key: str, *, done: bool = False, deleted: bool = False) -> bool:
        now = self.clock()
        with self._lock:
            room = key in self._pending or len(self._pending) < self.max_pending
            if done and room:
                self._done.add(key)
            if room:
                (self._deleted.add if deleted else self._deleted.discard)(key)
            if key in self._pending:
                self._pending[key] = (self._pending[key][0], now)
                return True
            if len(self._pending) >= self.max_pending:
                self.dropped += 1
                return False
            self._pending[key] = (now, now)
        self.wake.set()
        return True

    def take_due(self) -> list[str]:
        now = self.clock()
        cap = self.quiet * MAX_WAIT_FACTOR
        with self._lock:
            due = [key for key, (first, last) in self._pending.items()
                   if now - last >= self.quiet or now - first >= cap]
            for key in due:
                del self._pending[key]
        return sorted(due)

    def pop_done(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` moved to Done since they were queued (asked once, then forgotten)."""
        return self._pop(self._done, keys)

    def pop_deleted(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` Jira last said were deleted."""
        return self._pop(self._deleted, keys)

    def _pop(self, marked: set[str], keys: list[str]) -> set[str]:
        with self._lock:
            found = marked & set(keys)
            marked -= found
        return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)


class WebhookReceiver:
    """Checks one delivery and queues its issue; answers (HTTP status, one line)."""

    def __init__(self, secret: str, *, max_bytes: int, queue: Debouncer,
                 clock: Callable[[], float] = time.time):
        if not secret:
            raise ValueError("a webhook secret is required")
        self.secret = secret.encode("utf-8")
        self.max_bytes = max_bytes
        self.queue = queue
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.counts: dict[int, int] = {}

    def handle(self, headers: Mapping[str, str], length: int | None, read: Callable[[int], bytes]) -> tuple[int, str]:
        status, text = self._handle({str(k).lower(): str(v) for k, v in headers.items()}, length, read)
        with self._lock:
            self.counts[status] = self.counts.get(status, 0) + 1
        if status >= 400:
            log.warning("webhook refused (%s): %s", status, text, extra={"status": status})
        return status, text

    def _handle(self, headers: dict[str, str], length: int | None, read) -> tuple[int, str]:
        if length is None:
            return 411, "a Content-Length is required"
        if length > self.max_bytes:
            return 413, f"body over {self.max_bytes} bytes"
        body = read(length) if length else b""
        signature = headers.get(SIGNATURE_HEADER.lower(), "")
        if not signature.startswith("sha256="):
            return 401, f"unsigned: {SIGNATURE_HEADER}: sha256=... is required"
        expected = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature[len("sha256="):].strip().lower(), expected):
            return 401, "the signature does not match the body"
        delivery = headers.get(IDENTIFIER_HEADER.lower()) or hashlib.sha256(body).hexdigest()
        with self._lock:
            if delivery in self._seen:
                return 409, "this delivery was received already"
            self._seen[delivery] = None
            while len(self._seen) > SEEN_LIMIT:
                self._seen.popitem(last=False)
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 400, "the body is not JSON"
        if not isinstance(data, dict):
            return 400, "the body is not a JSON object"
        stamp = data.get("timestamp")
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
            age = self.clock() - stamp / 1000.0
            if age > REPLAY_WINDOW:
                return 409, f"the delivery is {age:.0f}s old (a replay?)"
        event = parse_event(data)
        if event is None:
            return 202, "ignored: not an issue created, updated or deleted event"
        if not self.queue.add(event.key, done=event.done, deleted=event.kind == "deleted"):
            with self._lock:
                self._seen.pop(delivery, None)  # not handled: Jira's retry (same identifier) is welcome
            return 503, "too many issues waiting; the scheduled scan will see this one"
        log.info("webhook: %s %s queued", event.kind, event.key, extra={"issue": event.key, "event": event.kind})
        return 202, f"queued {event.key}"


def parse_event(data: dict[str, Any]) -> Event | None:
    """The issue an issue webhook is about, in Jira's own shapes (Cloud and Data Center)."""
    name = str(data.get("webhookEvent") or "")
    if name not in EVENTS:
        return None
    issue = data.get("issue") if isinstance(data.get("issue"), dict) else {}
    key = str(issue.get("key") or "").upper()
    if not _KEY.match(key):
        return None
    done = False
    changelog = data.get("changelog") if isinstance(data.get("changelog"), dict) else {}
    for item in changelog.get("items") or []:
        if isinstance(item, dict) and str(item.get("field") or "").casefold() == "status":
            category = (((issue.get("fields") or {}).get("status") or {}).get("statusCategory") or {}).get("key")
            done = category == "done"
    return Event(key, name.split("_", 1)[1], done)


class WebhookRunner:
    """Takes due issues off the queue and checks them, one batch at a time, in its own thread."""

    def __init__(self, queue: Debouncer, process: Callable[..., Any], *, tick: float = 0.2):
        self.queue = queue
        self.process = process
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> "WebhookRunner":
        self._thread = threading.Thread(target=self._loop, name="govbot-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self.queue.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        from bot.store.database import StoreBusy  # here: importing this module does not import SQLAlchemy

        while not self._stop.is_set():
            self.queue.wake.wait(self.tick)
            self.queue.wake.clear()
            due = self.queue.take_due()
            for start in range(0, len(due), BATCH):
                keys = due[start:start + BATCH]
                done, deleted = self.queue.pop_done(keys), self.queue.pop_deleted(keys)
                try:
                    self.process(keys, done, deleted)
                    self.runs += 1
                except StoreBusy:
                    # Another delivery run holds the store (the schedule, or the other replica checking the
                    # issues Jira sent it): these issues wait one more quiet period instead of being dropped.
                    log.info("webhook: a delivery run is in progress; %s queued again", ", ".join(keys))
                    for key in keys:
                        self.queue.add(key, done=key in done, deleted=key in deleted)
                except Exception:  # noqa: BLE001 - one failed check must not stop the next; the scan catches up
                    log.exception("webhook: checking %s failed; the scheduled scan will catch up", ", ".join(keys))


class Webhooks:
    """The receiver and the runner as ``govbot serve`` wires them."""

    def __init__(self, path: str, receiver: WebhookReceiver, runner: WebhookRunner):
        self.path = path
        self.receiver = receiver
        self.runner = runner

    def stop(self) -> None:
        self.runner.stop()


def start_webhooks(service, *, clock: Callable[[], Any] | None = None) -> Webhooks | None:
    """Jira webhooks for ``service`` when ``service.webhook_path`` is set; None when off."""
    from bot.dates import parse_duration
    from bot.errors import ConfigError
    from bot.logs import register_secret

    config = service.config
    section = config.settings.service
    path = section.webhook_path
    if not path:
        return None
    secret = config.secret(SECRET_ENV)
    if not secret:
        raise ConfigError(f"service.webhook_path is set but {SECRET_ENV} is not",
                          hint="set the same secret here and on the Jira webhook (see docs/deploy.md), "
                               "or remove service.webhook_path")
    register_secret(secret)
    if section.health_port is False:
        raise ConfigError("service.webhook_path needs the HTTP port, but service.health_port is false",
                          hint="set service.health_port (Jira posts to it), or remove service.webhook_path")
    if service.snapshot is not None or service.inputs.demo:
        raise ConfigError("Jira webhooks need live Jira (jira.url), not a snapshot or the demo",
                          hint="remove service.webhook_path, or configure jira.url")
    queue = Debouncer(parse_duration(section.webhook_debounce).total_seconds())
    receiver = WebhookReceiver(secret, max_bytes=int(section.webhook_max_bytes), queue=queue)
    runner = WebhookRunner(queue, lambda keys, done, deleted: check_and_deliver(
        service, keys, done=done, deleted=deleted, clock=clock)).start()
    log.info("webhooks: Jira issue events accepted on %s", path)
    return Webhooks(path, receiver, runner)


def check_and_deliver(service, keys: list[str], *, done: set[str] | None = None, deleted: set[str] | None = None,
                      clock: Callable[[], Any] | None = None):
    """The nudge run over these issues only: read, evaluate, record, plan and send as a scheduled run does;
    then, for an epic (or above) that moved to Done, its owner's one message about the review date."""
    from bot.runs.inputs import Read
    from bot.runs.nudge import deliver, raise_for_credentials

    config = service.config
    slack = None
    if service.apply and config.settings.nudges.enabled:
        from bot.deliver.slack_client import SlackClient

        slack = SlackClient.from_config(config)
    now = (clock or service.clock)()
    with service.jobs.open_store(dry_run=not service.apply) as store:
        # Only these issues: open findings elsewhere wait for their scheduled reminder (carry=False).
        batch, report = deliver(service.inputs, now, store, read=Read(keys=keys), apply=service.apply, slack=slack,
                                include_comments=False, carry=False)
        if done and batch.complete:
            announce_done(service, batch, sorted(done), store, now, slack=slack)
        for key in sorted(deleted or ()):
            # Resolved only when Jira, asked just now, no longer has it: the webhook said so, the read agrees.
            gone = key not in batch.workspace.issues and any(problem.startswith(f"{key}: not found")
                                                            for problem in batch.problems)
            if gone and service.apply:
                resolved = store.resolve_issue(key, now)
                log.info("webhook: %s was deleted in Jira; %d open finding(s) resolved", key, len(resolved),
                         extra={"issue": key})
    raise_for_credentials(report)
    sent = report.leftovers.sent + report.flushed.sent
    log.info("webhook: checked %s: %d finding(s), %d message(s) sent", ", ".join(keys), len(batch.findings),
             len(sent), extra={"issues": keys})
    return batch, report


def announce_done(service, batch, keys: list[str], store, now, *, slack) -> list:
    """Queue (and send, outside quiet hours) one DM per epic-or-above just moved to Done, to its owner.

    Through the outbox, so it is sent once (its dedupe key is the issue), waits out quiet hours in the
    queue like a nudge, and a dry run sends nothing. Skipped: work closed as abandoned, work whose actual
    outcome is already written, owners who cannot be reached on Slack.
    """
    from bot import lifecycle
    from bot.deliver.audit import AuditLog, NullAudit
    from bot.deliver.moments import ACTUAL, done_message
    from bot.deliver.outbox import Outbox
    from bot.deliver.policy import NudgeSettings, quiet_reason
    from bot.deliver.routing import Router
    from bot.engine.context import Context
    from bot.engine.evaluate import owner_of

    config = service.config
    epic = config.hierarchy.rank("epic")
    rule = service.inputs.ruleset.get("closing-the-loop-actual-outcome-missing")
    lookup = None
    if slack is not None:
        lookup = slack.lookup_user_by_email
    router = Router(config, store=store, lookup=lookup, now=now, remember=service.apply)
    context = Context(batch.workspace, config, now)
    messages = []
    for key in keys:
        issue = batch.workspace.issues.get(key)
        if issue is None or not issue.is_done() or lifecycle.is_abandoned(issue, config):
            continue
        rank = config.hierarchy.rank(issue.level)
        if epic is None or rank is None or rank < epic:
            continue
        written, _ = context.lookup(issue, ACTUAL)
        if written and not context.is_placeholder(written):
            continue  # the loop is closed already
        owner = owner_of(rule, issue, config)[0] if rule is not None and rule.owner else issue.assignee
        if owner is None or not owner.id:
            continue
        slack_id, via = router.slack_user(owner)
        if not slack_id:
            log.info("webhook: %s is done but its owner cannot be reached on Slack (%s)", key, via)
            continue
        messages.append(done_message(person=owner.id, slack_id=slack_id, key=key, summary=issue.summary,
                                     url=issue.url, team=issue.team))
    if not messages:
        return []
    settings = NudgeSettings.from_config(config)

    def quiet(entry) -> str | None:
        for team in (entry.payload or {}).get("teams") or [""]:
            why = quiet_reason(config, team or None, settings, now)
            if why:
                return why
        return None

    audit = AuditLog.from_config(config) if service.apply else NullAudit()
    outbox = Outbox(store, audit=audit, dry_run=not service.apply, slack=slack, quiet=quiet,
                    resend_unconfirmed=config.settings.slack.resend_unconfirmed)
    with store.writing(rollback=not service.apply):
        outbox.submit(messages, now)
    if service.apply and slack is not None:
        outbox.flush(now, kinds=("slack_dm",))
    return messages
