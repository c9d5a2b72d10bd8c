"""What every report shares: severity colours and the Feature Factory Ratio line."""

from __future__ import annotations

from bot.prose import plural

__all__ = ["SEVERITY_COLOURS", "ffr_line", "plural"]

SEVERITY_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}


def ffr_line(ratio: dict) -> str:
    """One line for a scan's ``feature_factory_ratio``: the overall figure and each team's."""
    if ratio.get("rule") is None:
        return ("Feature Factory Ratio: not computed (no loaded rule carries "
                "`metric: feature-factory-ratio`)")
    if ratio.get("overall") is None:
        return "Feature Factory Ratio: n/a (no epic or initiative was judged: none scanned, or see the notes)"
    counts = ratio.get("counts", {})
    teams = ", ".join(f"{team} {value:.1f}%" for team, value in ratio["by_team"].items() if value is not None)
    return (f"Feature Factory Ratio: {ratio['overall']:.1f}% "
            f"({counts.get('without_outcome')} of {counts.get('total')} epics and initiatives have no "
            f"anticipated outcome){'; by team: ' + teams if teams else ''}")
