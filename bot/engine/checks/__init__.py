"""Built-in check kinds, one module per family of checks. Importing registers them."""

from bot.engine.checks import attributes, dates, hierarchy, relatives, scope, values  # noqa: F401
