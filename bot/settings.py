"""Each config section read once into a typed value.

The defaults live in one place, ``bot.config.DEFAULTS``; a section here names
its keys and their types and nothing else, so no module restates a default
(``section.get("max_reminders", 3)``). ``Config.settings`` builds them once
from the validated, merged config. A test keeps these fields and DEFAULTS'
keys equal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JiraSettings:
    url: str | None
    deployment: str
    projects: list[str]
    jql: str | None
    page_size: int | None
    concurrency: int
    timeout_seconds: float
    max_retries: int
    token_file: str | None
    full_rescan_every: str
    incremental_overlap: str


@dataclass(frozen=True)
class ScanSettings:
    history_days: int


@dataclass(frozen=True)
class TechDebtSettings:
    label: str


@dataclass(frozen=True)
class StoreSettings:
    url: str | None
    busy_timeout_seconds: float
    audit_file: str | None


@dataclass(frozen=True)
class WaiverSettings:
    file: str | None
    label_prefix: str


@dataclass(frozen=True)
class SlackSettings:
    api_url: str | None
    admin_channel: str | None
    org_channel: str | None
    default_channel: str | None
    user_map_file: str | None
    timeout_seconds: float
    max_retries: int
    seconds_between_posts: float
    resend_unconfirmed: bool


@dataclass(frozen=True)
class BreakerSection:
    max_people: int
    max_findings: int
    relative_factor: float
    min_people: int
    min_findings: int
    history_runs: int


@dataclass(frozen=True)
class NudgeSection:
    enabled: bool
    reminder_interval_days: float
    max_reminders: int
    escalate_to: str
    quiet_days: list[str]
    quiet_hours: Any  # "19:00-07:00", or off (False / None / "")
    timezone: str
    min_severity: str
    waiver_hint: str | None
    buttons: bool
    breaker: BreakerSection


@dataclass(frozen=True)
class CommentSettings:
    enabled: bool


@dataclass(frozen=True)
class DigestSettings:
    trend_weeks: int
    flow_window_days: int
    loop_age_days: list[int]
    ffr_attention: float
    slack_max_items: int
    dashboard_url: str | None
    organisation: str


@dataclass(frozen=True)
class ScheduleSection:
    timezone: str | None
    scan_and_nudge: Any  # a crontab line, "every 30m", or False
    digest: Any
    full_rescan: Any
    misfire_grace: str


@dataclass(frozen=True)
class ServiceSection:
    apply: bool
    health_host: str
    health_port: Any  # a port, or False
    shutdown_timeout: str
    chat: Any  # "auto", True or False
    slash_command: str
    max_waiver_days: int
    max_waiver_renewals: int
    leader_check_every: str
    admins: list[str]
    webhook_path: str | None
    webhook_debounce: str
    webhook_max_bytes: int
    dashboard_path: Any  # a URL path, or False
    dashboard_auth: str


@dataclass(frozen=True)
class LoggingSettings:
    level: str
    format: str


# Config section -> its typed value.
SECTIONS: dict[str, type] = {
    "jira": JiraSettings, "scan": ScanSettings, "tech_debt": TechDebtSettings, "store": StoreSettings,
    "waivers": WaiverSettings, "slack": SlackSettings, "nudges": NudgeSection, "comments": CommentSettings,
    "digest": DigestSettings, "schedule": ScheduleSection, "service": ServiceSection, "logging": LoggingSettings,
}
_NESTED = {(NudgeSection, "breaker"): BreakerSection}


def build(cls: type, values: dict[str, Any]):
    """A section's typed value from its merged mapping (every key is there: DEFAULTS holds them all)."""
    kwargs = {}
    for item in dataclasses.fields(cls):
        value = values[item.name]
        nested = _NESTED.get((cls, item.name))
        kwargs[item.name] = build(nested, value) if nested else value
    return cls(**kwargs)


@dataclass(frozen=True)
class Settings:
    """Every typed section of one config."""

    jira: JiraSettings
    scan: ScanSettings
    tech_debt: TechDebtSettings
    store: StoreSettings
    waivers: WaiverSettings
    slack: SlackSettings
    nudges: NudgeSection
    comments: CommentSettings
    digest: DigestSettings
    schedule: ScheduleSection
    service: ServiceSection
    logging: LoggingSettings

    @classmethod
    def from_sections(cls, section) -> "Settings":
        """``section(name)`` gives a config section merged over its defaults (``Config.section``)."""
        return cls(**{name: build(kind, section(name)) for name, kind in SECTIONS.items()})
