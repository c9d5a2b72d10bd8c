"""govbot: a Jira governance bot and linter for outcome-driven delivery hygiene."""

__version__ = "0.1.0"
