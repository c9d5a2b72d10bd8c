"""The rule engine: YAML rules + registered check kinds -> verdicts. No I/O beyond reading rule files."""

from bot.engine.loader import RuleSet, load_rules
from bot.engine.rule import Rule

__all__ = ["RuleSet", "Rule", "load_rules"]
