"""Rate-limit counters in the database (``limits`` storage), so every web process shares them.

``limits`` (behind Flask-Limiter) stores its counters in memory, Redis, Memcached, MongoDB or
etcd — nothing SQL — and this service coordinates its processes through the database only. This is
the smallest storage ``limits`` accepts for its moving-window strategy: one row per counted hit,
the window a ``COUNT`` over the key's rows younger than it.
"""
from __future__ import annotations

import time
from typing import Any

from limits.storage import MovingWindowSupport, Storage
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from monitor.store.db import Database
from monitor.store.models import RateLimitHit


class DatabaseStorage(Storage, MovingWindowSupport):
    STORAGE_SCHEME = ["smartmon-db"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, database: Database | None = None,
                 **_: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        if database is None:
            raise ValueError("DatabaseStorage needs database=")
        self.db = database

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def _count(self, session, key: str, since: float) -> int:
        return session.scalar(select(func.count()).where(RateLimitHit.key == key, RateLimitHit.at > since))

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self.db.session() as session:
            if not self.db.is_sqlite:
                # SQLite's write lock already serialises this; PostgreSQL needs the key locked so
                # two processes cannot both see room for the last hit.
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
            session.execute(delete(RateLimitHit).where(RateLimitHit.expires_at <= now))
            if self._count(session, key, now - expiry) + amount > limit:
                return False
            session.add_all([RateLimitHit(key=key, at=now, expires_at=now + expiry) for _ in range(amount)])
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(the oldest counted hit still in the window, how many there are)."""
        now = time.time()
        with self.db.read_session() as session:
            newest = (select(RateLimitHit.at).where(RateLimitHit.key == key, RateLimitHit.at > now - expiry)
                      .order_by(RateLimitHit.at.desc()).limit(limit).subquery())
            oldest, count = session.execute(select(func.min(newest.c.at), func.count()).select_from(newest)).one()
        return (oldest, count) if count else (now, 0)

    # The fixed-window half of the Storage interface, which ``limits`` requires of every storage.
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self.db.session() as session:
            session.add_all([RateLimitHit(key=key, at=now, expires_at=now + expiry) for _ in range(amount)])
            session.flush()
            return session.scalar(select(func.count()).where(RateLimitHit.key == key,
                                                             RateLimitHit.expires_at > now))

    def get(self, key: str) -> int:
        with self.db.read_session() as session:
            return session.scalar(select(func.count()).where(RateLimitHit.key == key,
                                                             RateLimitHit.expires_at > time.time()))

    def get_expiry(self, key: str) -> float:
        with self.db.read_session() as session:
            latest = session.scalar(select(func.max(RateLimitHit.expires_at)).where(RateLimitHit.key == key))
        return latest or time.time()

    def check(self) -> bool:
        try:
            self.db.ping()
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.db.session() as session:
            return session.execute(delete(RateLimitHit)).rowcount

    def clear(self, key: str) -> None:
        with self.db.session() as session:
            session.execute(delete(RateLimitHit).where(RateLimitHit.key == key))
