"""Errors a user can cause, each carrying its exit code.

The CLI catches ``GovbotError`` at the top and prints ``str(error)`` only: no
traceback ever reaches a user for a problem they can fix themselves.
"""

from __future__ import annotations

# Exit codes follow linters: 0 clean, 1 findings, 2 usage/configuration errors.
EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
# Distinct codes for failures outside the user's input, so scripts can tell
# "your rule is wrong" from "Jira is down".
EXIT_NETWORK = 3
EXIT_INCOMPLETE = 4


class GovbotError(Exception):
    """A failure with a one-line (or pre-formatted) message meant for a person."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nhelp: {self.hint}"
        return self.message


class UsageError(GovbotError):
    """Bad command-line input (a date, a format, a missing file)."""


class ConfigError(GovbotError):
    """govbot.yaml or the environment is wrong."""


class RuleError(GovbotError):
    """One or more rule files are invalid; the message is already formatted."""


class ValidationError(ConfigError, RuleError):
    """govbot.yaml and the rule files checked in one pass: every error in either, already formatted.
    Both a ConfigError and a RuleError, so a caller that catches either still catches it."""


class SourceError(GovbotError):
    """A snapshot or a Jira response could not be read."""


class JiraError(GovbotError):
    """Jira answered with an error the user must act on (auth, JQL, permissions)."""


class NetworkError(GovbotError):
    """Jira or Slack could not be reached after retries."""

    exit_code = EXIT_NETWORK
