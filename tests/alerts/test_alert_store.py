"""AlertStore: the SQLite outbox every alert is written to before any send."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from alerts import AlertSchemaError, AlertStore, StoreWriteError, verify_evidence
from events import Alert, LivewatchError


def test_append_is_durable_idempotent_and_ordered(tmp_path, make_alert):
    path = tmp_path / "alerts.db"
    with AlertStore(path) as store:
        assert [store.append(make_alert(i)) for i in range(5)] == [True] * 5
        assert store.append(make_alert(2)) is False  # same (alert_id, revision)
        assert store.append(make_alert(2, revision=2)) is True  # a newer revision is a new record
    with AlertStore(path) as reopened:  # on disk, not just in memory
        rows = reopened.unsent(limit=100)
        assert [r.record["media_start"] for r in rows] == [0.0, 1.0, 2.0, 3.0, 4.0, 2.0]
        assert [r.revision for r in rows][-1] == 2
        assert reopened.counts() == {"total": 6, "unsent": 6}
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_mark_sent_get_and_list(tmp_store, make_alert):
    alerts = [make_alert(i, stream_id=f"s{i % 2}") for i in range(4)]
    for a in alerts:
        tmp_store.append(a)
    first = tmp_store.unsent(limit=1)[0]
    tmp_store.mark_sent(first.seq, topic="livewatch.alerts", partition=1, offset=7)
    assert [r.alert_id for r in tmp_store.unsent()] == [a.alert_id for a in alerts[1:]]
    got = tmp_store.get(alerts[0].alert_id)
    assert got.sent and (got.topic, got.partition, got.offset) == ("livewatch.alerts", 1, 7)
    assert isinstance(got.alert, Alert) and got.alert == alerts[0]
    assert tmp_store.get("no-such-id") is None
    assert [r.alert_id for r in tmp_store.stored(stream_id="s1")] == [alerts[1].alert_id, alerts[3].alert_id]
    assert len(tmp_store.stored(unsent_only=True)) == 3
    tmp_store.append(make_alert(0, stream_id="s0", revision=2))
    assert tmp_store.get(alerts[0].alert_id).revision == 2
    assert tmp_store.get(alerts[0].alert_id, revision=1).sent


def test_invalid_alert_is_refused_before_it_is_stored(tmp_store, make_alert):
    record = make_alert(1).to_dict()
    record["score"] = 7
    with pytest.raises(AlertSchemaError, match="score"):
        tmp_store.append(record)
    assert tmp_store.counts()["total"] == 0


def test_unwritable_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LivewatchError, match="cannot open the alert store"):
        AlertStore(blocker / "alerts.db")


def test_appends_from_one_thread_while_another_marks_sent(tmp_store, make_alert):
    n = 200
    sent: list[int] = []

    def deliver():
        while len(sent) < n:
            for row in tmp_store.unsent(limit=50):
                tmp_store.mark_sent(row.seq)
                sent.append(row.seq)
            tmp_store.wait_for_append(0.05)

    sender = threading.Thread(target=deliver)
    sender.start()
    for i in range(n):
        tmp_store.append(make_alert(i))
    sender.join(30)
    assert sent == sorted(sent) and len(set(sent)) == n
    assert tmp_store.counts() == {"total": n, "unsent": 0}


def fill_up(store: AlertStore) -> None:
    """Make the store's volume full, as far as SQLite can tell: new pages are refused with SQLITE_FULL.

    ``max_page_count`` holds per connection, so it is set on the store's own (as ``tests.faults``
    does), and the room left in the last pages is taken by a filler table.
    """
    db = store._db
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 4}")
    db.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
    for size in (4096, 1024, 256, 64, 16, 1):
        try:
            while True:
                db.execute(f"INSERT INTO filler VALUES (randomblob({size}))")
        except sqlite3.OperationalError:
            pass


def make_room(store: AlertStore) -> None:
    store._db.execute("PRAGMA max_page_count = 1073741823")


def test_a_full_store_refuses_writes_with_one_clear_error_and_keeps_what_it_had(tmp_store, make_alert):
    assert tmp_store.append(make_alert(0))
    fill_up(tmp_store)
    with pytest.raises(StoreWriteError) as err:
        for i in range(1, 200):
            tmp_store.append(make_alert(i))
    message = str(err.value)
    assert "database or disk is full" in message and str(tmp_store.path) in message and "\n" not in message
    stored = tmp_store.counts()["total"]
    with pytest.raises(StoreWriteError):
        tmp_store.append(make_alert(500))
    assert tmp_store.counts()["total"] == stored, "a refused append changes nothing"
    make_room(tmp_store)
    assert tmp_store.append(make_alert(500))
    assert tmp_store.counts()["total"] == stored + 1
    assert verify_evidence(tmp_store) == [], "the ledger holds no trace of the refused appends"
