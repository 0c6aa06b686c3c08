"""The dashboard store on SQLite and on a real PostgreSQL server: same behaviour on both."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dashboard.store import AlertFilter, Store
from tests.dashboard.conftest import make_alert


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    s = Store(url)
    s.migrate()
    yield s
    s.close()


def test_migrations_apply_once_and_record_versions(store: Store) -> None:
    assert store.schema_version() == 3
    assert store.migrate() == []
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"alerts", "decisions", "deliveries", "outbox", "users", "sessions", "api_tokens", "hooks"} <= tables


def test_old_database_is_brought_forward(tmp_path: Path) -> None:
    """A database at version 1 (without the columns of migration 3) is brought forward, data intact."""
    from dashboard import store as store_mod

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = Store(url)
    with old.engine.begin() as conn:
        store_mod.schema_migrations.create(conn)
        store_mod._migration_1(conn)
        conn.execute(store_mod.schema_migrations.insert().values(version=1, applied_at=0.0))
        conn.execute(sa.text("ALTER TABLE api_tokens DROP COLUMN expires_at"))
        conn.execute(sa.text("ALTER TABLE users DROP COLUMN brands"))
        conn.execute(sa.text("INSERT INTO users (username, password_hash, role, created_at) "
                             "VALUES ('old', 'x', 'moderator', 0)"))
    old.upsert_alert(make_alert())
    assert old.migrate() == [2, 3]
    assert len(old.list_alerts()) == 1
    assert old.user_by_name("old")["brands"] == []
    assert old.create_token("t", "h" * 64, "ops", "old", expires_at=1.0) and old.token("h" * 64) is None  # expired
    old.close()


def test_alert_upsert_keeps_newest_revision_and_ignores_redelivery(store: Store) -> None:
    a1 = make_alert()
    assert store.upsert_alert(a1) is True
    assert store.upsert_alert(a1) is False  # redelivered record: nothing new
    a2 = {**a1, "revision": 2, "title": "updated"}
    assert store.upsert_alert(a2) is True
    assert store.upsert_alert(a1) is False  # an older revision never overwrites
    row = store.alert(a1["alert_id"])
    assert row["revision"] == 2 and row["alert"]["title"] == "updated" and row["status"] == "new"


def test_schema_1_1_fields_live_in_the_alert_json_without_a_migration(store: Store) -> None:
    """Confidence, segment, price and match strength ride in the stored alert JSON (no new columns)."""
    from events import Price, Segment

    alert = make_alert(confidence=0.66, segment=Segment("seg-9.0", 9.0, None, "ACME 托特包", "card"),
                       price=Price(199.0, "CNY", "selling", "到手价199"))
    store.upsert_alert(alert)
    stored = store.alert(alert["alert_id"])["alert"]
    assert stored["confidence"] == 0.66 and stored["segment"]["title"] == "ACME 托特包"
    assert stored["segment"]["media_end"] is None and stored["price"]["text"] == "到手价199"
    assert [e["strength"] for e in stored["evidence"]] == ["exact", "normalized", "detected"]
    assert {e["segment_id"] for e in stored["evidence"]} == {"seg-9.0"}
    assert store.schema_version() == 3


def test_filters_and_unicode_round_trip(store: Store) -> None:
    store.upsert_alert(make_alert(stream_id="s1", brand="acme"))
    store.upsert_alert(make_alert(stream_id="s2", brand="zeta", onset=30.0))
    store.upsert_alert(make_alert(stream_id="s2", brand=None, onset=40.0, rule_id="false_claim.cure"))
    assert {r["stream_id"] for r in store.list_alerts(AlertFilter(stream="s2"))} == {"s2"}
    assert [r["brand"] for r in store.list_alerts(AlertFilter(brand="acme"))] == ["acme"]
    assert len(store.list_alerts(AlertFilter(rule="false_claim.cure"))) == 1
    assert store.list_alerts(AlertFilter(stream="s1"))[0]["alert"]["evidence"][0]["text"].startswith("这款包包")
    assert store.facet_values()["brand"] == ["acme", "zeta"]


def test_decision_sets_status_and_queues_record_atomically(store: Store) -> None:
    alert = make_alert()
    store.upsert_alert(alert)
    record = store.add_decision(alert["alert_id"], "confirm", "二手 高仿 note", "mod1", "livewatch.decisions")
    assert record["status"] == "confirmed" and record["rule_id"] == alert["rule_id"]
    assert store.alert(alert["alert_id"])["status"] == "confirmed"
    queued = store.unsent()
    assert [(r["topic"], r["key"]) for r in queued] == [("livewatch.decisions", alert["alert_id"])]
    assert json.loads(queued[0]["value"])["note"] == "二手 高仿 note"
    store.mark_sent([queued[0]["id"]])
    assert store.unsent() == []
    with pytest.raises(KeyError):
        store.add_decision("no-such-alert", "dismiss", "", "mod1", "livewatch.decisions")


def test_rule_figures_precision_and_series(store: Store) -> None:
    ids = []
    for i in range(4):
        a = make_alert(onset=10.0 * i)
        store.upsert_alert(a)
        ids.append(a["alert_id"])
    store.upsert_alert(make_alert(rule_id="false_claim.cure", onset=99.0))
    store.add_decision(ids[0], "confirm", "", "m", "t")
    store.add_decision(ids[1], "confirm", "", "m", "t")
    store.add_decision(ids[2], "dismiss", "", "m", "t")
    store.add_decision(ids[3], "escalate", "", "m", "t")
    figs = {f["rule_id"]: f for f in store.rule_figures()}
    f = figs["counterfeit.replica_terms"]
    assert (f["alerts"], f["confirmed"], f["dismissed"], f["escalated"]) == (4, 2, 1, 1)
    assert f["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert sum(p["alerts"] for p in f["series"]) == 4
    assert figs["false_claim.cure"]["precision"] is None


def test_deliveries_are_unique_per_alert_and_hook_and_claimed_once(store: Store) -> None:
    hook = store.create_hook("rights holder", "http://127.0.0.1:9/x", "whsec_" + "A" * 32, ["acme"])
    assert store.enqueue_deliveries("a1", [(hook, "msg_1", "{}")], "rule") == 1
    assert store.enqueue_deliveries("a1", [(hook, "msg_1", "{}")], "confirmed") == 0  # idempotent by alert id
    first = store.claim_due_deliveries(lease_s=30)
    assert [d["alert_id"] for d in first] == ["a1"] and first[0]["url"].endswith("/x")
    assert store.claim_due_deliveries(lease_s=30) == []  # leased: a second worker gets nothing
    store.finish_attempt(first[0]["id"], status="dead", attempts=3, next_at=time.time(), http_status=None,
                         error="down", records=[("dlq", "a1", {"alert_id": "a1"})])
    assert store.list_deliveries("a1")[0]["status"] == "dead"
    assert [r["topic"] for r in store.unsent()] == ["dlq"]
    assert store.requeue_delivery(first[0]["id"]) is True
    assert len(store.claim_due_deliveries(lease_s=30)) == 1


def test_users_sessions_and_tokens(store: Store) -> None:
    uid = store.create_user("mod1", "hash", "moderator")
    store.create_session("k1", uid, "csrf1", time.time() + 60)
    store.create_session("k2", uid, "csrf2", time.time() - 1)
    assert store.session_user("k1")["csrf"] == "csrf1"
    assert store.session_user("k2") is None  # expired
    store.delete_session("k1")
    assert store.session_user("k1") is None
    tid = store.create_token("ci", "th", "ops", "admin")
    assert store.token("th")["role"] == "ops"
    assert "token_hash" not in store.list_tokens()[0]
    store.revoke_token(tid)
    assert store.token("th") is None


def test_claims_one_moderator_at_a_time_and_expire(store: Store) -> None:
    alert = make_alert()
    store.upsert_alert(alert)
    aid = alert["alert_id"]
    assert store.claim(aid, "mod1", 60)["username"] == "mod1"
    assert store.claim(aid, "mod2", 60)["username"] == "mod1"  # held: mod2 is told who
    assert store.live_claims() == {aid: "mod1"}
    store.release(aid, "mod2")  # only the holder releases
    assert store.claim_holder(aid)["username"] == "mod1"
    store.claim(aid, "mod1", -1)  # renewed into the past: expired
    assert store.claim(aid, "mod2", 60)["username"] == "mod2"
