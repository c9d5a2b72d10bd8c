"""Options and helpers shared by every command: config, --now, output, errors."""

from __future__ import annotations

import functools
import sys
from datetime import date, datetime, time, timezone
from typing import Callable

import click

from bot.config import Config, load_config
from bot.errors import GovbotError, UsageError


def parse_now(value: str | None) -> datetime:
    """``--now YYYY-MM-DD`` (or a full ISO timestamp) as an aware UTC datetime."""
    if not value:
        return datetime.now(timezone.utc)
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(12, 0), tzinfo=timezone.utc)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--now: {value!r} is not a date; use YYYY-MM-DD, for example 2026-03-31") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
    help="Config file (default: ./govbot.yaml, or $GOVBOT_CONFIG).")
now_option = click.option(
    "--now", "now_text", metavar="YYYY-MM-DD", default=None,
    help="Evaluate as if today were this date (reproducible runs).")


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
