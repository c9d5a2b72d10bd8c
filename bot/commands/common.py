"""Options and helpers shared by every command: config, --now, output, errors."""

from __future__ import annotations

import atexit
import functools
import os
import sys
import threading
from datetime import date, datetime, time, timezone
from typing import Callable, NoReturn

import click

from bot.config import Config, load_config
from bot.errors import GovbotError, UsageError


def parse_now(value: str | None) -> datetime:
    """``--now YYYY-MM-DD`` (or a full ISO timestamp) as an aware UTC datetime."""
    if not value:
        return datetime.now(timezone.utc)
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), time(12, 0), tzinfo=timezone.utc)
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--now: {value!r} is not a date; use YYYY-MM-DD, for example 2026-03-31") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if not MIN_NOW_YEAR <= parsed.year <= MAX_NOW_YEAR:
        # Windows and schedules reach years either side: the year 1 has no week before it to count back to.
        raise UsageError(f"--now: {value!r} is outside the years {MIN_NOW_YEAR} to {MAX_NOW_YEAR}")
    return parsed


# Jira did not exist before 2002; a century and more either side leaves any real date room.
MIN_NOW_YEAR, MAX_NOW_YEAR = 1900, 9000


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
    help="Config file (default: ./govbot.yaml, or $GOVBOT_CONFIG).")
now_option = click.option(
    "--now", "now_text", metavar="YYYY-MM-DD", default=None,
    help="Evaluate as if today were this date (reproducible runs).")
all_history_option = click.option(
    "--all-history", is_flag=True,
    help="Look at every issue, however long ago it was closed (an audit); by default rules look at "
         "open work and work closed within scan.history_days (180).")


def handle_errors(function: Callable) -> Callable:
    """Turn GovbotError into one clear message and its exit code; never a traceback."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except GovbotError as error:
            click.echo(f"govbot: {error}" if "\n" not in error.message else str(error), err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("govbot: interrupted", err=True)
            sys.exit(130)

    return wrapper


def end_process(code: int) -> NoReturn:
    """``sys.exit(code)``; when the process ends with this command, without freeing what it built.

    A scan of 50,000 issues holds about a million objects; freeing them one by one as the
    process ends took a quarter of a second, for memory the system takes back at once. The
    exit handlers run (logging's among them) and the streams are flushed first, as at any
    exit; with another thread still running, or a stream that cannot be flushed, the process
    ends as usual.
    """
    from bot.model import is_one_shot

    if not is_one_shot() or threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def get_config(path: str | None) -> Config:
    return load_config(path)


def is_terminal(stream=None) -> bool:
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def say_incomplete(what: str, batch, code: int) -> None:
    """Exit 4 says why on stderr, in one ``govbot:`` line."""
    from bot.errors import EXIT_INCOMPLETE

    if code == EXIT_INCOMPLETE:
        click.echo(f"govbot: {what} incomplete: {'; '.join(batch.incomplete_reasons)}", err=True)
