"""The circuit breaker: hold a run that would message far more than usual.

A renamed Jira field or a broken rule makes every epic "violate" at once; the
worst response is a mass ping. When a run would message more people or
findings than an absolute limit, or several times more than recent runs did,
nothing is sent and one alert goes to the admin channel. An admin who has
checked (``govbot preview``) can let one run through with ``--override-breaker``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BreakerSettings:
    """nudges.breaker (defaults: ``bot.config.DEFAULTS``). A run trips when it reaches more DM
    recipients or findings than the absolute limits, or ``relative_factor`` times the recent
    maximum (over ``history_runs`` runs) above the floors, so small runs never trip."""

    max_people: int
    max_findings: int
    relative_factor: float
    min_people: int
    min_findings: int
    history_runs: int

    @classmethod
    def default(cls) -> "BreakerSettings":
        from bot.config import load_config

        return cls.from_config(load_config(None, search=False))

    @classmethod
    def from_config(cls, config) -> "BreakerSettings":
        section = config.settings.nudges.breaker
        return cls(max_people=int(section.max_people), max_findings=int(section.max_findings),
                   relative_factor=float(section.relative_factor), min_people=int(section.min_people),
                   min_findings=int(section.min_findings), history_runs=int(section.history_runs))


@dataclass
class Trip:
    reason: str
    baseline: str


def usual(history: list[dict], runs: int | None = None) -> tuple[int, int] | None:
    """The largest (people, findings) among the last ``runs`` delivered runs that sent something, or None.

    Runs that had nothing to send (nothing due: most runs between two reminder
    days) say nothing about the usual volume and are skipped, so a service that
    runs every half hour still compares a reminder day with the last ones.
    """
    delivered = [run["counts"] for run in history
                 if run.get("counts", {}).get("applied") and not run["counts"].get("held")
                 and (int(run["counts"].get("people", 0)) or int(run["counts"].get("findings", 0)))]
    delivered = delivered[:runs] if runs else delivered
    if not delivered:
        return None
    return (max(int(c.get("people", 0)) for c in delivered), max(int(c.get("findings", 0)) for c in delivered))


def check(people: int, findings: int, history: list[dict], settings: BreakerSettings) -> Trip | None:
    """A Trip explaining why this run must be held, or None when it may go ahead."""
    baseline = usual(history, settings.history_runs)
    counted = min(settings.history_runs, len([run for run in history if run.get("counts", {}).get("applied")
                                              and not run["counts"].get("held")
                                              and (run["counts"].get("people") or run["counts"].get("findings"))]))
    described = (f"at most {baseline[0]} people / {baseline[1]} findings in the last {counted} runs that sent "
                 "something" if baseline else "no earlier runs")
    if people > settings.max_people:
        return Trip(f"{people} people is over nudges.breaker.max_people ({settings.max_people})", described)
    if findings > settings.max_findings:
        return Trip(f"{findings} findings is over nudges.breaker.max_findings ({settings.max_findings})", described)
    if baseline is not None:
        usual_people, usual_findings = baseline
        if people > settings.min_people and people > settings.relative_factor * max(usual_people, 1):
            return Trip(f"{people} people is more than {settings.relative_factor:g}x the usual {usual_people}",
                        described)
        if findings > settings.min_findings and findings > settings.relative_factor * max(usual_findings, 1):
            return Trip(f"{findings} findings is more than {settings.relative_factor:g}x the usual "
                        f"{usual_findings}", described)
    return None
