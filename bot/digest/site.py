"""The dashboard's layout: which pages exist and what each file is called.

One week's dashboard is a flat folder of pages, so every link between them is
a plain relative file name and the same pages work from a static folder
(``govbot digest --html DIR``), from the service's latest week and from its
archive of weeks. The organisation's overview is ``index.html``; each team has
``team-<slug>.html``; every list behind a count is ``list-<owner>-<what>.html``
(``-p2`` and on for later pages of a long list).
"""

from __future__ import annotations

import re
import socket

from bot.digest.figures import Digests

INDEX = "index.html"


def slug(text: str, fallback: str = "x") -> str:
    """Lower-case letters, digits and single hyphens: safe in a file name and a URL path."""
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or fallback


def page_names(digests: Digests) -> dict[str, str]:
    """Dashboard file name per digest: index.html for the organisation, one page per team."""
    names = {digests.organisation.team: INDEX}
    used = {"index"}
    for digest in digests.teams:
        base = "team-" + slug(digest.team, "team")
        name, n = base, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        names[digest.team] = f"{name}.html"
    return names


def owner_slug(page_name: str) -> str:
    """The part of a list's file name that says whose list it is: 'org' or the team page's slug."""
    return "org" if page_name == INDEX else page_name.removesuffix(".html")


def list_name(page_name: str, what: str, page: int = 1) -> str:
    """A list's file name: ``what`` is its kind and state, e.g. 'findings-open' or 'rule-x-fixed'."""
    return f"list-{owner_slug(page_name)}-{slug(what)}{'' if page == 1 else f'-p{page}'}.html"


def is_page_name(name: str) -> bool:
    """Whether ``name`` could be one of the dashboard's file names (the server serves nothing else)."""
    return re.fullmatch(r"[a-z0-9][a-z0-9-]*\.html", name) is not None


def published_url(config) -> str | None:
    """Where people open the dashboard: ``digest.dashboard_url``, else the service's own address.

    The service serves it on the health port under ``service.dashboard_path``; a
    wildcard bind address (0.0.0.0, ::) is named by this machine's host name.
    Behind a proxy or an ingress, set ``digest.dashboard_url`` to its address.
    """
    configured = config.settings.digest.dashboard_url
    if configured:
        return configured
    service = config.settings.service
    if not service.dashboard_path or service.health_port is False or service.health_port is None:
        return None
    host = str(service.health_host)
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{service.health_port}{service.dashboard_path}/"
