"""The dashboard, served read-only by `govbot serve` on the health port, rendered from the store.

``<path>/`` is the latest week (the overview, its team pages and their lists);
``<path>/weeks/`` lists every stored week; ``<path>/weeks/<Monday>/`` is that
week's dashboard as it was, with links to the weeks before and after. Pages
are rendered from the week's stored figures on request (and kept in memory
while that week's row is unchanged), so the service writes no file: it runs
on a read-only root file system. Access is open, a basic-auth user and
password, or a bearer token, the secrets coming from the environment.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Mapping

from bot.digest import archive, render, site
from bot.digest.figures import ORGANISATION
from bot.errors import ConfigError

log = logging.getLogger(__name__)

# The pages' own meta CSP, sent as a header too: no script, no fetch, no frame, inline CSS only.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
SECURE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                  "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}
HTML = "text/html; charset=utf-8"
_WEEK = re.compile(r"^\d{4}-\d{2}-\d{2}$")
AUTH_KINDS = ("none", "basic", "token")
USER_ENV, PASSWORD_ENV, TOKEN_ENV = "GOVBOT_DASHBOARD_USER", "GOVBOT_DASHBOARD_PASSWORD", "GOVBOT_DASHBOARD_TOKEN"


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = HTML
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Access:
    """Who may read the dashboard: anyone, one basic-auth user, or holders of a bearer token."""

    kind: str = "none"
    user: str = ""
    secret: str = ""

    @classmethod
    def from_config(cls, config) -> "Access":
        kind = config.settings.service.dashboard_auth
        if kind == "basic":
            user, password = config.secret(USER_ENV), config.secret(PASSWORD_ENV)
            if not user or not password:
                raise ConfigError(f"service.dashboard_auth is basic but {USER_ENV} or {PASSWORD_ENV} is not set",
                                  hint="set both in the environment (or *_FILE), or set dashboard_auth: none")
            return cls("basic", user, password)
        if kind == "token":
            token = config.secret(TOKEN_ENV)
            if not token:
                raise ConfigError(f"service.dashboard_auth is token but {TOKEN_ENV} is not set",
                                  hint="set it in the environment (or GOVBOT_DASHBOARD_TOKEN_FILE)")
            return cls("token", secret=token)
        return cls()

    def allows(self, authorization: str | None) -> bool:
        if self.kind == "none":
            return True
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        credentials = credentials.strip()
        if self.kind == "token":
            return scheme.casefold() == "bearer" and _same(credentials, self.secret)
        if scheme.casefold() != "basic":
            return False
        try:
            user, colon, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Both compared, whatever the first says, so the time taken tells nothing.
        return bool(colon) & _same(user, self.user) & _same(password, self.secret)

    @property
    def challenge(self) -> str:
        return 'Basic realm="govbot dashboard", charset="UTF-8"' if self.kind == "basic" else 'Bearer realm="govbot"'


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Dashboard:
    """Answers GET requests under ``path`` from the store's stored weeks."""

    def __init__(self, path: str, open_store: Callable[[], Any], *, access: Access | None = None,
                 organisation: str = "Organisation"):
        self.path = "/" + path.strip("/")
        self.open_store = open_store
        self.access = access or Access()
        self.organisation = organisation
        self._lock = threading.Lock()
        self._rendered: dict[tuple[date, datetime, str], dict[str, str]] = {}

    def handles(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + "/")

    def answer(self, path: str, headers: Mapping[str, str]) -> Response:
        response = self._answer(path, headers)
        response.headers = {**SECURE_HEADERS, **response.headers}
        return response

    def _answer(self, path: str, headers: Mapping[str, str]) -> Response:
        if not self.access.allows(headers.get("Authorization")):
            return Response(401, b"authentication required\n", "text/plain; charset=utf-8",
                            {"WWW-Authenticate": self.access.challenge})
        rest = path[len(self.path):]
        if rest in ("", "/weeks") or (rest.startswith("/weeks/") and _WEEK.match(rest[len("/weeks/"):])):
            return Response(308, b"", "text/plain; charset=utf-8", {"Location": path + "/"})
        with self.open_store() as store:
            weeks = store.dashboard_weeks()
            if rest == "/weeks/":
                return self._weeks_page(store, weeks)
            parts = rest.strip("/").split("/") if rest.strip("/") else []
            if len(parts) <= 1 and parts != ["weeks"]:
                if not weeks:
                    return self._not_found("No dashboard yet: the weekly digest has not run (or its scan could "
                                           "not read every issue, so nothing was stored).", status=404)
                return self._page(store, weeks, weeks[-1], parts[0] if parts else site.INDEX, latest=True)
            if len(parts) in (2, 3) and _WEEK.match(parts[1]):
                try:
                    week = date.fromisoformat(parts[1])
                except ValueError:
                    return self._not_found("No such week.")
                found = next((entry for entry in weeks if entry[0] == week), None)
                if found is None:
                    return self._not_found(f"No dashboard is stored for the week of {week.isoformat()}.",
                                           back="../")
                return self._page(store, weeks, found, parts[2] if len(parts) == 3 else site.INDEX, latest=False)
        return self._not_found("No such page.")

    def _page(self, store, weeks: list[tuple[date, datetime]], entry: tuple[date, datetime], name: str, *,
              latest: bool) -> Response:
        if not site.is_page_name(name):
            return self._not_found("No such page.")
        pages = self._pages(store, weeks, entry, latest)
        if pages is None:
            return self._not_found("This week's stored dashboard cannot be read by this version of govbot.",
                                   status=500)
        html = pages.get(name)
        if html is None:
            return self._not_found("No such page in this week's dashboard.", back="index.html")
        return Response(200, html.encode("utf-8"))

    def _pages(self, store, weeks, entry, latest: bool) -> dict[str, str] | None:
        week, updated = entry
        key = (week, updated, "latest" if latest else "week")
        with self._lock:
            cached = self._rendered.get(key)
        if cached is not None:
            return cached
        try:
            digests = archive.from_payload(store.dashboard(week))
        except archive.ArchiveError as error:
            log.warning("dashboard for the week of %s: %s", week.isoformat(), error)
            return None
        previous, following = archive.neighbours([w for w, _ in weeks], week)
        if latest:
            links = {"previous": f"weeks/{previous.isoformat()}/" if previous else None, "next": None,
                     "index": "weeks/", "latest": None}
        else:
            links = {"previous": f"../{previous.isoformat()}/" if previous else None,
                     "next": f"../{following.isoformat()}/" if following else None,
                     "index": "../", "latest": "../../"}
        pages = render.render_site(digests, archive=links)
        with self._lock:
            # One week's pages per way of serving it, while its row is unchanged.
            self._rendered = {k: v for k, v in self._rendered.items() if k[0] != week or k[1] == updated}
            if len(self._rendered) > 8:
                self._rendered.pop(next(iter(self._rendered)))
            self._rendered[key] = pages
        return pages

    def _weeks_page(self, store, weeks: list[tuple[date, datetime]]) -> Response:
        figures: dict[date, dict] = {}
        if weeks:
            figures = dict(store.digest_history(ORGANISATION, until=weeks[-1][0], weeks=len(weeks) + 520))
        rows = [(week, (figures.get(week) or {}).get("ffr"), (figures.get(week) or {}).get("open_findings"))
                for week, _ in reversed(weeks)]
        return Response(200, render.render_weeks(self.organisation, rows).encode("utf-8"))

    def _not_found(self, message: str, *, status: int = 404, back: str | None = None) -> Response:
        title = "Not found" if status == 404 else "Cannot show this page"
        html = render.render_message(title, message, back or self.path + "/")
        return Response(status, html.encode("utf-8"))


def dashboard_for(config, open_store: Callable[[], Any]) -> Dashboard | None:
    """The service's dashboard from ``service.dashboard_path`` (None when it is off)."""
    settings = config.settings.service
    if not settings.dashboard_path:
        return None
    return Dashboard(settings.dashboard_path, open_store, access=Access.from_config(config),
                     organisation=config.settings.digest.organisation)
