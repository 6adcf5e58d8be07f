"""Persistent OTA counters (CNTR, TS 102 225 §5.1.1): allocated before a packet is emitted, never reused.

One counter per (card, key set, TAR-or-key-set scope), in SQLite (WAL journal, synchronous FULL).  Each
allocation is one `BEGIN IMMEDIATE` transaction that commits the next value before the caller sees the current
one, so a value handed out is gone for good: after a crash, a failed send, or with several processes
allocating at once.  Skipped values are harmless (the card only wants CNTR higher); reused ones are replays.

Resynchronisation (after a PoR "counter low") only ever moves a counter forward, explicitly, and is logged
(to the `mcim.ota.counters` logger and to the `ota_counter_resync` table).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import BadInput, StateError
from .errors import PorStatus
from .packet import MAX_CNTR
from .por import ResponsePacket

log = logging.getLogger("mcim.ota.counters")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ota_counter (card TEXT NOT NULL, kvn INTEGER NOT NULL, tar TEXT NOT NULL, "
    "next_value INTEGER NOT NULL, PRIMARY KEY (card, kvn, tar))",
    "CREATE TABLE IF NOT EXISTS ota_counter_resync (id INTEGER PRIMARY KEY, card TEXT NOT NULL, "
    "kvn INTEGER NOT NULL, tar TEXT NOT NULL, old_next INTEGER NOT NULL, new_next INTEGER NOT NULL, "
    "reason TEXT NOT NULL, at REAL NOT NULL)",
)


@dataclass(frozen=True, slots=True)
class CounterScope:
    """Whose counter: a card identity (ICCID/EID), the key set (KVN) and, for per-TAR counters, the TAR."""

    card: str
    kvn: int
    tar: bytes | None = None

    def __post_init__(self) -> None:
        if not self.card or not 0 <= self.kvn <= 0xF or (self.tar is not None and len(self.tar) != 3):
            raise BadInput(f"card {self.card!r}, KVN {self.kvn}", where="counter scope",
                           expected="a card identity, KVN 0..15 and an optional 3-byte TAR")

    def _key(self) -> tuple[str, int, str]:
        return self.card, self.kvn, self.tar.hex() if self.tar is not None else ""

    def __str__(self) -> str:
        return f"card {self.card} KVN {self.kvn}" + (f" TAR {self.tar.hex()}" if self.tar else "")


@dataclass(frozen=True, slots=True)
class Resync:
    scope: CounterScope
    old_next: int
    new_next: int
    reason: str
    at: float


class CounterSource(Protocol):
    def next_counter(self) -> int:
        """The CNTR for the next packet (consumed even if the packet is never sent)."""
        ...


@dataclass(frozen=True, slots=True)
class FixedCounter:
    """A counter the caller manages (e.g. `--cntr N`): always the same value."""

    value: int

    def next_counter(self) -> int:
        return self.value


class CounterStore:
    """SQLite-backed counters; safe across processes.  `initial` is the first value of a new counter."""

    def __init__(self, path: str | Path, *, initial: int = 1, clock: Callable[[], float] = time.time,
                 busy_timeout: float = 30.0) -> None:
        if not 0 <= initial <= MAX_CNTR:
            raise BadInput(f"initial counter {initial}", where="counter store", expected=f"0..{MAX_CNTR}")
        self.path = Path(path)
        self._initial = initial
        self._clock = clock
        try:
            self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._immediate():
                for statement in _SCHEMA:
                    self._db.execute(statement)
        except sqlite3.Error as exc:
            raise StateError(f"cannot open counter store: {exc}", where=str(self.path)) from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CounterStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def allocate(self, scope: CounterScope) -> int:
        return self.allocate_block(scope, 1).start

    def allocate_block(self, scope: CounterScope, count: int) -> range:
        """Reserve `count` consecutive values in one transaction (for campaigns); unused ones are skipped."""
        if count < 1:
            raise BadInput(f"count {count}", where="counter allocation", expected="at least 1")
        with self._immediate():
            first = self._next(scope)
            if first + count - 1 > MAX_CNTR:
                raise StateError(f"{scope}: counter exhausted at {first:010x}", where="counter store",
                                 expected="a new key set (the card blocks CNTR FFFFFFFFFF)")
            self._set_next(scope, first + count)
        return range(first, first + count)

    def peek(self, scope: CounterScope) -> int:
        """The value the next allocation will return (informational: another process may take it first)."""
        return self._next(scope)

    def resynchronise(self, scope: CounterScope, at_least: int, reason: str) -> int:
        """Move the counter so that the next value is at least `at_least`; never backwards.  Logged."""
        if not 0 <= at_least <= MAX_CNTR or not reason:
            raise BadInput(f"value {at_least}", where="counter resynchronisation",
                           expected=f"0..{MAX_CNTR} and a reason")
        with self._immediate():
            old = self._next(scope)
            new = max(old, at_least)
            self._set_next(scope, new)
            self._db.execute("INSERT INTO ota_counter_resync (card, kvn, tar, old_next, new_next, reason, at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", (*scope._key(), old, new, reason, self._clock()))
        log.warning("OTA counter resynchronised: %s next %010x -> %010x (%s)", scope, old, new, reason)
        return new

    def resyncs(self, scope: CounterScope) -> list[Resync]:
        rows = self._db.execute("SELECT old_next, new_next, reason, at FROM ota_counter_resync "
                                "WHERE card = ? AND kvn = ? AND tar = ? ORDER BY id", scope._key()).fetchall()
        return [Resync(scope, *row) for row in rows]

    def source(self, scope: CounterScope) -> StoreCounter:
        return StoreCounter(self, scope)

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _next(self, scope: CounterScope) -> int:
        row = self._db.execute("SELECT next_value FROM ota_counter WHERE card = ? AND kvn = ? AND tar = ?",
                               scope._key()).fetchone()
        return self._initial if row is None else int(row[0])

    def _set_next(self, scope: CounterScope, value: int) -> None:
        self._db.execute("INSERT INTO ota_counter (card, kvn, tar, next_value) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (card, kvn, tar) DO UPDATE SET next_value = excluded.next_value",
                         (*scope._key(), value))


@dataclass(frozen=True, slots=True)
class StoreCounter:
    store: CounterStore
    scope: CounterScope

    def next_counter(self) -> int:
        return self.store.allocate(self.scope)


def resync_after_counter_low(store: CounterStore, scope: CounterScope, por: ResponsePacket, *, margin: int) -> int:
    """After a PoR "CNTR low" (02): the card's counter is at least the rejected value, so move past it by
    `margin` (chosen by the operator: how far the card may be ahead is not in the PoR)."""
    if por.status is not PorStatus.CNTR_LOW:
        raise StateError(f"PoR status {por.status.name}", where="counter resynchronisation",
                         expected="a PoR with status CNTR_LOW (02)")
    if margin < 1:
        raise BadInput(f"margin {margin}", where="counter resynchronisation", expected="at least 1")
    return store.resynchronise(scope, min(por.cntr + margin, MAX_CNTR),
                               f"PoR CNTR low for CNTR {por.cntr:010x} ({por.integrity.value}), margin {margin}")
