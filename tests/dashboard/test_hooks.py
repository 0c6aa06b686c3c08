"""Takedown hooks: Standard Webhooks signatures, when they fire, and retries onto the DLQ with a real broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from standardwebhooks.webhooks import Webhook

from dashboard import HookOptions, auth, hooks
from dashboard.store import Store
from events import Action, Mode
from tests.conftest import kafka_for
from tests.dashboard.conftest import HookReceiver, make_alert, publish_alerts, unique_topics
from tests.waiting import wait_until


def test_signature_is_standard_webhooks() -> None:
    # The example of the Standard Webhooks specification.
    assert hooks.sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                      b'{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    secret = hooks.generate_secret()
    body = json.dumps(hooks.payload(make_alert(), "rule")).encode()
    headers = hooks.signed_headers(secret, "msg_1", body)
    assert Webhook(secret).verify(body, headers)["data"]["reason"] == "rule"  # an independent verifier agrees
    hooks.verify(secret, headers, body)
    with pytest.raises(hooks.SignatureError):
        hooks.verify(secret, headers, body.replace(b"rule", b"rulf"))
    with pytest.raises(hooks.SignatureError):
        hooks.verify(hooks.generate_secret(), headers, body)
    with pytest.raises(hooks.SignatureError):
        hooks.verify(secret, {**headers, "webhook-timestamp": "1000"}, body)


def test_backoff_is_exponential_and_capped() -> None:
    opts = HookOptions(initial_backoff_s=1.0, max_backoff_s=10.0)
    assert [hooks.backoff_s(opts, n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_who_gets_called_and_when(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.migrate()
    acme = store.create_hook("acme legal", "http://127.0.0.1:9/a", hooks.generate_secret(), ["acme"])
    everyone = store.create_hook("platform", "http://127.0.0.1:9/b", hooks.generate_secret(), [])
    store.create_hook("zeta legal", "http://127.0.0.1:9/z", hooks.generate_secret(), ["zeta"])

    def called(alert: dict[str, Any]) -> set[int]:
        return {d["hook_id"] for d in store.list_deliveries(alert["alert_id"])}

    shadow = make_alert(onset=1.0, mode=Mode.SHADOW, action=Action.TAKEDOWN)
    assert hooks.request_takedown(store, shadow) == 0
    assert hooks.request_takedown(store, shadow, confirmed=True) == 0  # shadow alerts never act
    review = make_alert(onset=2.0, action=Action.REVIEW)
    assert hooks.request_takedown(store, review) == 0  # review rules wait for a moderator
    assert hooks.request_takedown(store, review, confirmed=True, decided_by="mod1") == 2
    assert called(review) == {acme, everyone}  # per-brand subscription: zeta's endpoint is not told
    takedown = make_alert(onset=3.0, brand=None)
    assert hooks.request_takedown(store, takedown) == 1 and called(takedown) == {everyone}
    assert hooks.request_takedown(store, takedown, confirmed=True) == 0  # idempotent by alert id
    store.close()


def test_endpoint_down_retries_then_dlq_and_no_double_call_when_back(
    kafka_broker: str, live_server: Callable[..., Any], hook_receiver: HookReceiver, read_topic: Callable[..., Any],
) -> None:
    topics = unique_topics()
    hook_receiver.stop()  # the endpoint is down from the start
    live = live_server(kafka=kafka_for(kafka_broker).replace(topics=topics),
                       hooks=HookOptions(max_attempts=4, initial_backoff_s=0.3, max_backoff_s=1.0, timeout_s=2.0,
                                         poll_interval_s=0.1, allow_private_targets=True))  # receiver on 127.0.0.1
    token = auth.new_api_token()
    live.store.create_token("test", auth.token_key(token), "admin", "test")
    import httpx

    api = httpx.Client(base_url=live.url, headers={"authorization": f"Bearer {token}"}, timeout=10, trust_env=False)
    hook = api.post("/api/hooks", json={"name": "acme legal", "url": hook_receiver.url, "brands": ["acme"]}).json()
    assert hook["secret"].startswith("whsec_")

    a = make_alert(onset=10.0)
    publish_alerts(kafka_broker, [a], topics.alerts)
    wait_until(lambda: [d["status"] for d in live.store.list_deliveries(a["alert_id"])] == ["dead"], 40,
               lambda: f"a's delivery to die: {live.store.list_deliveries(a['alert_id'])}")
    wait_until(lambda: not live.store.unsent(), 20, "the outbox (the DLQ record) to reach the broker")
    dlq = read_topic(topics.takedowns_dlq, min_records=1, timeout_s=40)
    assert [r.json()["alert_id"] for r in dlq] == [a["alert_id"]]
    assert dlq[0].json()["attempt"] == 4 and dlq[0].json()["payload"]["data"]["alert_id"] == a["alert_id"]

    b = make_alert(onset=20.0)
    publish_alerts(kafka_broker, [b], topics.alerts)
    wait_until(lambda: any(d["attempts"] for d in live.store.list_deliveries(b["alert_id"])), 30,
               "a first failed attempt to call about b")
    assert live.store.list_deliveries(b["alert_id"])[0]["status"] == "pending"
    hook_receiver.start()  # the endpoint comes back, same address
    hook_receiver.wait_calls(1, timeout_s=20)

    # Redelivery, a newer revision and confirms must not call again, for either alert.
    publish_alerts(kafka_broker, [a, b, {**b, "revision": 2}], topics.alerts)
    for alert in (a, b):
        assert api.post(f"/api/alerts/{alert['alert_id']}/decisions", json={"decision": "confirm"}).status_code == 201
    # b's revision 2, published last on the same partition, is stored: the dashboard has handled all three
    wait_until(lambda: live.store.alert(b["alert_id"])["alert"]["revision"] == 2, 30, "the republished alerts to be read")
    wait_until(lambda: not live.store.unsent() and all(d["status"] != "pending" for x in (a, b)
                                                        for d in live.store.list_deliveries(x["alert_id"])), 20,
               lambda: f"deliveries to settle: {[live.store.list_deliveries(x['alert_id']) for x in (a, b)]}")
    calls = list(hook_receiver.calls)
    assert len(calls) == 1, [c["headers"]["webhook-id"] for c in calls]
    assert calls[0]["headers"]["webhook-id"] == hooks.message_id(b["alert_id"], hook["id"])
    assert Webhook(hook["secret"]).verify(calls[0]["body"], calls[0]["headers"])["data"]["alert_id"] == b["alert_id"]

    log = [r.json() for r in read_topic(topics.takedowns, min_records=6, timeout_s=20)]
    outcomes = {k: [r["outcome"] for r in log if r["alert_id"] == k] for k in (a["alert_id"], b["alert_id"])}
    assert outcomes[a["alert_id"]] == ["retry", "retry", "retry", "dead"]
    assert outcomes[b["alert_id"]][-1] == "delivered" and set(outcomes[b["alert_id"]][:-1]) == {"retry"}
    assert len(read_topic(topics.takedowns_dlq, min_records=1)) == 1
    decisions = read_topic(topics.decisions, min_records=2)
    assert {r.key.decode() for r in decisions} == {a["alert_id"], b["alert_id"]}
    api.close()
