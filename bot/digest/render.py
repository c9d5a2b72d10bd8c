"""The digest as Markdown, plain text, JSON and a static HTML dashboard.

Jinja2 renders the prose. HTML uses autoescape; Markdown and text escape every
expression through ``finalize``, so Jira text (summaries, reasons, names) can
never inject markup, whatever a template forgets.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from bot.digest import charts, lists
from bot.digest.site import page_names
from bot.digest.figures import Digest, Digests
from bot.escape import markdown_escape, strip_controls, terminal_safe, terminal_safe_json, web_url
from bot.prose import plural
from bot.dates import short_date
from bot.hierarchy import FLOW_ITEMS

TEMPLATES = Path(__file__).parent / "templates"
FLOW_NAMES = {"feature": "Features", "defect": "Defects", "risk": "Risks", "debt": "Debt"}


# -- helpers shared by every format -------------------------------------------
def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}".rstrip("0").rstrip(".") + "%"


def long_date(value: date | datetime) -> str:
    return f"{value.day} {value.strftime('%b %Y')}"



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


def days(value: float | None) -> str:
    """'1 day', '12.5 days'."""
    return "n/a" if value is None else f"{value:g} day{'' if value == 1 else 's'}"


def delta(change: float | None) -> str:
    """'▲ 5 pts' / '▼ 2.1 pts' / 'no change' beside a team's sparkline; '' with nothing to compare."""
    if change is None:
        return ""
    if change == 0:
        return "no change"
    return f"{'▲ up' if change > 0 else '▼ down'} {abs(change):g} pts"


def unclassified_note(count: int) -> str:
    if count == 1:
        return "1 delivered item has a custom type that maps to no flow item, so it is not counted."
    return f"{count} delivered items have custom types that map to no flow item, so they are not counted."


_FILTERS = {"percent": percent, "days": days, "long_date": long_date, "short_date": short_date,
            "plural": plural, "link_url": web_url}
_GLOBALS = {"ffr_change": ffr_change, "unclassified_note": unclassified_note, "delta": delta,
            "sparkline": charts.sparkline, "FLOW_ITEMS": FLOW_ITEMS, "FLOW_NAMES": FLOW_NAMES}


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
    # Autoescape handles markup; this drops control and bidi characters too (a bidi override
    # could reorder what a reader sees; shown as U+FFFD it would look like a broken page).
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return strip_controls(value)


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
def _html_environment() -> Environment:
    return _environment(autoescape=True, finalize=_finalize_html)


def render_html(digests: Digests, digest: Digest, pages: dict[str, str] | None = None, *,
                archive: dict[str, str] | None = None) -> str:
    """One self-contained dashboard page (the organisation's is the index)."""
    pages = pages or page_names(digests)
    return _render_page(_html_environment(), digests, digest, pages, _all_lists(digests, pages), archive)


def _all_lists(digests: Digests, pages: dict[str, str]) -> dict[str, dict[str, lists.IssueList]]:
    return {digest.team: lists.lists_for(digest, pages[digest.team]) for digest in digests}


def _render_page(env: Environment, digests: Digests, digest: Digest, pages: dict[str, str],
                 all_lists: dict[str, dict[str, lists.IssueList]], archive: dict[str, str] | None) -> str:
    return env.get_template("page.html").render(
        digests=digests, digest=digest, pages=pages, lists=all_lists[digest.team], team_lists=all_lists,
        archive=archive,
        trend=charts.trend_chart(digest.trend_with_now),
        flow=charts.flow_segments(digest.flow),
        flow_weeks=charts.flow_weeks(digest.trend_with_now, digest.flow.window_days),
        bars=charts.rule_bars(digest.rules), bar_scale=charts.bar_scale(digest.rules))


def render_site(digests: Digests, *, archive: dict[str, str] | None = None) -> dict[str, str]:
    """Every page of one week's dashboard by file name (bot.digest.site): index.html first,
    the team pages, then every page of every list behind a count.

    ``archive``: links to the previous and next week and the index of weeks, when
    the service serves the page from its archive (relative to the page).
    """
    env = _html_environment()
    pages = page_names(digests)
    all_lists = _all_lists(digests, pages)
    out = {pages[digest.team]: _render_page(env, digests, digest, pages, all_lists, archive) for digest in
           [digests.organisation, *digests.teams]}
    template = env.get_template("list.html")
    for digest in digests:
        for the_list in all_lists[digest.team].values():
            chunks = the_list.pages
            for number, (name, items) in enumerate(zip(the_list.names, chunks), start=1):
                out[name] = template.render(
                    digests=digests, digest=digest, pages=pages, the_list=the_list, items=items,
                    lists=all_lists[digest.team],
                    page_number=number, page_count=len(chunks), first=1 + (number - 1) * lists.PAGE_SIZE,
                    jql=lists.jql_url(items), archive=archive)
    return out


def write_html(digests: Digests, directory: str | Path) -> list[Path]:
    """Write every page of the dashboard into ``directory``: index.html first; returns the paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, html in render_site(digests).items():
        path = folder / name
        path.write_text(html, encoding="utf-8")
        written.append(path)
    return written


def render_weeks(organisation: str, weeks: list[tuple[date, float | None, int | None]]) -> str:
    """The archive's index: every stored week, newest first, with its headline figures."""
    return _html_environment().get_template("weeks.html").render(organisation=organisation, weeks=weeks)


def render_message(title: str, message: str, back: str) -> str:
    """A plain page saying one thing (a 404, a week that cannot be shown), styled like the dashboard."""
    return _html_environment().get_template("message.html").render(title=title, message=message, back=back)
