"""PostgreSQL-only behaviour: advisory locks, concurrent start-up, a full delivery run.

Needs a server: set GOVBOT_TEST_POSTGRES_URL, e.g.
``postgresql+psycopg://govbot:govbot@127.0.0.1:5432/govbot_test`` (``.ci/run`` starts one).
The generic store tests in tests/test_store.py also run against it.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.store import LATEST_VERSION, Store, StoreError
from tests.test_store import NOW, FakeResult, make_finding, reset_postgres

POSTGRES_URL = os.environ.get("GOVBOT_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="PostgreSQL tests need GOVBOT_TEST_POSTGRES_URL "
                             "(e.g. postgresql+psycopg://govbot:govbot@127.0.0.1:5432/govbot_test)")


@pytest.fixture
def url():
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


def test_replicas_starting_together_migrate_once(url):
    errors, stores = [], []

    def start():
        try:
            stores.append(Store(url))
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(store.schema_version() == LATEST_VERSION for store in stores)
    for store in stores:
        store.close()


def test_run_lock_is_an_advisory_lock_released_when_the_holder_dies(url):
    first, second = Store(url), Store(url)
    with first.run_lock("deliver"):
        with pytest.raises(StoreError, match="in progress"):
            with second.run_lock("deliver"):
                pass
    # A holder that dies without unlocking: its session ends, the lock goes with it.
    from bot.store import _lock_key

    engine = sa.create_engine(url)
    connection = engine.connect()
    connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _lock_key("deliver")})
    with pytest.raises(StoreError):
        with second.run_lock("deliver"):
            pass
    connection.invalidate()  # the "process" is gone
    engine.dispose()
    # The server ends the backend a moment after the socket closes, not at once: under load
    # that takes a while, so the lock must come free within seconds, not on the first try.
    deadline = time.monotonic() + 15
    while True:
        try:
            with second.run_lock("deliver"):
                break
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    first.close()
    second.close()


def test_lifecycle_and_outbox_on_postgres(url):
    store = Store(url)
    finding = make_finding()
    store.record_scan(FakeResult([finding], read=["PAY-1"]), NOW)
    assert store.enqueue(dedupe_key="k", kind="slack_dm", recipient="U1", payload={"blocks": [{"a": 1}]},
                         fingerprints=[finding.fingerprint], now=NOW) is True
    assert store.enqueue(dedupe_key="k", kind="slack_dm", recipient="U1", payload={}, fingerprints=[],
                         now=NOW) is False
    summary = store.record_scan(FakeResult([], read=["PAY-1"]), NOW + timedelta(days=1))
    assert summary.resolved == [finding.fingerprint]
    store.close()


def test_delivery_run_on_postgres_is_exactly_once(url, tmp_path):
    from tests.deliver.conftest import ALICE, BOB, SLACK_USERS, TOKEN, finding, result, write_config
    from tests.fakes.slack_server import FakeSlack

    from tests.batches import run_delivery
    from bot.deliver.slack_client import SlackClient

    config = write_config(tmp_path, {"store": {"url": url}})
    with FakeSlack(token=TOKEN, users=dict(SLACK_USERS)) as fake:
        slack = SlackClient(TOKEN, fake.api_url, sleep=lambda s: None, timeout=5, channel_interval=0)
        scan = result([finding("PAY-1", ALICE), finding("PAY-2", BOB)])
        for hours in (0, 1):
            store = Store(url)
            run_delivery(config, scan, now=NOW + timedelta(hours=hours), apply=True, store=store, slack=slack,
                         include_comments=False)
            store.close()
        assert sorted(fake.dm_user(p["channel"]) for p in fake.posts()) == ["U0ALICE", "U0BOB"]
