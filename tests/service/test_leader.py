"""Leader election on PostgreSQL, one round at a time: who leads, who follows, who steps down.

Needs GOVBOT_TEST_POSTGRES_URL; the process-level test is tests/service/test_replicas.py.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from bot.service.leader import Leadership

POSTGRES_URL = os.environ.get("GOVBOT_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs GOVBOT_TEST_POSTGRES_URL (a PostgreSQL server)")


def replica(name: str, events: list) -> Leadership:
    return Leadership(POSTGRES_URL, check_every=60, name=name,
                      on_elected=lambda: events.append((name, "elected")),
                      on_deposed=lambda: events.append((name, "deposed")))


def test_one_leads_the_other_follows_and_takes_over_when_the_leader_loses_its_session():
    events: list = []
    first, second = replica("pod-a/1", events), replica("pod-b/1", events)
    try:
        assert first.check() is True and second.check() is False
        assert second.state()["role"] == "follower" and second.state()["leader"] == "pod-a/1"
        assert first.check() is True and second.check() is False  # held, round after round

        # The leader's session is killed (a failover, an admin, a lost node): it must step down.
        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            killed = connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE application_name = 'govbot-scheduler pod-a/1'")).fetchall()
        engine.dispose()
        assert killed == [(True,)]
        assert first.check() is False and "error" in first.state()
        assert second.check() is True
        assert events == [("pod-a/1", "elected"), ("pod-a/1", "deposed"), ("pod-b/1", "elected")]
        # The old leader reconnects as a follower: the lock has a new owner.
        assert first.check() is False and first.state()["leader"] == "pod-b/1"
    finally:
        first.close()
        second.close()


def test_closing_the_leader_frees_the_lock_at_once():
    events: list = []
    first, second = replica("pod-a/2", events), replica("pod-b/2", events)
    try:
        assert first.check() and not second.check()
        first.close()
        assert second.check() is True
    finally:
        first.close()
        second.close()
