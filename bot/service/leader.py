"""Which replica runs the schedule: one leader per store, so two replicas never both run a job.

PostgreSQL store: every replica of ``govbot serve`` serves ``/healthz``,
``/metrics`` and chat; only the one holding a *session-level advisory lock*
on a dedicated connection runs the scheduler. The lock belongs to that
connection, so it goes when the leader does: a killed process (its socket is
closed by the kernel) at once, a lost node within about half a minute (the
connection sets server-side TCP keepalives of 10s x 3). The others try to take
the lock every ``service.leader_check_every`` (15s), so one of them takes the
schedule over within a minute. A leader that can no longer reach the
database stops its schedule: it cannot be sure it still holds the lock.

A new leader starts the schedule afresh from the moment it was elected: a
slot the old leader missed while dying is not run late (slots coalesce the
same way when one process restarts), and a job the old leader was running
when it died is finished by the next slot, the outbox making sure no message
is sent twice.

SQLite store: there is one replica. A second ``govbot serve`` on the same
SQLite file refuses to start (an flock beside the database) rather than run
every job twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("govbot.service")

LOCK_NAME = "govbot:scheduler"
# pg_stat_activity.application_name of the connection holding the lock: how followers name the leader.
APPLICATION_PREFIX = "govbot-scheduler "


def lock_key() -> int:
    digest = hashlib.sha256(LOCK_NAME.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def replica_name() -> str:
    """This replica as people and pg_stat_activity see it: the host (the pod's name) and the process."""
    return f"{socket.gethostname()}/{os.getpid()}"


class Leadership:
    """Elect this replica or follow another; ``on_elected`` / ``on_deposed`` run as the role changes."""

    kind = "postgresql"

    def __init__(self, url: str, *, check_every: float, on_elected: Callable[[], None],
                 on_deposed: Callable[[], None], name: str | None = None):
        self.url = url
        self.check_every = check_every
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.name = name or replica_name()
        self.leader = False
        self.since: datetime | None = None
        self.last_error: str | None = None
        self.known_leader: str | None = None  # the holder as of the last round (health reads this, not the database)
        self.rounds = 0
        self._connection = None
        self._engine = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the lock ----------------------------------------------------------------------------------
    def _connect(self):
        import sqlalchemy as sa
        from sqlalchemy import pool

        if self._engine is None:
            self._engine = sa.create_engine(self.url, poolclass=pool.NullPool, connect_args={
                "connect_timeout": 10, "application_name": (APPLICATION_PREFIX + self.name)[:63],
                # Client side: notice a dead server. Server side (the SETs below): notice a dead client,
                # so the lock of a leader whose node vanished is freed in ~40s, not the kernel's 2 hours.
                "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3})
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        for setting in ("tcp_keepalives_idle = 10", "tcp_keepalives_interval = 5", "tcp_keepalives_count = 3",
                        "statement_timeout = 10000"):
            connection.execute(sa.text(f"SET {setting}"))
        return connection

    def _try_acquire(self) -> bool:
        import sqlalchemy as sa

        if self._connection is None:
            self._connection = self._connect()
        return bool(self._connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"),
                                             {"key": lock_key()}).scalar())

    def _still_held(self) -> bool:
        import sqlalchemy as sa

        unsigned = lock_key() & 0xFFFFFFFFFFFFFFFF
        return bool(self._connection.execute(sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
            "AND classid::bigint = :high AND objid::bigint = :low"),
            {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF}).scalar())

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except Exception:  # noqa: BLE001 - a dead connection is being thrown away anyway
                pass

    # -- one round ------------------------------------------------------------------------------------
    def check(self) -> bool:
        """Take the lock if free, or make sure it is still held; returns whether this replica leads."""
        with self._lock:
            if self._stop.is_set():
                return self.leader
            try:
                held = self._still_held() if self.leader else self._try_acquire()
                self.last_error = None
            except Exception as error:  # noqa: BLE001 - the database is unreachable: not the leader
                self.last_error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                self._drop_connection()
                held = False
            was = self.leader
            self.leader = held
            if held and not was:
                self.since = datetime.now(timezone.utc)
            self.known_leader = self.name if held else (self._holder() if self._connection is not None else None)
            self.rounds += 1
        if held and not was:
            log.info("leader: %s runs the schedule now", self.name, extra={"leader": self.name})
            self.on_elected()
        elif was and not held:
            self.since = None
            log.error("leader: %s lost the scheduler lock (%s); its schedule stops, another replica takes it over",
                      self.name, self.last_error or "lock gone", extra={"leader": None})
            self.on_deposed()
        return held

    def start(self) -> "Leadership":
        """One round now (the first replica up leads at once), then one every ``check_every``."""
        self.check()
        if not self.leader:
            log.info("leader: another replica runs the schedule (%s); %s serves health and chat and takes "
                     "over if it stops", self.current_leader() or "unknown", self.name)
        self._thread = threading.Thread(target=self._loop, name="govbot-leader", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.check_every):
            self.check()

    def alive(self) -> bool:
        """Still watching for the leader's place (or starting to)."""
        return not self._stop.is_set() and (self._thread is None or self._thread.is_alive())

    def current_leader(self) -> str | None:
        """Who held the lock at the last round (this replica's name when it leads); None: unknown."""
        return self.name if self.leader else self.known_leader

    def _holder(self) -> str | None:
        """Who holds the lock, as PostgreSQL tells it (the caller holds ``_lock``)."""
        import sqlalchemy as sa

        unsigned = lock_key() & 0xFFFFFFFFFFFFFFFF
        try:
            name = self._connection.execute(sa.text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = :high "
                "AND l.objid::bigint = :low LIMIT 1"), {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF}
            ).scalar()
        except Exception:  # noqa: BLE001 - the health page says "unknown" rather than failing
            return None
        if not name:
            return None
        return name[len(APPLICATION_PREFIX):] if name.startswith(APPLICATION_PREFIX) else name

    def state(self) -> dict[str, Any]:
        role = "leader" if self.leader else ("follower" if self.rounds else "electing")
        return {"role": role, "replica": self.name,
                "leader": self.current_leader(), "since": self.since.isoformat() if self.since else None,
                "election": "postgresql advisory lock", **({"error": self.last_error} if self.last_error else {})}

    def close(self) -> None:
        """Stop checking and let the lock go, so a follower can take the schedule over at its next round."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            if self.leader:
                self._release()
            self._drop_connection()
            self.leader = False
        if self._engine is not None:
            self._engine.dispose()

    def _release(self) -> None:
        """Unlock before hanging up: closing the session frees the lock too, but only once the server's
        backend has noticed and exited, which a follower asking straight away can beat."""
        import sqlalchemy as sa

        try:
            self._connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key()})
        except Exception:  # noqa: BLE001 - the database is gone: hanging up below frees the lock anyway
            pass


class SingleReplica:
    """SQLite (or the demo's memory): this process is the only replica and runs the schedule.

    For a file, an flock beside the database keeps a second ``govbot serve`` from
    starting on it: two processes would both run every job.
    """

    kind = "single"

    def __init__(self, path: Path | None, *, on_elected: Callable[[], None], display: str = ""):
        self.path = path
        self.on_elected = on_elected
        self.display = display
        self.name = replica_name()
        self.leader = False
        self.since: datetime | None = None
        self._handle = None

    def start(self) -> "SingleReplica":
        if self.path is not None:
            self._hold_file_lock()
            log.info("scheduler: the only replica on the SQLite store %s; two replicas need a PostgreSQL store, "
                     "where they elect one scheduler", self.display)
        self.leader, self.since = True, datetime.now(timezone.utc)
        self.on_elected()
        return self

    def _hold_file_lock(self) -> None:
        import fcntl

        from bot.store import StoreError

        lock_path = self.path.with_name(self.path.name + ".serve.lock")
        try:
            handle = open(os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600), "r+")
        except OSError as error:
            raise StoreError(f"cannot create lock file {lock_path}: {error.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read(200).strip()
            handle.close()
            raise StoreError(  # exit 3, as for any store another process holds
                f"another govbot serve is running on the SQLite store {self.display}"
                + (f" ({holder})" if holder else "")
                + ": with SQLite, govbot runs as one replica",
                hint="stop the other one, or move the store to PostgreSQL (store.url: postgresql+psycopg://...) "
                     "to run two replicas that elect one scheduler") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{self.name} since {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC\n")
        handle.flush()
        self._handle = handle

    def alive(self) -> bool:
        return True

    def current_leader(self) -> str | None:
        return self.name

    def state(self) -> dict[str, Any]:
        return {"role": "leader", "replica": self.name, "leader": self.name,
                "since": self.since.isoformat() if self.since else None,
                "election": "none: an SQLite store runs one replica"}

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing releases the flock
            self._handle = None
        self.leader = False


def leadership_for(config, *, check_every: float, on_elected: Callable[[], None],
                   on_deposed: Callable[[], None], store_url: str | None):
    """Leader election for this store: PostgreSQL elects; SQLite and memory have one replica."""
    from sqlalchemy.engine import make_url

    from bot.store.database import sqlite_path

    if store_url is not None and make_url(store_url).get_backend_name() == "postgresql":
        return Leadership(store_url, check_every=check_every, on_elected=on_elected, on_deposed=on_deposed)
    path = sqlite_path(store_url) if store_url else None
    display = make_url(store_url).render_as_string(hide_password=True) if store_url else "in memory"
    return SingleReplica(path, on_elected=on_elected, display=display)
