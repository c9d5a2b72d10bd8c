"""Jira comments, opt-in per rule (``comment: true``): one bot comment per issue.

The comment lists the issue's open findings from opted-in rules, is updated in
place as they change, and says "all fixed" once they are. There is never a
second comment: the bot finds its own by a marker in the body (and remembers
the id in the store). Bodies are wiki markup on Data Center (REST v2, with
every Jira-sourced string escaped) and ADF on Cloud (REST v3, where text nodes
cannot carry markup at all).

"What changed" is decided from the findings the bot wants to show (a content
hash kept in the store), never from the comment's current text or the issue's
``updated`` time - so the bot's own edits, and Jira's re-rendering of them,
never trigger another edit.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from bot.deliver.policy import Outgoing

MARKER = "govbot:findings-comment"
RESOLVED = "resolved"
# Always special in wiki markup; "-" and "?" only in "-strike-" and "??citation??" positions.
_WIKI_SPECIAL = re.compile(r"([\\*_+^~{}\[\]|!#])|(?<!\w)-|-(?!\w)|\?(?=\?)|(?<=\?)\?")


# -- rendering -------------------------------------------------------------------------------------

def wiki_escape(text: Any) -> str:
    """Jira wiki markup with no markup left in it: one line, every special character escaped."""
    flat = re.sub(r"\s+", " ", str(text or "")).strip()
    return _WIKI_SPECIAL.sub(lambda match: "\\" + match.group(0), flat)


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return str(url).replace("|", "%7C").replace("]", "%5D").replace("[", "%5B").replace(" ", "%20")


@dataclass
class CommentItem:
    rule: str
    title: str
    message: str
    fix: str
    url: str | None = None


def _items(findings, rules) -> list[CommentItem]:
    out = []
    for finding in sorted(findings, key=lambda f: (-f.severity.rank, f.rule)):
        rule = rules.get(finding.rule)
        docs = getattr(rule, "docs", None) or {}
        out.append(CommentItem(rule=finding.rule, title=finding.title or getattr(rule, "title", finding.rule),
                               message=finding.message, fix=str(docs.get("fix", "")).strip().split("\n\n")[0],
                               url=finding.url))
    return out


INTRO = ("govbot (an automated check that our work says why it matters) found something worth a look "
         "on this issue:")
RESOLVED_TEXT = "All govbot checks on this issue pass now. Thank you for the update!"
FOOTER = ("This comment is updated in place by govbot; it will not post again. Not applicable? Add the "
          "label {label} to this issue.")


def wiki_body(items: list[CommentItem], *, resolved: bool, label_prefix: str) -> str:
    if resolved:
        return f"(/) {RESOLVED_TEXT}\n\n_{MARKER}_"
    lines = [INTRO, ""]
    for item in items:
        line = f"* *{wiki_escape(item.title)}*: {wiki_escape(item.message)}"
        if item.fix:
            line += f" _How to fix:_ {wiki_escape(item.fix)}"
        lines.append(line)
    lines.append("")
    lines.append("Questions that help: _What are we hoping to achieve? How will it affect the customer, the "
                 "business or the platform?_")
    labels = ", ".join("{{" + wiki_escape(label_prefix + item.rule).replace("\\-", "-") + "}}" for item in items)
    lines.append("")
    lines.append(FOOTER.format(label=labels) + f" _{MARKER}_")
    return "\n".join(lines)


def _text(text: str, *marks: str) -> dict:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = [{"type": mark} for mark in marks]
    return node


def _paragraph(*nodes: dict) -> dict:
    return {"type": "paragraph", "content": [node for node in nodes if node.get("text")]}


def adf_body(items: list[CommentItem], *, resolved: bool, label_prefix: str) -> dict:
    if resolved:
        content = [_paragraph(_text("✅ " + RESOLVED_TEXT)), _paragraph(_text(MARKER, "em"))]
        return {"type": "doc", "version": 1, "content": content}
    bullets = []
    for item in items:
        nodes = [_text(_one_line(item.title), "strong"), _text(": " + _one_line(item.message))]
        if item.fix:
            nodes += [_text(" How to fix: ", "em"), _text(_one_line(item.fix))]
        bullets.append({"type": "listItem", "content": [_paragraph(*nodes)]})
    labels = ", ".join(label_prefix + item.rule for item in items)
    content = [
        _paragraph(_text(INTRO)),
        {"type": "bulletList", "content": bullets},
        _paragraph(_text("Questions that help: "), _text("What are we hoping to achieve? How will it affect the "
                                                          "customer, the business or the platform?", "em")),
        _paragraph(_text(FOOTER.format(label=labels) + " "), _text(MARKER, "em")),
    ]
    return {"type": "doc", "version": 1, "content": content}


def _one_line(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()


def content_hash(fingerprints: list[str], state: str) -> str:
    return hashlib.sha256("\x1f".join([state, *sorted(fingerprints)]).encode()).hexdigest()[:32]


# -- planning --------------------------------------------------------------------------------------

def plan_comments(result, store, config, now: datetime) -> list[Outgoing]:
    """One upsert per issue whose opted-in findings changed since the bot last wrote."""
    rules = {rule.id: rule for rule in getattr(result.ruleset, "rules", [])}
    opted = {rule_id for rule_id, rule in rules.items() if getattr(rule, "comment", False)}
    label_prefix = str((config.section("waivers") or {}).get("label_prefix") or "govbot-waive-")
    if not opted or not (config.section("comments") or {}).get("enabled", True):
        return []
    evaluated = {rule.id for rule in getattr(result.ruleset, "active", rules.values())}
    per_issue: dict[str, list] = defaultdict(list)
    seen: set[str] = set()
    for finding in result.findings:
        if finding.rule in opted and not finding.waived and finding.fingerprint not in seen:
            seen.add(finding.fingerprint)
            per_issue[finding.issue].append(finding)
    read = set(result.workspace.issues)
    states = store.comment_states()
    outgoing = []
    for issue, found in sorted(per_issue.items()):
        fingerprints = [f.fingerprint for f in found]
        digest = content_hash(fingerprints, "open")
        state = states.get(issue)
        if state is not None and state.content_hash == digest:
            continue
        items = _items(found, rules)
        payload = {"issue": issue, "state": "open",
                   "wiki": wiki_body(items, resolved=False, label_prefix=label_prefix),
                   "adf": adf_body(items, resolved=False, label_prefix=label_prefix)}
        revision = (state.revision if state else 0) + 1
        outgoing.append(Outgoing(kind="jira_comment", recipient=issue,
                                 dedupe_key=f"jira_comment:{issue}:{revision}:{digest}", payload=payload,
                                 fingerprints=fingerprints, label=f"Jira comment on {issue}",
                                 comment=(issue, digest, "open"),
                                 by_rule={f.rule: 1 for f in found}))
    # Issues the bot commented on whose opted-in findings are all gone: say so, once.
    for issue, state in sorted(states.items()):
        if state.state != "open" or issue in per_issue or issue not in read:
            continue
        if opted - evaluated:
            continue  # a --rule subset: we cannot tell the others are fixed
        digest = content_hash([], RESOLVED)
        payload = {"issue": issue, "state": RESOLVED,
                   "wiki": wiki_body([], resolved=True, label_prefix=label_prefix),
                   "adf": adf_body([], resolved=True, label_prefix=label_prefix)}
        outgoing.append(Outgoing(kind="jira_comment", recipient=issue,
                                 dedupe_key=f"jira_comment:{issue}:{state.revision + 1}:{digest}",
                                 payload=payload, fingerprints=[], label=f"Jira comment on {issue} (all fixed)",
                                 comment=(issue, digest, RESOLVED)))
    return outgoing


# -- Jira client -------------------------------------------------------------------------------------

class JiraCommentError(Exception):
    retryable = False
    in_doubt = False
    fatal = False

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}{': ' + detail if detail else ''}")
        self.code = code


class JiraUnavailable(JiraCommentError):
    retryable = True


class JiraAuthError(JiraCommentError):
    fatal = True


def is_cloud(config, base_url: str) -> bool:
    deployment = (config.section("jira") or {}).get("deployment", "auto")
    if deployment in ("cloud", "datacenter"):
        return deployment == "cloud"
    host = (urlsplit(base_url).hostname or "").casefold()
    return host.endswith((".atlassian.net", ".jira.com", ".jira-dev.com"))


class JiraCommentClient:
    """The four comment calls, with Jira's 429 Retry-After honoured."""

    def __init__(self, base_url: str, *, cloud: bool | None, session: requests.Session | None = None,
                 timeout: float = 30, max_retries: int = 4, sleep: Callable[[float], None] = time.sleep):
        """``cloud=None``: ask the site (``serverInfo.deploymentType``) on first use."""
        self.base_url = base_url.rstrip("/")
        self._cloud = cloud
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_retries = max_retries
        self.sleep = sleep

    @classmethod
    def from_config(cls, config, **overrides) -> "JiraCommentClient":
        """Same URL and credentials as the live source (JIRA_URL, JIRA_EMAIL + JIRA_API_TOKEN or JIRA_PAT)."""
        from bot import __version__
        from bot.sources.jira import Connection

        connection = Connection.from_config(config)
        session = requests.Session()
        session.headers.update({"Accept": "application/json", "User-Agent": f"govbot/{__version__}"})
        if connection.auth == "basic":
            session.auth = (connection.email or "", connection.token)
        else:
            session.headers["Authorization"] = f"Bearer {connection.token}"
        if connection.deployment in ("cloud", "datacenter"):
            cloud: bool | None = connection.deployment == "cloud"
        else:
            cloud = True if is_cloud(config, connection.url) else None  # None: ask serverInfo
        settings = {"timeout": connection.timeout, "max_retries": connection.max_retries}
        settings.update(overrides)
        return cls(connection.url, cloud=cloud, session=session, **settings)

    @property
    def cloud(self) -> bool:
        """Cloud (REST v3, ADF bodies) or Data Center (REST v2, wiki markup)."""
        if self._cloud is None:
            kind = ""
            try:
                response = self.session.get(f"{self.base_url}/rest/api/2/serverInfo", timeout=self.timeout)
                if response.status_code == 200:
                    kind = str(response.json().get("deploymentType") or "").casefold()
            except (requests.RequestException, ValueError):
                raise JiraUnavailable("unreachable", "cannot read serverInfo to tell Cloud from Data Center") \
                    from None
            self._cloud = kind == "cloud"
        return self._cloud

    @property
    def version(self) -> str:
        return "3" if self.cloud else "2"

    def _url(self, path: str) -> str:
        return f"{self.base_url}/rest/api/{self.version}/{path.lstrip('/')}"

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(method, self._url(path), timeout=self.timeout, **kwargs)
            except requests.RequestException as error:
                if attempt > self.max_retries or method not in ("GET", "PUT"):
                    raise JiraUnavailable("unreachable", str(error)) from None
                self.sleep(min(2 ** attempt, 30))
                continue
            if response.status_code == 429 or response.status_code in (502, 503, 504):
                if attempt > self.max_retries:
                    raise JiraUnavailable(f"http_{response.status_code}", "Jira is busy or down")
                wait = response.headers.get("Retry-After")
                try:
                    delay = float(wait) if wait is not None else min(2 ** attempt, 30)
                except ValueError:
                    delay = min(2 ** attempt, 30)
                self.sleep(min(delay, 120))
                continue
            if response.status_code in (401, 403):
                raise JiraAuthError(f"http_{response.status_code}",
                                    "Jira refused the credentials or the permission to comment")
            return response

    def comments(self, issue: str) -> list[dict]:
        found: list[dict] = []
        start = 0
        while True:
            response = self._request("GET", f"issue/{issue}/comment", params={"startAt": start, "maxResults": 100})
            if response.status_code == 404:
                raise JiraCommentError("issue_not_found", f"{issue} does not exist or is not visible")
            if response.status_code >= 400:
                raise JiraCommentError(f"http_{response.status_code}", response.text[:200])
            data = response.json()
            page = data.get("comments") or []
            found.extend(page)
            start += len(page)
            total = data.get("total")
            if not page or total is None or start >= int(total):
                return found

    def create(self, issue: str, body: Any) -> str:
        response = self._request("POST", f"issue/{issue}/comment", json={"body": body})
        if response.status_code >= 400:
            raise JiraCommentError(f"http_{response.status_code}", response.text[:200])
        return str(response.json().get("id"))

    def update(self, issue: str, comment_id: str, body: Any) -> bool:
        """False when the comment no longer exists (deleted by a person)."""
        response = self._request("PUT", f"issue/{issue}/comment/{comment_id}", json={"body": body})
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            raise JiraCommentError(f"http_{response.status_code}", response.text[:200])
        return True


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
    """Sends one queued comment entry: update the bot's comment, or create it if there is none."""

    def __init__(self, client: JiraCommentClient, store):
        self.client = client
        self.store = store

    def send(self, entry, now: datetime) -> str:
        issue = entry.recipient
        body = entry.payload["adf"] if self.client.cloud else entry.payload["wiki"]
        state = self.store.comment_state(issue)
        if state is not None and state.comment_id and self.client.update(issue, state.comment_id, body):
            self.store.comment_written(issue, state.comment_id, now)
            return state.comment_id
        for comment in self.client.comments(issue):
            if has_marker(comment.get("body")):
                comment_id = str(comment.get("id"))
                if self.client.update(issue, comment_id, body):
                    self.store.comment_written(issue, comment_id, now)
                    return comment_id
        comment_id = self.client.create(issue, body)
        self.store.comment_written(issue, comment_id, now)
        return comment_id
