"""A loopback fake of the Slack Web API, for tests of anything that talks to Slack.

slack-sdk's WebClient uses urllib, so ``responses`` cannot intercept it; point
``WebClient(base_url=fake.api_url)`` (or ``SLACK_API_URL``) at this server
instead. It speaks the real paths (``/api/chat.postMessage``...), accepts
query strings, form bodies and JSON bodies like Slack does, answers with
``{"ok": ...}`` bodies, and records every call.

Like Slack, it checks the token's scopes (``scopes``; every answer carries them
in ``X-OAuth-Scopes``) and answers ``missing_scope`` with ``needed`` and
``provided`` when one is missing; posts to a user id or a ``#name`` land in a
conversation with its own id (``D...``, ``C...``), which the answer returns and
``conversations.history`` (ids only, newest first, paged by ``limit`` and
``cursor``) needs; message ``metadata`` is validated and returned by history
only with ``include_all_metadata``. Drop the ``*:history`` scopes
(``without_history()``) to be a site whose app was installed without them.

Fault injection: ``fail(method, ...)`` queues error answers (HTTP 429 with
``Retry-After``, HTTP 5xx, or ``ok: false`` with an error code);
``hold(method, nth)`` records the nth call, then keeps its answer back until
``release()`` (to kill a client mid-request). ``unsupported`` lists methods
answered with ``unknown_method``.

Usage::

    with FakeSlack(users={"alice@example.com": "U0ALICE"}) as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        ...
        assert slack.posts()[0]["channel"] == "D0ALICE"
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
# What govbot's app manifest asks for (deploy/slack-app-manifest.yaml).
DEFAULT_SCOPES = frozenset({"chat:write", "im:write", "users:read", "users:read.email", "commands",
                            "im:history", "channels:history", "groups:history"})
HISTORY_SCOPES = ("im:history", "channels:history", "groups:history")
# The scope each method needs (conversations.history: by kind of conversation, below).
METHOD_SCOPES = {"chat.postMessage": "chat:write", "chat.update": "chat:write", "conversations.open": "im:write",
                 "users.lookupByEmail": "users:read.email", "users.info": "users:read",
                 "chat.postEphemeral": "chat:write"}
# Methods called with the app-level token (xapp-), not the bot token.
APP_TOKEN_METHODS = {"apps.connections.open"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    http_method: str
    content_type: str


@dataclass
class _Fault:
    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    echo_auth: bool = False  # the error string repeats the request's Authorization header (a bad proxy)


@dataclass
class FakeSlack:
    token: str = "xoxb-test-token"
    users: dict[str, str] = field(default_factory=dict)          # email -> Slack user id
    unsupported: set[str] = field(default_factory=set)            # methods answered unknown_method
    channels: dict[str, str] = field(default_factory=dict)        # channel name (#x) -> id
    scopes: set[str] = field(default_factory=lambda: set(DEFAULT_SCOPES))
    private: set[str] = field(default_factory=set)                # channel names that are private (G... ids)
    app_token: str = "xapp-test-token"
    socket_url: str | None = None    # what apps.connections.open answers (a loopback Socket Mode server)

    def __post_init__(self):
        self.calls: list[Call] = []
        self.messages: list[dict[str, Any]] = []   # accepted chat.postMessage payloads (+ ts)
        self.ephemerals: list[dict[str, Any]] = []  # accepted chat.postEphemeral payloads
        self.views: list[dict[str, Any]] = []       # views opened (views.open)
        self._faults: dict[str, list[_Fault]] = {}
        self._holds: dict[str, int] = {}
        self._held = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._ts = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "FakeSlack":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                fake._handle(self)

            def do_POST(self):  # noqa: N802
                fake._handle(self)

            def log_message(self, *args):  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeSlack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    # -- fault injection -----------------------------------------------------------------------------
    def fail(self, method: str, *, status: int = 200, error: str | None = None,
             retry_after: float | None = None, times: int = 1, echo_auth: bool = False) -> None:
        """The next ``times`` calls to ``method`` fail this way (429 needs no error code).

        ``echo_auth``: the error string echoes the request's Authorization header, as a
        misconfigured proxy or a debugging gateway does; govbot must never repeat it."""
        with self._lock:
            self._faults.setdefault(method, []).extend(
                _Fault(status, error, retry_after, echo_auth) for _ in range(times))

    def clear_faults(self) -> None:
        """Slack is healthy again."""
        with self._lock:
            self._faults.clear()

    def hold(self, method: str, nth: int = 1) -> None:
        """Record the nth call to ``method`` (as delivered) but hold its answer until ``release()``."""
        self._holds[method] = nth
        self._held.clear()
        self._released.clear()

    def wait_held(self, timeout: float = 10) -> bool:
        return self._held.wait(timeout)

    def release(self) -> None:
        self._released.set()

    def without_history(self) -> "FakeSlack":
        """The app was installed without the history scopes: conversations.history answers missing_scope."""
        self.scopes.difference_update(HISTORY_SCOPES)
        return self

    # -- inspection -----------------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def posts(self) -> list[dict[str, Any]]:
        return list(self.messages)

    def dm_user(self, channel: str) -> str | None:
        """The user a DM channel id (from conversations.open) belongs to."""
        if channel.startswith("D"):
            return "U" + channel[1:]
        if channel.startswith(("U", "W")):
            return channel
        return None

    def posts_to_user(self, user_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if self.dm_user(m["channel"]) == user_id]

    def conversation_id(self, channel: str) -> str:
        """The id of the conversation a post to ``channel`` lands in (as Slack would give it)."""
        if channel.startswith("U") or channel.startswith("W"):
            return "D" + channel[1:]
        if channel[:1] in ("C", "D", "G") and channel[1:].isalnum() and channel.upper() == channel:
            return channel
        name = channel.lstrip("#")
        if channel in self.channels:
            return self.channels[channel]
        prefix = "G" if channel in self.private or name in self.private else "C"
        return prefix + "".join(ch for ch in name.upper() if ch.isalnum())[:10].ljust(4, "X")

    # -- the API ---------------------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        if not parts.path.startswith("/api/"):
            self._reply(request, 404, {"ok": False, "error": "not_found"})
            return
        method = parts.path[len("/api/"):]
        params: dict[str, Any] = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        content_type = request.headers.get("Content-Type", "")
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if body:
            if "application/json" in content_type:
                try:
                    params.update(json.loads(body.decode("utf-8")))
                except ValueError:
                    self._reply(request, 200, {"ok": False, "error": "invalid_json"})
                    return
            else:
                params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8")).items()})
        authorization = request.headers.get("Authorization", "")
        token = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else params.pop("token", None)
        with self._lock:
            self.calls.append(Call(method, params, token, time.time(), request.command, content_type))
            faults = self._faults.get(method) or []
            fault = faults.pop(0) if faults else None
            ordinal = len(self.calls_to(method))
        if fault is not None:
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            error = fault.error or ("ratelimited" if fault.status == 429 else "internal_error")
            if fault.echo_auth:
                error = f"{error} (request had Authorization: {authorization}; token={token})"
            body_out = {"ok": False, "error": error}
            self._reply(request, fault.status, body_out, headers)
            return
        expected = self.app_token if method in APP_TOKEN_METHODS else self.token
        if token != expected:
            self._reply(request, 200, {"ok": False, "error": "invalid_auth" if token else "not_authed"})
            return
        if method in self.unsupported:
            self._reply(request, 200, {"ok": False, "error": "unknown_method"})
            return
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            self._reply(request, 200, {"ok": False, "error": "unknown_method"})
            return
        needed = self._needed(method, params)
        if needed and needed not in self.scopes:
            self._reply(request, 200, {"ok": False, "error": "missing_scope", "needed": needed,
                                       "provided": ",".join(sorted(self.scopes))}, self._scope_headers())
            return
        with self._lock:
            answer = handler(params)
        if self._holds.get(method) == ordinal:
            self._held.set()
            self._released.wait(30)
        self._reply(request, 200, answer, self._scope_headers())

    def _needed(self, method: str, params: dict) -> str | None:
        if method == "conversations.history":
            channel = str(params.get("channel") or "")
            return {"D": "im:history", "G": "groups:history"}.get(channel[:1], "channels:history")
        return METHOD_SCOPES.get(method)

    def _scope_headers(self) -> dict:
        return {"X-OAuth-Scopes": ",".join(sorted(self.scopes))}

    def _reply(self, request, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json; charset=utf-8")
            request.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                request.send_header(key, value)
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (killed mid-request): that is the point of some tests

    def _next_ts(self) -> str:
        # Like Slack: the posting time, unique per message.
        self._ts = max(self._ts + 0.000001, time.time())
        return f"{self._ts:.6f}"

    def _api_auth_test(self, params):
        return {"ok": True, "user_id": "UBOT", "team": "Test", "bot_id": "BBOT"}

    def _api_users_lookupByEmail(self, params):
        email = str(params.get("email") or "").casefold()
        for known, user_id in self.users.items():
            if known.casefold() == email:
                return {"ok": True, "user": {"id": user_id, "team_id": "T0TEST", "name": known.split("@")[0],
                                             "deleted": False, "is_bot": False,
                                             "profile": {"email": known, "real_name": known.split("@")[0]}}}
        return {"ok": False, "error": "users_not_found"}

    def _api_users_info(self, params):
        user_id = str(params.get("user") or "")
        for known, known_id in self.users.items():
            if known_id == user_id:
                profile = {"real_name": known.split("@")[0]}
                if "users:read.email" in self.scopes:  # Slack leaves the address out without this scope
                    profile["email"] = known
                return {"ok": True, "user": {"id": user_id, "team_id": "T0TEST", "name": known.split("@")[0],
                                             "deleted": False, "is_bot": False, "profile": profile}}
        return {"ok": False, "error": "user_not_found"}

    def _api_apps_connections_open(self, params):
        if not self.socket_url:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": self.socket_url}

    def _api_views_open(self, params):
        view = _json_argument(params, "view")
        if view is _INVALID:
            return {"ok": False, "error": "invalid_arguments"}
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        if not isinstance(view, dict) or view.get("type") != "modal" or len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        view = {**view, "id": f"V{len(self.views) + 1:08d}"}
        self.views.append({"trigger_id": params.get("trigger_id"), "view": view})
        return {"ok": True, "view": view}

    def _api_chat_postEphemeral(self, params):
        if not params.get("channel") or not params.get("user"):
            return {"ok": False, "error": "channel_not_found" if not params.get("channel") else "user_not_in_channel"}
        self.ephemerals.append({"channel": params.get("channel"), "user": params.get("user"),
                                "text": params.get("text")})
        return {"ok": True, "message_ts": self._next_ts()}

    def _api_conversations_open(self, params):
        users = str(params.get("users") or "")
        if not users or "," in users:
            return {"ok": False, "error": "user_not_found" if not users else "invalid_arguments"}
        return {"ok": True, "channel": {"id": self.conversation_id(users)}}

    def _api_chat_postMessage(self, params):
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        blocks = _json_argument(params, "blocks")
        if blocks is _INVALID:
            return {"ok": False, "error": "invalid_blocks_format"}
        if not params.get("text") and not blocks:
            return {"ok": False, "error": "no_text"}
        problem = _check_blocks(blocks or [])
        if problem:
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        metadata = _json_argument(params, "metadata")
        if metadata is _INVALID:
            return {"ok": False, "error": "invalid_metadata_format"}
        if metadata is not None and not (isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
                                         and isinstance(metadata.get("event_payload"), dict)):
            return {"ok": False, "error": "invalid_metadata_format"}
        channel = self.channels.get(channel, channel)
        conversation = self.conversation_id(channel)
        ts = self._next_ts()
        message = {"channel": channel, "channel_id": conversation, "ts": ts, "text": params.get("text"),
                   "blocks": blocks or [], "metadata": metadata, "params": params}
        self.messages.append(message)
        return {"ok": True, "channel": conversation, "ts": ts,
                "message": {"type": "message", "text": params.get("text"), "ts": ts, "bot_id": "BBOT",
                            "blocks": blocks or []}}

    def _api_chat_update(self, params):
        for message in self.messages:
            if message["channel_id"] == params.get("channel") and message["ts"] == params.get("ts"):
                blocks = _json_argument(params, "blocks")
                if blocks is _INVALID:
                    return {"ok": False, "error": "invalid_blocks_format"}
                problem = _check_blocks(blocks or [])
                if problem:
                    return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
                message["text"] = params.get("text")
                message["blocks"] = blocks or message["blocks"]
                message.setdefault("updates", 0)
                message["updates"] += 1
                return {"ok": True, "channel": message["channel_id"], "ts": message["ts"]}
        return {"ok": False, "error": "message_not_found"}

    def _api_conversations_history(self, params):
        channel = str(params.get("channel") or "")
        if channel[:1] not in ("C", "D", "G") or channel != self.conversation_id(channel):
            return {"ok": False, "error": "channel_not_found"}  # names do not work here, only ids
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        include = str(params.get("include_all_metadata")).lower() in ("1", "true")
        limit = max(1, min(int(params.get("limit") or 100), 999))
        start = int(str(params.get("cursor") or "0").removeprefix("next:") or 0)
        found = []
        for message in reversed(self.messages):  # newest first, like Slack
            if message["channel_id"] == channel and oldest <= float(message["ts"]) <= latest:
                item = {"type": "message", "ts": message["ts"], "text": message["text"], "bot_id": "BBOT",
                        "blocks": message["blocks"]}
                if include and message.get("metadata"):
                    item["metadata"] = message["metadata"]
                found.append(item)
        page = found[start:start + limit]
        more = start + limit < len(found)
        answer = {"ok": True, "messages": page, "has_more": more}
        if more:
            answer["response_metadata"] = {"next_cursor": f"next:{start + limit}"}
        return answer


_INVALID = object()


def _json_argument(params: dict, name: str):
    """A Web API argument that form-encoded calls send as a JSON string (blocks, view, metadata);
    ``_INVALID`` when the string is not JSON, which Slack answers with an error of its own."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return _INVALID
    return value


def _check_blocks(blocks: list) -> str | None:
    """Slack's own limits, so tests fail the way Slack would."""
    if not isinstance(blocks, list):
        return "blocks must be a list"
    if len(blocks) > MAX_BLOCKS:
        return f"too many blocks ({len(blocks)} > {MAX_BLOCKS})"
    for index, block in enumerate(blocks):
        kind = block.get("type")
        text = (block.get("text") or {}).get("text", "") if isinstance(block.get("text"), dict) else ""
        if kind == "section" and len(text) > MAX_SECTION_TEXT:
            return f"blocks[{index}].text too long ({len(text)})"
        if kind == "header" and len(text) > MAX_HEADER_TEXT:
            return f"blocks[{index}].text too long for a header ({len(text)})"
    return None
