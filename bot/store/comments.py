"""The Jira comment govbot keeps on each issue: its id and content hash, so it is updated in place."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bot.store.database import Database, _guarded
from bot.store.schema import jira_comments
from bot.store.values import CommentState, _comment_state


class CommentStore(Database):
    """The Jira comment govbot keeps on each issue: its id and content hash, so it is updated in place."""

    # -- Jira comments -------------------------------------------------------------------------------
    @_guarded
    def comment_state(self, issue: str) -> CommentState | None:
        with self.transaction() as connection:
            row = connection.execute(sa.select(jira_comments).where(jira_comments.c.issue == issue)).first()
            return _comment_state(row) if row else None

    @_guarded
    def comment_states(self) -> dict[str, CommentState]:
        with self.transaction() as connection:
            return {row.issue: _comment_state(row) for row in connection.execute(sa.select(jira_comments))}

    @_guarded
    def plan_comment(self, issue: str, content_hash: str, state: str, now: datetime) -> int:
        """Record the comment content we intend to write; returns its revision number."""
        with self.transaction() as connection:
            row = connection.execute(sa.select(jira_comments).where(jira_comments.c.issue == issue)).first()
            if row is None:
                connection.execute(jira_comments.insert().values(
                    issue=issue, comment_id=None, revision=1, content_hash=content_hash, state=state,
                    updated_at=now))
                return 1
            revision = row.revision + 1
            connection.execute(jira_comments.update().where(jira_comments.c.issue == issue).values(
                revision=revision, content_hash=content_hash, state=state, updated_at=now))
            return revision

    @_guarded
    def comment_written(self, issue: str, comment_id: str, now: datetime) -> None:
        with self.transaction() as connection:
            connection.execute(jira_comments.update().where(jira_comments.c.issue == issue)
                               .values(comment_id=comment_id, written_at=now, updated_at=now))

    def last_bot_edit(self, issue: str) -> datetime | None:
        """When govbot last wrote to this issue (its comment), so sources can ignore that 'update'."""
        state = self.comment_state(issue)
        return state.written_at if state else None
