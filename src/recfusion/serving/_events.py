"""Live interaction events: durable in an embedded SQLite database, mirrored in memory.

An event is acknowledged only after its transaction commits with ``synchronous=FULL`` in
WAL mode, so an acknowledged event survives a crash of the process (and of the machine,
as far as the disk honours fsync). The in-memory mirror maps each user id to its events
so a request reads a user's events without touching the database.

One server process owns the database: a second process writing to the same file would
not see the first one's events until it restarts.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recfusion.errors import InputError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        item_id TEXT NOT NULL,
        timestamp REAL NOT NULL,
        weight REAL NOT NULL,
        received_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS events_by_user ON events (user_id, seq)",
)


@dataclass(frozen=True)
class Event:
    """One interaction event.

    Parameters
    ----------
    user_id, item_id : str
        External ids, stored exactly as given.
    timestamp : float
        Event time in seconds since the Unix epoch (the server's clock when not supplied).
    weight : float
        Interaction strength (> 0).
    seq : int
        Position in the log, assigned on commit (0 before).
    """

    user_id: str
    item_id: str
    timestamp: float
    weight: float = 1.0
    seq: int = 0


class EventStore:
    """Append-only event log in SQLite with an in-memory per-user index.

    Parameters
    ----------
    path : Path
        Database file; created with its parent directory when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._by_user: dict[str, list[tuple[str, float, float]]] = {}
        self._count = 0
        try:
            self._connection = self._connect()
            self._replay()
        except sqlite3.Error as exc:
            raise InputError(
                f"event store: cannot open SQLite database {self.path}: {exc} "
                "(hint: pass --events with a writable file path)"
            ) from None

    def _connect(self) -> sqlite3.Connection:
        """Open the database in WAL mode with full fsync on commit."""
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            connection.close()
            raise InputError(
                f"event store: database {self.path} refused WAL journal mode (got {mode!r}); "
                "hint: put it on a local file system"
            )
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        for statement in _SCHEMA:
            connection.execute(statement)
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            connection.close()
            raise InputError(
                f"event store: database {self.path} has schema version {version}; "
                f"expected {SCHEMA_VERSION}"
            )
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return connection

    def _replay(self) -> None:
        """Load every stored event into the in-memory index."""
        started = time.perf_counter()
        rows = self._connection.execute(
            "SELECT user_id, item_id, timestamp, weight FROM events ORDER BY seq"
        )
        for user_id, item_id, timestamp, weight in rows:
            self._by_user.setdefault(user_id, []).append((item_id, timestamp, weight))
            self._count += 1
        logger.info(
            "event store %s: %d events of %d users loaded in %.2f s",
            self.path, self._count, len(self._by_user), time.perf_counter() - started,
        )

    @property
    def count(self) -> int:
        """Number of stored events."""
        return self._count

    @property
    def n_users(self) -> int:
        """Number of distinct users with events."""
        return len(self._by_user)

    def append(self, events: Sequence[Event]) -> list[Event]:
        """Store ``events`` in one transaction; returns them with their ``seq``.

        Returns only after the commit is durable; on any failure nothing is stored and the
        exception propagates.
        """
        received = time.time()
        with self._lock:
            cursor = self._connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                stored = [self._insert(cursor, event, received) for event in events]
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            for event in stored:
                self._by_user.setdefault(event.user_id, []).append(
                    (event.item_id, event.timestamp, event.weight)
                )
            self._count += len(stored)
        return stored

    @staticmethod
    def _insert(cursor: sqlite3.Cursor, event: Event, received: float) -> Event:
        cursor.execute(
            "INSERT INTO events (user_id, item_id, timestamp, weight, received_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (event.user_id, event.item_id, event.timestamp, event.weight, received),
        )
        return Event(event.user_id, event.item_id, event.timestamp, event.weight,
                     int(cursor.lastrowid or 0))

    def user_events(self, user_id: str) -> tuple[tuple[str, float, float], ...]:
        """Events of ``user_id`` as (item id, timestamp, weight), in arrival order."""
        events = self._by_user.get(user_id)
        if not events:
            return ()
        with self._lock:
            return tuple(events)

    def has_user(self, user_id: str) -> bool:
        return user_id in self._by_user

    def stored_events(self, user_id: str, limit: int) -> list[Event]:
        """The latest ``limit`` events of ``user_id`` read from the database, oldest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT seq, item_id, timestamp, weight FROM events WHERE user_id = ? "
                "ORDER BY seq DESC LIMIT ?",
                (user_id, limit),
            ).fetchall()
        return [Event(user_id, item, ts, weight, seq) for seq, item, ts, weight in rows[::-1]]

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self._lock:
                self._connection.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._connection.close()


__all__ = ["Event", "EventStore", "SCHEMA_VERSION"]
