"""Faults a test can switch on and off: a full disk under the alert store and under the snapshots.

A real full volume would need a loop mount (root, a kernel that allows it); these inject the very
errors a full disk produces at the two places that write, so the code above them runs for real:

- ``FullDisk.install(store)``: the store's SQLite connection refuses every INSERT and UPDATE with
  ``sqlite3.OperationalError("database or disk is full")`` (SQLITE_FULL) while ``full`` is set,
  inside the transaction the store opened, as SQLite does when the volume is full.
- ``SnapshotsFail``: ``frames.SnapshotStore`` writes raise ``OSError(ENOSPC)`` while ``on`` is set.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class FullDisk:
    """Stands in for an ``AlertStore``'s connection; ``full = True`` makes its writes fail with SQLITE_FULL."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.full = False
        self.refused = 0

    @classmethod
    def install(cls, store: Any) -> FullDisk:
        proxy = cls(store._db)
        store._db = proxy
        return proxy

    def _check(self, sql: str) -> None:
        if self.full and sql.lstrip().split(None, 1)[0].upper() in _WRITES:
            self.refused += 1
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._db.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._db.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class SnapshotsFail:
    """While ``on``, ``frames.SnapshotStore`` cannot write a file: ``OSError(ENOSPC)``, as on a full disk."""

    def __init__(self) -> None:
        self.on = threading.Event()
        self.refused = 0

    def install(self, monkeypatch: Any) -> SnapshotsFail:
        from frames.snapshots import SnapshotStore

        real_write = SnapshotStore._write
        fault = self

        def write(store: SnapshotStore, path: Path, data: bytes) -> None:
            if fault.on.is_set():
                fault.refused += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            real_write(store, path, data)

        monkeypatch.setattr(SnapshotStore, "_write", write)
        return self
