"""What Slack told us once: users looked up by email, and the conversation id of each DM."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bot.store.database import Database, _guarded, _upsert
from bot.store.schema import slack_conversations, slack_users


class SlackStore(Database):
    """What Slack told us once: users looked up by email, and the conversation id of each DM."""

    # -- Slack user cache ---------------------------------------------------------------------------
    @_guarded
    def cached_slack_user(self, jira_user: str) -> tuple[str | None, datetime, str | None] | None:
        """(slack id or None when not found, when looked up, email) or None if never looked up."""
        with self.transaction() as connection:
            row = connection.execute(sa.select(slack_users).where(slack_users.c.jira_user == jira_user)).first()
            return (row.slack_id, row.looked_up_at, row.email) if row else None

    @_guarded
    def cache_slack_user(self, jira_user: str, email: str | None, slack_id: str | None, now: datetime) -> None:
        with self.transaction() as connection:
            _upsert(connection, self.dialect, slack_users,
                    {"jira_user": jira_user, "email": email, "slack_id": slack_id, "looked_up_at": now},
                    ["jira_user"])

    # -- Slack conversations ------------------------------------------------------------------------
    @_guarded
    def conversation(self, target: str) -> str | None:
        """The conversation id Slack uses for ``target`` (a user's DM, a channel name), if known."""
        with self.transaction() as connection:
            return connection.execute(sa.select(slack_conversations.c.channel)
                                      .where(slack_conversations.c.target == target)).scalar()

    @_guarded
    def remember_conversation(self, target: str, channel: str, now: datetime) -> None:
        with self.transaction() as connection:
            _upsert(connection, self.dialect, slack_conversations,
                    {"target": target, "channel": channel, "learned_at": now}, ["target"])
