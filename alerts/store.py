"""The local alert store: a SQLite outbox every alert is written to before any send.

Kafka may be down, slow or restarted (the embedded broker keeps nothing across
restarts); the store is the durable record. The worker thread appends, the
publisher's delivery thread reads ``unsent()`` and marks records sent only
after the broker acknowledged them, so an alert is never lost between the two.

The same file holds the evidence ledger: appending an alert also appends one
hash-chained record per evidence item (``alerts.ledger`` computes them), in
the same transaction, so the ledger and the outbox cannot disagree. This
module holds all the SQL of both tables; ``alerts.evidence`` verifies and
exports the ledger through the methods below.

A write that fails because of the file system (a full disk: SQLite's
"database or disk is full", an I/O error, a read-only volume) raises
``StoreWriteError`` and changes nothing; the publisher keeps such alerts in
memory and appends them once the store can be written again.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from alerts.ledger import canonical_json, ledger_rows, sha256_text
from alerts.validate import validate_alert
from events import Alert, LivewatchError

log = logging.getLogger(__name__)

_SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    stream_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    payload TEXT NOT NULL,
    appended_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at REAL,
    topic TEXT,
    partition INTEGER,
    "offset" INTEGER,
    UNIQUE (alert_id, revision)
);
CREATE INDEX IF NOT EXISTS alerts_unsent ON alerts (seq) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_stream ON alerts (stream_id, seq);
CREATE TABLE IF NOT EXISTS evidence_records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    alert_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    item INTEGER NOT NULL,
    modality TEXT NOT NULL,
    content TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    alert_sha256 TEXT NOT NULL,
    snapshot_path TEXT,
    snapshot_sha256 TEXT,
    recorded_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    record_hash TEXT NOT NULL,
    UNIQUE (alert_id, revision, item),
    UNIQUE (stream_id, n)
);
"""


@dataclass(frozen=True)
class StoredAlert:
    """One row of the outbox: the alert's canonical JSON and its delivery state.

    ``attempts > 0`` with ``sent_at is None`` means a send was tried and its
    outcome is unknown (the broker may hold it): the publisher checks the
    topic before sending it again.
    """

    seq: int
    alert_id: str
    revision: int
    stream_id: str
    mode: str
    payload: str
    appended_at: float
    attempts: int = 0
    last_error: str | None = None
    sent_at: float | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    @property
    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(self.payload)
        return record

    @property
    def alert(self) -> Alert:
        return Alert.from_dict(self.record)

    @property
    def sent(self) -> bool:
        return self.sent_at is not None


class StoreWriteError(LivewatchError):
    """The alert store cannot be written now (full disk, I/O error, read-only volume); nothing was changed."""


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn the file system's refusals into ``StoreWriteError`` (bugs in our SQL stay what they are)."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as exc:
        raise StoreWriteError(f"cannot write the alert store {path}: {exc}; free space on its volume") from exc


_COLUMNS = "seq, alert_id, revision, stream_id, mode, payload, appended_at, attempts, last_error, sent_at, topic, partition, \"offset\""


class AlertStore:
    """SQLite (WAL) outbox plus evidence ledger; safe to share between threads.

    ``snapshot_root`` resolves relative snapshot paths of evidence items (the
    ledger hashes the snapshot bytes when the alert is appended).
    """

    def __init__(self, path: str | Path, *, snapshot_root: str | Path | None = None) -> None:
        self.path = Path(path)
        self.snapshot_root = Path(snapshot_root) if snapshot_root is not None else None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # appended means on disk, before any send
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise LivewatchError(f"cannot open the alert store {self.path}: {exc}; check the path is writable") from exc
        self._lock = threading.RLock()
        self._appended = threading.Condition(self._lock)

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"store schema {version} is newer than this livewatch ({_SCHEMA_VERSION})")
        self._db.executescript(_DDL + f"PRAGMA user_version={_SCHEMA_VERSION};")

    # -- writing -----------------------------------------------------------

    def append(self, alert: Alert | Mapping[str, Any]) -> bool:
        """Validate and durably store ``alert`` with its evidence records.

        Returns False (and changes nothing) when this (alert_id, revision) is
        already stored: appending is idempotent, so a retried append or a
        re-scan does not publish twice.
        """
        record = alert.to_dict() if isinstance(alert, Alert) else dict(alert)
        validate_alert(record)
        payload = canonical_json(record)
        with self._lock, _writing(self.path), self._transaction():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO alerts (alert_id, revision, stream_id, mode, payload, appended_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (record["alert_id"], record["revision"], record["stream_id"], record["mode"], payload, time.time()),
            )
            if cur.rowcount == 0:
                self._warn_if_different(record, payload)
                return False
            tip = self._db.execute(
                "SELECT n, record_hash FROM evidence_records WHERE stream_id = ? ORDER BY n DESC LIMIT 1",
                (record["stream_id"],),
            ).fetchone()
            for row in ledger_rows(record, sha256_text(payload), self.snapshot_root, tuple(tip) if tip else None):
                self._db.execute(
                    f"INSERT INTO evidence_records ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    tuple(row.values()),
                )
            self._appended.notify_all()
        return True

    def _warn_if_different(self, record: Mapping[str, Any], payload: str) -> None:
        stored = self.get(record["alert_id"], record["revision"])
        if stored is not None and stored.payload != payload:
            log.warning(
                "alert %s revision %s appended again with different content; kept the first",
                record["alert_id"], record["revision"],
                extra={"stream_id": record["stream_id"], "alert_id": record["alert_id"]},
            )

    def mark_attempt(self, seqs: list[int]) -> None:
        """Record that a send of these rows is about to start (their outcome is then in doubt)."""
        with self._lock, _writing(self.path), self._transaction():
            self._db.executemany("UPDATE alerts SET attempts = attempts + 1 WHERE seq = ?", [(s,) for s in seqs])

    def mark_sent(self, seq: int, *, topic: str | None = None, partition: int | None = None,
                  offset: int | None = None) -> None:
        """The broker acknowledged row ``seq`` (at topic/partition/offset when known)."""
        self.mark_sent_many([(seq, topic, partition, offset)])

    def mark_sent_many(self, acks: list[tuple[int, str | None, int | None, int | None]]) -> None:
        """``mark_sent`` for many (seq, topic, partition, offset) in one transaction (one fsync)."""
        now = time.time()
        with self._lock, _writing(self.path), self._transaction():
            self._db.executemany(
                "UPDATE alerts SET sent_at = ?, topic = ?, partition = ?, \"offset\" = ?, last_error = NULL "
                "WHERE seq = ? AND sent_at IS NULL",
                [(now, topic, partition, offset, seq) for seq, topic, partition, offset in acks],
            )

    def mark_failed(self, seqs: list[int], error: str) -> None:
        with self._lock, _writing(self.path), self._transaction():
            self._db.executemany("UPDATE alerts SET last_error = ? WHERE seq = ?", [(error[:500], s) for s in seqs])

    # -- reading -----------------------------------------------------------

    def unsent(self, limit: int = 100) -> list[StoredAlert]:
        """Rows not yet acknowledged by the broker, in append order."""
        return self._select("WHERE sent_at IS NULL ORDER BY seq LIMIT ?", (limit,))

    def get(self, alert_id: str, revision: int | None = None) -> StoredAlert | None:
        """One revision of an alert, or its latest revision."""
        if revision is None:
            rows = self._select("WHERE alert_id = ? ORDER BY revision DESC LIMIT 1", (alert_id,))
        else:
            rows = self._select("WHERE alert_id = ? AND revision = ?", (alert_id, revision))
        return rows[0] if rows else None

    def stored(self, *, stream_id: str | None = None, unsent_only: bool = False, after_seq: int = 0,
               limit: int = 1000) -> list[StoredAlert]:
        """Stored alerts in append order, optionally of one stream or only the unsent ones."""
        where, args = ["seq > ?"], list[object]([after_seq])
        if stream_id is not None:
            where.append("stream_id = ?")
            args.append(stream_id)
        if unsent_only:
            where.append("sent_at IS NULL")
        return self._select(f"WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", (*args, limit))

    def last_seq(self) -> int:
        """Sequence number of the newest row (0 when empty)."""
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM alerts").fetchone()[0])

    def counts(self) -> dict[str, int]:
        with self._lock:
            total, unsent = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(sent_at IS NULL), 0) FROM alerts"
            ).fetchone()
        return {"total": int(total), "unsent": int(unsent)}

    def wait_for_append(self, timeout: float) -> None:
        """Block until another thread appends, or ``timeout`` s pass (wakes the publisher early)."""
        with self._appended:
            self._appended.wait(timeout)

    def revisions(self, alert_id: str | None = None) -> list[StoredAlert]:
        """Every stored revision of ``alert_id`` in revision order; of every alert (append order) when None."""
        if alert_id is None:
            return self._select("ORDER BY seq", ())
        return self._select("WHERE alert_id = ? ORDER BY revision", (alert_id,))

    def last_acked_offsets(self, before_seq: int) -> dict[tuple[str, int], int]:
        """Per (topic, partition), the offset of the last acknowledged row appended before ``before_seq``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT topic, partition, MAX(\"offset\") AS last FROM alerts "
                "WHERE sent_at IS NOT NULL AND \"offset\" IS NOT NULL AND seq < ? GROUP BY topic, partition",
                (before_seq,),
            ).fetchall()
        return {(r["topic"], r["partition"]): r["last"] for r in rows}

    # -- the evidence ledger ---------------------------------------------------

    def evidence_records(self, alert_id: str | None = None) -> list[dict[str, Any]]:
        """The ledger's records (of one alert, or all) in chain order: by stream, then link number."""
        where, args = ("WHERE alert_id = ? ", (alert_id,)) if alert_id is not None else ("", ())
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM evidence_records {where}ORDER BY stream_id, n, seq", args).fetchall()
        return [dict(row) for row in rows]

    def chain_heads(self) -> dict[str, str]:
        """The last record hash of each stream's chain: publish it to anchor the ledger."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stream_id, record_hash FROM evidence_records e WHERE n = "
                "(SELECT MAX(n) FROM evidence_records WHERE stream_id = e.stream_id)"
            ).fetchall()
        return {r["stream_id"]: r["record_hash"] for r in rows}

    def _select(self, tail: str, args: tuple[Any, ...]) -> list[StoredAlert]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM alerts {tail}", args).fetchall()
        return [StoredAlert(**dict(row)) for row in rows]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AlertStore({str(self.path)!r})"


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT/ROLLBACK (the connection runs in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not exc_type:
            try:
                self._db.execute("COMMIT")
                return
            except BaseException:
                self._rollback()  # a COMMIT refused for lack of space leaves the transaction open
                raise
        self._rollback()

    def _rollback(self) -> None:
        if self._db.in_transaction:  # SQLite may have rolled back by itself (SQLITE_FULL, I/O errors)
            self._db.execute("ROLLBACK")

