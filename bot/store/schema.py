"""The store's schema and its migrations: tables, column types, the ordered migration list.

We do not use Alembic: the schema is small, the bot must migrate itself at
start-up without a separate tool or config file, and a list of functions is
easy to read and test. Migration functions are frozen once released - change
the schema by appending a migration, never by editing an old one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection


# -- column types ---------------------------------------------------------------

class ErrorText(sa.types.TypeDecorator):
    """Error text from a remote system, redacted as it is written (a Slack or Jira error body may
    echo the request's Authorization header; the store must not keep it). bot/redact.py."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        from bot.redact import redact

        return redact(value) if isinstance(value, str) else value


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store datetimes must be timezone-aware")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # SQLite in odd configurations
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# -- schema -----------------------------------------------------------------------

def _v1_tables(metadata: sa.MetaData) -> None:
    """The schema as created by migration 1. Frozen: add a migration to change it."""
    sa.Table(
        "findings", metadata,
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("issue", sa.String(100), nullable=False),
        sa.Column("team", sa.String(200)),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False, default=""),
        sa.Column("message", sa.Text, nullable=False, default=""),
        sa.Column("summary", sa.Text, nullable=False, default=""),
        sa.Column("evidence", sa.Text, nullable=False, default=""),
        sa.Column("url", sa.Text),
        sa.Column("owner_id", sa.String(200)),
        sa.Column("owner", sa.JSON),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime),
        sa.Column("reopened", sa.Integer, nullable=False, default=0),
        sa.Column("waived", sa.Boolean, nullable=False, default=False),
        sa.Column("waiver_reason", sa.Text),
        sa.Column("nudge_count", sa.Integer, nullable=False, default=0),
        sa.Column("last_nudged_at", UTCDateTime),
        sa.Column("escalated_at", UTCDateTime),
        sa.Index("ix_findings_issue", "issue"),
        sa.Index("ix_findings_open", "resolved_at"),
    )
    sa.Table(
        "deliveries", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(128), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(200)),
        sa.Column("person", sa.String(200)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("fingerprints", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("last_error", ErrorText),
        sa.Column("run_id", sa.Integer),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("claimed_at", UTCDateTime),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("external_id", sa.String(200)),
        sa.Index("ix_deliveries_status", "status"),
    )
    sa.Table(
        "waivers", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issue", sa.String(100), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),  # "*" for every rule
        sa.Column("source", sa.String(16), nullable=False),  # snooze (stored here); file/label are observed
        sa.Column("by", sa.String(200)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("until", sa.Date),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
        sa.Index("ix_waivers_issue", "issue"),
    )
    sa.Table(
        "scan_runs", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),  # scan | nudge
        sa.Column("source", sa.Text, nullable=False, default=""),
        sa.Column("started", UTCDateTime, nullable=False),
        sa.Column("finished", UTCDateTime),
        sa.Column("complete", sa.Boolean, nullable=False, default=True),
        sa.Column("counts", sa.JSON, nullable=False),
    )
    sa.Table(
        "cursors", metadata,
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "digest_history", metadata,
        sa.Column("team", sa.String(200), primary_key=True),
        sa.Column("week_start", sa.Date, primary_key=True),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "slack_users", metadata,  # Jira user -> Slack user, from users.lookupByEmail
        sa.Column("jira_user", sa.String(200), primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("slack_id", sa.String(64)),  # None: looked up, not found
        sa.Column("looked_up_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "jira_comments", metadata,  # the one bot comment per issue
        sa.Column("issue", sa.String(100), primary_key=True),
        sa.Column("comment_id", sa.String(64)),
        sa.Column("revision", sa.Integer, nullable=False, default=0),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),  # open | resolved
        sa.Column("written_at", UTCDateTime),  # when the bot last wrote it (its own edit)
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def _migration_1(connection: Connection) -> None:
    metadata = sa.MetaData()
    _v1_tables(metadata)
    metadata.create_all(connection)


def _v2_tables(metadata: sa.MetaData) -> None:
    """Added by migration 2. Frozen: add a migration to change it."""
    sa.Table(
        # Where govbot posts -> the conversation id Slack uses for it: a Slack user id -> the DM
        # channel conversations.open gave; a channel name (#team) -> the id a post there returned.
        "slack_conversations", metadata,
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("learned_at", UTCDateTime, nullable=False),
    )


def _migration_2(connection: Connection) -> None:
    # A post's conversation is known before it is made (so an interrupted post can be looked up
    # in that conversation's history), without a conversations.open call on every run.
    metadata = sa.MetaData()
    _v2_tables(metadata)
    metadata.create_all(connection)


def _v3_tables(metadata: sa.MetaData) -> None:
    """Added by migration 3. Frozen: add a migration to change it."""
    sa.Table(
        # Each week's dashboard as the digest built it (bot.digest.archive's payload), so the
        # service can serve the latest week and the archive without writing files anywhere.
        "dashboards", metadata,
        sa.Column("week_start", sa.Date, primary_key=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def _migration_3(connection: Connection) -> None:
    metadata = sa.MetaData()
    _v3_tables(metadata)
    metadata.create_all(connection)


def _v4_tables(metadata: sa.MetaData) -> None:
    """Added by migration 4. Frozen: add a migration to change it."""
    sa.Table(
        # Things to be done once across every replica sharing the store (a Slack modal's view id):
        # the first to insert the key does it, the unique key refuses everyone after.
        "once_claims", metadata,
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("claimed_at", UTCDateTime, nullable=False),
        sa.Index("ix_once_claims_claimed_at", "claimed_at"),
    )


def _v4_columns(metadata: sa.MetaData) -> None:
    """Columns added to existing tables by migration 4. Frozen: add a migration to change them."""
    # Why an open finding was resolved: NULL when its rule stopped firing (fixed), "gone" when its
    # issue is no longer in Jira or in the scope (bot.runs.gone): the digest does not count it as fixed.
    metadata.tables["findings"].append_column(sa.Column("resolved_as", sa.String(16)))


def _migration_4(connection: Connection) -> None:
    metadata = sa.MetaData()
    _v4_tables(metadata)
    metadata.create_all(connection)
    connection.execute(sa.text("ALTER TABLE findings ADD COLUMN resolved_as VARCHAR(16)"))


def _v5_tables(metadata: sa.MetaData) -> None:
    """Added by migration 5. Frozen: add a migration to change it."""
    sa.Table(
        # The issues in scope as the last complete read saw them, per cursor (``bot.sources.issue_cache``):
        # a rescan takes the parents, ancestors and children of what changed from here. Written with
        # the cursor in one transaction; a full read replaces a scope's rows.
        "issue_cache", metadata,
        sa.Column("scope", sa.String(200), primary_key=True),  # the cursor's name (site and scope JQL)
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("parent_key", sa.String(100)),
        sa.Column("level", sa.String(64)),
        sa.Column("updated", UTCDateTime),
        sa.Column("raw", sa.LargeBinary, nullable=False),  # zlib-compressed JSON: the fields as read
        sa.Index("ix_issue_cache_parent", "scope", "parent_key"),
    )


def _migration_5(connection: Connection) -> None:
    metadata = sa.MetaData()
    _v5_tables(metadata)
    metadata.create_all(connection)


# (version, name, function). Append only.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema", _migration_1),
    (2, "slack conversations", _migration_2),
    (3, "dashboards", _migration_3),
    (4, "once claims, why a finding resolved", _migration_4),
    (5, "issue cache for rescans", _migration_5),
]
LATEST_VERSION = MIGRATIONS[-1][0]

metadata = sa.MetaData()
_v1_tables(metadata)
_v2_tables(metadata)
_v3_tables(metadata)
_v4_tables(metadata)
_v4_columns(metadata)
_v5_tables(metadata)
schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)
findings = metadata.tables["findings"]
deliveries = metadata.tables["deliveries"]
waivers = metadata.tables["waivers"]
scan_runs = metadata.tables["scan_runs"]
cursors = metadata.tables["cursors"]
digest_history_table = metadata.tables["digest_history"]
slack_users = metadata.tables["slack_users"]
jira_comments = metadata.tables["jira_comments"]
slack_conversations = metadata.tables["slack_conversations"]
dashboards = metadata.tables["dashboards"]
once_claims = metadata.tables["once_claims"]
issue_cache = metadata.tables["issue_cache"]
