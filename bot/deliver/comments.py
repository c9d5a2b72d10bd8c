"""Jira comments, opt-in per rule (``comment: true``): one bot comment per issue.

The comment lists the issue's open findings from opted-in rules, is updated in
place as they change, says which are waived (until when, by whom) and which are
fixed, and says "all pass" once every one is fixed - never while one is only
waived. There is never a
second comment: the bot's own comment is the one written by govbot's Jira user
that carries a marker in its body (a person quoting it is never edited), and
its id is remembered in the store. Bodies are wiki markup on Data Center (REST v2, with
every Jira-sourced string escaped) and ADF on Cloud (REST v3, where text nodes
cannot carry markup at all).

"What changed" is decided from the findings the bot wants to show (a content
hash kept in the store), never from the comment's current text or the issue's
``updated`` time - so the bot's own edits, and Jira's re-rendering of them,
never trigger another edit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import defaultdict
from datetime import datetime
from typing import Any, Callable
from urllib.parse import quote

from bot import lifecycle
from bot.deliver.policy import DeliveryError, Outgoing
from bot.deliver.questions import family_of, questions_for
from bot.errors import GovbotError, NetworkError
from bot.escape import strip_controls, wiki_escape
from bot.sources.http import JiraHTTPError, Transport
from bot.sources.jira import JiraSource

MARKER = "govbot:findings-comment"
RESOLVED = "resolved"


# -- rendering -------------------------------------------------------------------------------------

@dataclasses.dataclass
class CommentItem:
    rule: str
    title: str
    message: str
    fix: str
    family: str = ""


@dataclasses.dataclass
class WaivedItem:
    """An opted-in finding on the issue that a waiver silences, and what the waiver says."""

    rule: str
    title: str
    waiver: str   # "waived until 2026-12-10 by Alice: reason", "waived by the label ..."


@dataclasses.dataclass
class FixedItem:
    rule: str
    title: str


def _items(findings, rules) -> list[CommentItem]:
    out = []
    for finding in sorted(findings, key=lambda f: (-f.severity.rank, f.rule)):
        rule = rules.get(finding.rule)
        docs = getattr(rule, "docs", None) or {}
        out.append(CommentItem(rule=finding.rule, title=finding.title or getattr(rule, "title", finding.rule),
                               message=finding.message, fix=str(docs.get("fix", "")).strip().split("\n\n")[0],
                               family=family_of(finding.rule, rule)))
    return out


def describe_waiver(finding, waiver=None) -> str:
    """What silences a finding, in words: "waived until 2026-12-10 by Alice: reason" (who, until when, why)."""
    if waiver is not None and (waiver.source in ("label", "engine") or (waiver.reason or "").startswith("label ")):
        label = (waiver.reason or "").removeprefix("label ") or "a waiver label"
        return f"waived by the label {label} on this issue (remove it to bring the check back)"
    if waiver is None:
        reason = finding.waiver_reason or ""
        if reason.startswith("label "):
            return f"waived by the label {reason.removeprefix('label ')} on this issue (remove it to bring the check back)"
        return f"waived: {reason}" if reason else "waived"
    text = "waived"
    if waiver.until:
        text += f" until {waiver.until.isoformat()}"
    if waiver.by:
        text += f" by {waiver.by}"
    return text + (f": {waiver.reason}" if waiver.reason else "")


INTRO = ("govbot (an automated check that our work says why it matters) found something worth a look "
         "on this issue:")
WAIVED_INTRO = "Nothing to fix on this issue for now: govbot's remaining checks here are waived."
RESOLVED_TEXT = "All govbot checks on this issue pass now. Thank you for the update!"
FOOTER = ("This comment is updated in place by govbot; it will not post again. Not applicable? Add the "
          "label {label} to this issue.")
FOOTER_PLAIN = "This comment is updated in place by govbot; it will not post again."


def _questions(items: list[CommentItem]) -> list[str]:
    return questions_for(item.family or family_of(item.rule) for item in items)


def wiki_body(items: list[CommentItem], *, resolved: bool, label_prefix: str,
              waived: list[WaivedItem] | None = None, fixed: list[FixedItem] | None = None) -> str:
    waived, fixed = waived or [], fixed or []
    if resolved:
        lines = [f"(/) {RESOLVED_TEXT}"]
    elif items:
        lines = [INTRO, ""]
    else:
        lines = [WAIVED_INTRO, ""]
    for item in items:
        line = f"* *{wiki_escape(item.title)}*: {wiki_escape(item.message)}"
        if item.fix:
            line += f" _How to fix:_ {wiki_escape(item.fix)}"
        lines.append(line)
    if waived:
        lines += ["", "Waived:"] if items else []
        lines += [f"* *{wiki_escape(item.title)}*: {wiki_escape(item.waiver)}" for item in waived]
    if fixed:
        lines += ["", "Fixed:"] + [f"* (/) *{wiki_escape(item.title)}*" for item in fixed]
    questions = _questions(items)
    if questions:
        lines += ["", "Questions that help: _" + wiki_escape(" ".join(questions)) + "_"]
    lines.append("")
    if items:
        labels = ", ".join("{{" + wiki_escape(label_prefix + item.rule).replace("\\-", "-") + "}}" for item in items)
        lines.append(FOOTER.format(label=labels) + f" _{MARKER}_")
    else:
        lines.append(f"_{MARKER}_" if resolved and not (waived or fixed) else f"{FOOTER_PLAIN} _{MARKER}_")
    return "\n".join(lines)


def _text(text: str, *marks: str) -> dict:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = [{"type": mark} for mark in marks]
    return node


def _paragraph(*nodes: dict) -> dict:
    return {"type": "paragraph", "content": [node for node in nodes if node.get("text")]}


def _bullets(rows: list[list[dict]]) -> dict:
    return {"type": "bulletList", "content": [{"type": "listItem", "content": [_paragraph(*row)]} for row in rows]}


def adf_body(items: list[CommentItem], *, resolved: bool, label_prefix: str,
             waived: list[WaivedItem] | None = None, fixed: list[FixedItem] | None = None) -> dict:
    waived, fixed = waived or [], fixed or []
    if resolved:
        content = [_paragraph(_text("✅ " + RESOLVED_TEXT))]
    else:
        content = [_paragraph(_text(INTRO if items else WAIVED_INTRO))]
    rows = []
    for item in items:
        nodes = [_text(_one_line(item.title), "strong"), _text(": " + _one_line(item.message))]
        if item.fix:
            nodes += [_text(" How to fix: ", "em"), _text(_one_line(item.fix))]
        rows.append(nodes)
    if rows:
        content.append(_bullets(rows))
    if waived:
        if items:
            content.append(_paragraph(_text("Waived:", "strong")))
        content.append(_bullets([[_text(_one_line(item.title), "strong"), _text(": " + _one_line(item.waiver))]
                                 for item in waived]))
    if fixed:
        content.append(_paragraph(_text("Fixed:", "strong")))
        content.append(_bullets([[_text("✅ "), _text(_one_line(item.title), "strong")] for item in fixed]))
    questions = _questions(items)
    if questions:
        content.append(_paragraph(_text("Questions that help: "), _text(" ".join(questions), "em")))
    if items:
        labels = ", ".join(label_prefix + item.rule for item in items)
        content.append(_paragraph(_text(FOOTER.format(label=labels) + " "), _text(MARKER, "em")))
    elif resolved and not (waived or fixed):
        content.append(_paragraph(_text(MARKER, "em")))
    else:
        content.append(_paragraph(_text(FOOTER_PLAIN + " "), _text(MARKER, "em")))
    return {"type": "doc", "version": 1, "content": content}


def _by_rule(findings) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.rule] = counts.get(finding.rule, 0) + 1
    return counts


def _one_line(text: Any) -> str:
    # ADF text nodes carry no markup, but ESC, BEL and bidi controls would still reach Jira as typed.
    return re.sub(r"\s+", " ", strip_controls(text or "")).strip()


def content_hash(fingerprints: list[str], state: str, extra: list[str] | None = None) -> str:
    """What the comment says, in a hash: its state, the open findings, and what is waived or fixed."""
    parts = [state, *sorted(fingerprints)]
    if extra:
        parts += ["--", *sorted(extra)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


# -- planning --------------------------------------------------------------------------------------

WAIVED = "waived"


def plan_comments(result, store, config, now: datetime, *, waivers=None, unread=()) -> list[Outgoing]:
    """One upsert per issue whose opted-in findings changed since the bot last wrote.

    The comment says what happened to each opted-in check on the issue: still
    open (with how to fix it), waived (until when, by whom, why), or fixed. A
    waived finding never makes the comment say the checks pass. ``waivers``: the
    run's ``WaiverReport``, for who waived what until when. ``unread``: the open
    findings (from the store) of issues this run did not read, so a comment an
    earlier run planned but never queued (held by the breaker, say) is written
    now, not only once the issue changes; an unread issue is never called fixed.
    """
    rules = {rule.id: rule for rule in getattr(result.ruleset, "rules", [])}
    # Site-setup rules (audience: admin) are never commented on an issue, whatever they say.
    opted = {rule_id for rule_id, rule in rules.items() if getattr(rule, "comment", False)
             and getattr(rule, "audience", "owner") != "admin"}
    label_prefix = config.settings.waivers.label_prefix
    if not opted or not config.settings.comments.enabled:
        return []
    evaluated = {rule.id for rule in getattr(result.ruleset, "active", rules.values())}
    chosen = {id(finding): waiver for finding, waiver in (waivers.applied if waivers is not None else [])}
    open_by_issue: dict[str, list] = defaultdict(list)
    waived_by_issue: dict[str, list] = defaultdict(list)
    seen: set[str] = set()
    for finding in [*result.findings, *unread]:
        if finding.rule not in opted or finding.fingerprint in seen:
            continue
        seen.add(finding.fingerprint)
        (waived_by_issue if finding.waived else open_by_issue)[finding.issue].append(finding)
    read = set(result.workspace.issues)
    states = store.comment_states()
    fixed_by_issue: dict[str, list[FixedItem]] = defaultdict(list)
    if states:
        for state in store.finding_states().values():
            if state.issue in states and state.rule in opted and not state.open:
                fixed_by_issue[state.issue].append(FixedItem(state.rule, state.title or state.rule))
    outgoing = []
    for issue in sorted(set(open_by_issue) | set(waived_by_issue)):
        found = open_by_issue.get(issue, [])
        state = states.get(issue)
        if not found and (state is None or issue not in read):
            continue  # only waived, and the bot never commented here: nothing to say
        if not found and opted - evaluated:
            continue  # a --rule subset: other opted-in checks may still be open
        waived = sorted((WaivedItem(f.rule, f.title or getattr(rules.get(f.rule), "title", f.rule),
                                    describe_waiver(f, chosen.get(id(f)))) for f in waived_by_issue.get(issue, [])),
                        key=lambda item: item.rule)
        fixed = sorted(fixed_by_issue.get(issue, []), key=lambda item: item.rule) if state is not None else []
        kind = "open" if found else WAIVED
        extra = [f"waived:{item.rule}:{item.waiver}" for item in waived] + [f"fixed:{item.rule}" for item in fixed]
        digest = content_hash([f.fingerprint for f in found], kind, extra)
        if state is not None and state.content_hash == digest:
            continue
        items = _items(found, rules)
        payload = {"issue": issue, "state": kind,
                   "wiki": wiki_body(items, resolved=False, label_prefix=label_prefix, waived=waived, fixed=fixed),
                   "adf": adf_body(items, resolved=False, label_prefix=label_prefix, waived=waived, fixed=fixed)}
        revision = (state.revision if state else 0) + 1
        label = f"Jira comment on {issue}" + (" (all waived)" if not found else "")
        outgoing.append(Outgoing(kind="jira_comment", recipient=issue,
                                 dedupe_key=f"jira_comment:{issue}:{revision}:{digest}", payload=payload,
                                 fingerprints=[f.fingerprint for f in found], label=label,
                                 comment=(issue, digest, kind), by_rule=_by_rule(found),
                                 rules={f.fingerprint: f.rule for f in found}))
    # Issues the bot commented on whose opted-in findings are all gone (none open, none waived): say so, once.
    for issue, state in sorted(states.items()):
        if state.state == RESOLVED or issue in open_by_issue or issue in waived_by_issue or issue not in read:
            continue
        if not lifecycle.is_active(result.workspace.issues[issue], now, getattr(config, "history_days", None)):
            continue  # closed outside the active-work window: left as it is, not called fixed
        if opted - evaluated:
            continue  # a --rule subset: we cannot tell the others are fixed
        fixed = sorted(fixed_by_issue.get(issue, []), key=lambda item: item.rule)
        digest = content_hash([], RESOLVED, [f"fixed:{item.rule}" for item in fixed])
        if state.content_hash == digest:
            continue
        payload = {"issue": issue, "state": RESOLVED,
                   "wiki": wiki_body([], resolved=True, label_prefix=label_prefix, fixed=fixed),
                   "adf": adf_body([], resolved=True, label_prefix=label_prefix, fixed=fixed)}
        outgoing.append(Outgoing(kind="jira_comment", recipient=issue,
                                 dedupe_key=f"jira_comment:{issue}:{state.revision + 1}:{digest}",
                                 payload=payload, fingerprints=[], label=f"Jira comment on {issue} (all fixed)",
                                 comment=(issue, digest, RESOLVED)))
    return outgoing


# -- Jira client -------------------------------------------------------------------------------------

class JiraCommentError(DeliveryError):
    """A comment call failed for this issue only: recorded as failed, the run goes on."""


class JiraUnavailable(JiraCommentError):
    """Jira is down or busy after the transport's retries: the comment stays queued."""

    retryable = True


class JiraInDoubt(JiraCommentError):
    """A new comment may or may not have been created: never re-posted blindly.

    The next flush looks for the bot's own comment before posting again.
    """

    retryable = True
    in_doubt = True


class JiraAuthError(JiraCommentError):
    """The credentials or settings are wrong: every further call would fail too, so the run stops."""

    fatal = True


UPDATED, GONE, REFUSED = "updated", "gone", "refused"


class JiraCommentClient:
    """The comment calls, over the live source's connection, transport and Cloud/Data Center detection.

    Reads and edits (GET, PUT) are retried by the source's ``Transport``
    (Retry-After in both forms, backoff with jitter, bounded attempts, errors
    that name the host, never a secret). Creating a comment (POST) is sent
    once: an answer that never came, or a server error, may still have created
    it, so it is reported as in doubt and settled by looking for the bot's own
    comment first - never by posting again blindly.
    """

    def __init__(self, source: JiraSource):
        self.source = source
        self.transport = source.transport
        self._send_once = Transport(self.transport.session, self.transport.base_url,
                                    timeout=self.transport.timeout,
                                    policy=dataclasses.replace(self.transport.policy, max_retries=0),
                                    sleep=self.transport.sleep, clock=self.transport.clock, rng=self.transport.rng)
        self._identity: set[tuple[str, str]] | None = None

    @classmethod
    def from_config(cls, config, **source_options) -> "JiraCommentClient":
        """Same URL, credentials and session as the live source (JIRA_URL, JIRA_EMAIL + JIRA_API_TOKEN or JIRA_PAT)."""
        return cls(JiraSource.from_config(config, **source_options))

    @property
    def cloud(self) -> bool:
        """Cloud (REST v3, ADF bodies) or Data Center (REST v2, wiki markup), as the source decides."""
        return self._guard(lambda: self.source.is_cloud, idempotent=True)

    @property
    def version(self) -> str:
        return "3" if self.cloud else "2"

    def _path(self, issue: str, *rest: str) -> str:
        parts = [quote(str(part), safe="") for part in (issue, "comment", *rest)]
        return f"/rest/api/{self.version}/issue/" + "/".join(parts)

    def _guard(self, call: Callable[[], Any], *, idempotent: bool) -> Any:
        """Run one request, sorting the transport's errors into what the outbox needs to know."""
        try:
            return call()
        except JiraHTTPError as error:
            if error.status == 401 or "CAPTCHA" in error.message:
                raise JiraAuthError(f"http_{error.status}", error.message) from None
            raise JiraCommentError(f"http_{error.status}", error.message) from None
        except NetworkError as error:
            if idempotent:
                raise JiraUnavailable("unreachable", error.message) from None
            raise JiraInDoubt("no_answer", f"{error.message}; the comment may or may not have been created") \
                from None
        except GovbotError as error:  # a URL that is not http(s), a login page instead of JSON
            raise JiraAuthError("setup", error.message) from None

    def identity(self) -> set[tuple[str, str]]:
        """Who govbot is signed in as: accountId on Cloud, name and key on Data Center (asked once)."""
        if self._identity is None:
            me = self._guard(lambda: self.transport.get(f"/rest/api/{self.version}/myself",
                                                        what="reading govbot's own Jira user"),
                             idempotent=True)
            self._identity = _identity(me)
            if not self._identity:
                raise JiraAuthError("myself", "Jira did not say which user govbot is signed in as")
        return self._identity

    def is_own(self, comment: dict) -> bool:
        """A comment the bot wrote: its author is govbot's own user and it carries the marker.

        The marker alone is not enough: a person quoting the bot's comment copies it too.
        """
        author = comment.get("author") if isinstance(comment, dict) else None
        return bool(_identity(author) & self.identity()) and has_marker(comment.get("body"))

    def comments(self, issue: str) -> list[dict]:
        found: list[dict] = []
        start = 0
        while True:
            data = self._guard(lambda: self.transport.get(self._path(issue), {"startAt": start, "maxResults": 100},
                                                          what=f"reading the comments on {issue}"),
                               idempotent=True)
            page = [comment for comment in (data.get("comments") or []) if isinstance(comment, dict)] \
                if isinstance(data, dict) else []
            found.extend(page)
            start += len(page)
            total = data.get("total") if isinstance(data, dict) else None
            if not page or total is None or start >= int(total):
                return found

    def create(self, issue: str, body: Any) -> str:
        """Post a new comment, once; returns its id."""
        data = self._guard(lambda: self._send_once.post(self._path(issue), {"body": body},
                                                        what=f"commenting on {issue}"),
                           idempotent=False)
        comment_id = data.get("id") if isinstance(data, dict) else None
        if not comment_id:
            raise JiraInDoubt("no_id", f"Jira answered the new comment on {issue} without its id")
        return str(comment_id)

    def update(self, issue: str, comment_id: str, body: Any) -> str:
        """UPDATED; GONE when the comment was deleted; REFUSED when Jira will not let govbot edit it (403)."""
        try:
            self._guard(lambda: self.transport.request("PUT", self._path(issue, comment_id), body={"body": body},
                                                       what=f"updating govbot's comment on {issue}"),
                        idempotent=True)
        except JiraCommentError as error:
            if error.fatal:
                raise  # credentials (401, a CAPTCHA to answer): not about this comment
            if error.code == "http_404":
                return GONE
            if error.code == "http_403":
                return REFUSED
            raise
        return UPDATED


def _identity(user: Any) -> set[tuple[str, str]]:
    if not isinstance(user, dict):
        return set()
    return {(field, str(user[field])) for field in ("accountId", "key", "name") if user.get(field)}


def has_marker(body: Any) -> bool:
    """Whether a comment body (wiki string or ADF document) carries the bot's marker."""
    if isinstance(body, str):
        return MARKER in body
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "text" and MARKER in str(node.get("text", "")):
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


class CommentWriter:
    """Sends one queued comment entry: edit the bot's own comment on the issue, or create it if there is none."""

    def __init__(self, client: JiraCommentClient, store):
        self.client = client
        self.store = store

    def send(self, entry, now: datetime) -> str:
        issue = entry.recipient
        body = entry.payload["adf"] if self.client.cloud else entry.payload["wiki"]
        state = self.store.comment_state(issue)
        tracked = state.comment_id if state else None
        # Only comments govbot's own user wrote: a person quoting the bot's comment carries the
        # marker too, and is never edited. The one written last time first, then the oldest.
        own = sorted((c for c in self.client.comments(issue) if self.client.is_own(c)),
                     key=lambda comment: str(comment.get("id")) != tracked)
        refused = []
        for comment in own:
            comment_id = str(comment.get("id"))
            outcome = self.client.update(issue, comment_id, body)
            if outcome == UPDATED:
                self.store.comment_written(issue, comment_id, now)
                return comment_id
            if outcome == REFUSED:
                refused.append(comment_id)
            # GONE: deleted since it was listed; try the next one.
        if refused:
            # Jira will not let govbot edit its own comment here (no "Edit Own Comments"
            # permission, a locked issue...). Posting another would be a second bot comment.
            raise JiraCommentError("http_403", f"Jira refused to edit govbot's comment {refused[0]} on {issue}; "
                                               "not posting a second one (the govbot user needs the "
                                               "'Edit Own Comments' permission in this project)")
        comment_id = self.client.create(issue, body)
        self.store.comment_written(issue, comment_id, now)
        return comment_id
