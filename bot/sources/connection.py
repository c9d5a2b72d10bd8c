"""Where a Jira site is and how govbot signs in: the URL and credentials from the configuration
(``Connection``), and the authenticated ``requests`` session (``make_session``).

The ``jira`` package provides the session (its own retries off); ``Transport``
(``bot.sources.http``) adds timeouts, ``Retry-After`` and backoff on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import requests

from bot import __version__
from bot.config import Config
from bot.errors import ConfigError
from bot.sources.http import display_url


@dataclass(frozen=True)
class Connection:
    """Where Jira is and how to sign in. ``token`` never appears in repr or messages."""

    url: str
    deployment: str = "auto"  # auto | cloud | datacenter
    auth: str = "basic"       # basic (email + API token) | bearer (personal access token)
    email: str | None = None
    token: str = field(default="", repr=False)
    timeout: float = 30
    max_retries: int = 5

    @property
    def credentials_label(self) -> str:
        return "JIRA_EMAIL + JIRA_API_TOKEN" if self.auth == "basic" else "JIRA_PAT (bearer token)"

    @classmethod
    def from_config(cls, config: Config) -> "Connection":
        section = config.settings.jira
        url = (config.env.get("JIRA_URL") or section.url or "").strip()
        if not url:
            raise ConfigError("no Jira URL configured",
                              hint="set JIRA_URL in the environment or jira.url in govbot.yaml")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"the Jira URL {display_url(url)!r} must start with https:// (or http://)",
                              hint="for example https://example.atlassian.net")
        if "@" in url.split("//", 1)[1].split("/", 1)[0]:
            raise ConfigError("the Jira URL must not carry a user name or password",
                              hint="use JIRA_EMAIL + JIRA_API_TOKEN or JIRA_PAT instead")
        deployment = section.deployment
        email = config.secret("JIRA_EMAIL")
        api_token = config.secret("JIRA_API_TOKEN")
        pat = config.secret("JIRA_PAT")
        from_file = _read_token_file(config, section.token_file)
        basic_ready = bool(email and (api_token or from_file))
        cloudish = deployment == "cloud" or (deployment == "auto" and looks_like_cloud(url))
        if pat and (not basic_ready or not cloudish):
            auth, token = "bearer", pat
        elif basic_ready:
            auth, token = "basic", api_token or from_file
        elif email:
            raise ConfigError("JIRA_EMAIL is set but JIRA_API_TOKEN is not",
                              hint="create an API token at id.atlassian.com and set JIRA_API_TOKEN "
                                   "(or JIRA_API_TOKEN_FILE, or jira.token_file)")
        elif api_token or from_file:
            # A token without an email: a Data Center personal access token.
            auth, token = "bearer", api_token or from_file
        else:
            raise ConfigError("no Jira credentials found",
                              hint="set JIRA_EMAIL and JIRA_API_TOKEN (Jira Cloud) or JIRA_PAT "
                                   "(Data Center), or name a file with jira.token_file")
        return cls(url=url.rstrip("/"), deployment=deployment, auth=auth, email=email, token=token or "",
                   timeout=float(section.timeout_seconds), max_retries=int(section.max_retries))


def _read_token_file(config: Config, value: str | None) -> str | None:
    path = config.resolve_path(value)
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError as error:
        raise ConfigError(f"cannot read jira.token_file ({path}): {error.strerror}") from None


def looks_like_cloud(url: str) -> bool:
    """Whether ``url`` names an Atlassian Cloud host."""
    host = (re.sub(r"^https?://", "", url).split("/", 1)[0].split(":", 1)[0]).casefold()
    return host.endswith((".atlassian.net", ".jira.com", ".jira-dev.com"))


def make_session(connection: Connection) -> requests.Session:
    """An authenticated session from the ``jira`` package, with its own retries switched off."""
    from jira import JIRA

    auth = {"basic_auth": (connection.email, connection.token)} if connection.auth == "basic" \
        else {"token_auth": connection.token}
    client = JIRA(server=connection.url, get_server_info=False, max_retries=0, timeout=connection.timeout,
                  logging=False, options={"headers": {"User-Agent": f"govbot/{__version__}"}}, **auth)
    return client._session  # noqa: SLF001 - the package exposes its session only this way
