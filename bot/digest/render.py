"""The digest as Markdown, plain text, JSON and a static HTML dashboard.

Jinja2 renders the prose. HTML uses autoescape; Markdown and text escape every
expression through ``finalize``, so Jira text (summaries, reasons, names) can
never inject markup, whatever a template forgets.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from bot.digest import charts
from bot.digest.figures import Digest, Digests
from bot.escape import markdown_escape, terminal_safe, terminal_safe_json, web_url
from bot.prose import plural
from bot.hierarchy import FLOW_ITEMS

TEMPLATES = Path(__file__).parent / "templates"
FLOW_NAMES = {"feature": "Features", "defect": "Defects", "risk": "Risks", "debt": "Debt"}


# -- helpers shared by every format -------------------------------------------
def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}".rstrip("0").rstrip(".") + "%"


def long_date(value: date | datetime) -> str:
    return f"{value.day} {value.strftime('%b %Y')}"


def short_date(value: date | datetime) -> str:
    return f"{value.day} {value.strftime('%b')}"



def ffr_change(digest: Digest) -> str:
    """'up 5 points since 16 Mar', or '' when there is nothing to compare with."""
    change = digest.ffr_change
    previous = next((p for p in reversed(digest.trend) if p.ffr is not None), None)
    if change is None or previous is None:
        return ""
    if change == 0:
        return f"unchanged since {short_date(previous.week_start)}"
    direction = "up" if change > 0 else "down"
    return f"{direction} {abs(change):g} points since {short_date(previous.week_start)}"


def unclassified_note(count: int) -> str:
    if count == 1:
        return "1 delivered item has a custom type that maps to no flow item, so it is not counted."
    return f"{count} delivered items have custom types that map to no flow item, so they are not counted."


def page_names(digests: Digests) -> dict[str, str]:
    """Dashboard file name per digest: index.html for the organisation, one page per team."""
    names = {digests.organisation.team: "index.html"}
    used = {"index"}
    for digest in digests.teams:
        base = "team-" + (re.sub(r"[^a-z0-9]+", "-", digest.team.casefold()).strip("-") or "team")
        slug, n = base, 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        names[digest.team] = f"{slug}.html"
    return names


_FILTERS = {"percent": percent, "long_date": long_date, "short_date": short_date,
            "plural": plural, "link_url": web_url}
_GLOBALS = {"ffr_change": ffr_change, "unclassified_note": unclassified_note, "FLOW_ITEMS": FLOW_ITEMS, "FLOW_NAMES": FLOW_NAMES}


def _environment(**options: Any) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, **options)
    env.filters.update(_FILTERS)
    env.globals.update(_GLOBALS)
    return env


# -- Markdown and text ----------------------------------------------------------
def markdown_url(url: str | None) -> Markup | None:
    """A checked http(s) address for a Markdown link destination."""
    checked = web_url(url)  # parentheses come back percent-encoded
    return Markup(checked) if checked else None


def _finalize_markdown(value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return markdown_escape(value)


def _finalize_text(value: Any) -> Any:
    # Terminal escapes hidden in an issue summary must not reach a terminal.
    return terminal_safe(" ".join(value.split())) if isinstance(value, str) else value


def _finalize_html(value: Any) -> Any:
    # Autoescape handles markup; this keeps control and bidi characters off the page too.
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return terminal_safe(value, keep_newlines=True)


def render_markdown(digests: Digests) -> str:
    env = _environment(finalize=_finalize_markdown)
    env.filters["raw"] = Markup  # for text the template itself writes
    env.filters["md_url"] = markdown_url
    return env.get_template("digest.md").render(digests=digests)


def render_text(digests: Digests) -> str:
    env = _environment(finalize=_finalize_text)
    return env.get_template("digest.txt").render(digests=digests)


def render_json(digests: Digests) -> str:
    return terminal_safe_json(json.dumps(digests.to_json(), indent=2, ensure_ascii=False)) + "\n"


# -- HTML dashboard -------------------------------------------------------------
def render_html(digests: Digests, digest: Digest, pages: dict[str, str] | None = None) -> str:
    """One self-contained dashboard page (the organisation's is the index)."""
    env = _environment(autoescape=True, finalize=_finalize_html)
    pages = pages or page_names(digests)
    return env.get_template("page.html").render(
        digests=digests, digest=digest, pages=pages,
        trend=charts.trend_chart(digest.trend_with_now),
        flow=charts.flow_segments(digest.flow),
        bars=charts.rule_bars(digest.rules))


def write_html(digests: Digests, directory: str | Path) -> list[Path]:
    """Write index.html and one page per team into ``directory``; returns the paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    pages = page_names(digests)
    written = []
    for digest in digests:
        path = folder / pages[digest.team]
        path.write_text(render_html(digests, digest, pages), encoding="utf-8")
        written.append(path)
    return written
