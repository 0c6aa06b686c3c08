"""The moderator's loop in a real browser (Debian's Chromium via Playwright) against a real broker.

Sign in, watch an alert published to Kafka appear without reloading, open
its evidence, confirm it, and see the rights holder's endpoint receive a
correctly signed takedown call; a moderator cannot reach the ops pages.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import pytest
from standardwebhooks.webhooks import Webhook

from dashboard import auth, hooks
from events import Action, Price, Segment
from tests.conftest import kafka_for
from tests.dashboard.conftest import HookReceiver, legacy_alert, make_alert, publish_alerts, unique_topics
from tests.waiting import wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def test_moderator_sees_alert_live_confirms_it_and_takedown_is_signed(
    browser: Any, kafka_broker: str, live_server: Callable[..., Any], hook_receiver: HookReceiver,
    read_topic: Callable[..., Any],
) -> None:
    topics = unique_topics()
    live = live_server(kafka=kafka_for(kafka_broker).replace(topics=topics))
    live.store.create_user("mod1", auth.hash_password("moderator-pass"), "moderator")
    secret = hooks.generate_secret()
    hook_id = live.store.create_hook("acme legal", hook_receiver.url, secret, ["acme"])

    page = browser.new_page()
    page.set_default_timeout(20_000)
    page.goto(live.url + "/")
    assert "/login" in page.url  # nothing without signing in
    page.fill("input[name=username]", "mod1")
    page.fill("input[name=password]", "moderator-pass")
    page.click("button[type=submit]")
    page.wait_for_selector("#live.on")  # the event stream is open

    alert = make_alert(snapshot_path="ab/logo.jpg", action=Action.REVIEW, title="高仿 ACME bags live")
    publish_alerts(kafka_broker, [alert], topics.alerts)
    row = page.wait_for_selector(f'tr[data-alert-id="{alert["alert_id"]}"]')  # appears without reloading
    assert "高仿 ACME bags live" in row.inner_text()
    assert row.query_selector("td.confidence").inner_text() == "91%"  # the live row has the confidence column
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # still the same page load

    row.query_selector("a").click()
    page.wait_for_selector("#alert-title")
    assert "counterfeit.replica_terms v3" in page.inner_text("#alert-rule")
    assert page.inner_text("#transcript mark") == "高仿"
    box = page.query_selector("figure.snap rect.logo-box")
    assert box is not None and box.get_attribute("width") == "120"
    snap_status = page.evaluate("""async () => {
        const href = document.querySelector('figure.snap image').getAttribute('href');
        return (await fetch(href)).status; }""")
    assert snap_status == 200
    assert page.get_attribute("#stream-link", "href") == "rtmp://127.0.0.1/live/shop-1"

    page.fill("#decide input[name=note]", "replica bags, brand confirmed")
    page.click("#decide button[value=confirm]")
    page.wait_for_selector("#alert-status.st-confirmed")
    if os.environ.get("LIVEWATCH_SCREENSHOTS"):
        page.screenshot(path=os.environ["LIVEWATCH_SCREENSHOTS"] + "/alert.png", full_page=True)
    assert "replica bags, brand confirmed" in page.inner_text("#decisions")

    calls = hook_receiver.wait_calls(1)
    assert len(calls) == 1
    data = Webhook(secret).verify(calls[0]["body"], calls[0]["headers"])["data"]
    assert data["alert_id"] == alert["alert_id"] and data["reason"] == "confirmed" and data["decided_by"] == "mod1"
    assert calls[0]["headers"]["webhook-id"] == hooks.message_id(alert["alert_id"], hook_id)

    wait_until(lambda: not live.store.unsent(), 20, "the outbox (the decision record) to reach the broker")
    decisions = read_topic(topics.decisions, min_records=1)
    assert decisions[0].key.decode() == alert["alert_id"] and decisions[0].json()["decision"] == "confirm"

    assert page.query_selector('a[href="/ops"]') is None
    for path in ("/ops", "/ops/explain", "/admin"):
        resp = page.goto(live.url + path)
        assert resp.status == 403 and "needs the" in page.inner_text("#error-detail")
    page.close()


def test_alert_page_shows_product_segment_bound_price_and_confidence(
    browser: Any, live_server: Callable[..., Any],
) -> None:
    live = live_server(deliver_hooks=False)
    live.store.create_user("mod1", auth.hash_password("moderator-pass"), "moderator")
    alert = make_alert(confidence=0.874, title="ACME 托特包 replica",
                       segment=Segment("seg-10.0", 10.0, None, "ACME 经典款托特包 <b>限量</b>", "card"),
                       price=Price(199.0, "CNY", "selling", "到手价199"))
    alert["evidence"][0]["strength"] = "homophone"
    live.store.upsert_alert(alert)
    legacy = legacy_alert(onset=300.0, title="schema 1.0 alert")
    live.store.upsert_alert(legacy)

    page = browser.new_page()
    page.set_default_timeout(20_000)
    page.goto(live.url + "/login")
    page.fill("input[name=username]", "mod1")
    page.fill("input[name=password]", "moderator-pass")
    page.click("button[type=submit]")
    row = page.wait_for_selector(f'tr[data-alert-id="{alert["alert_id"]}"]')
    assert row.query_selector("td.confidence").inner_text() == "87%"
    assert page.inner_text(f'tr[data-alert-id="{legacy["alert_id"]}"] td.confidence') == "—"

    row.query_selector("a").click()
    page.wait_for_selector("#alert-title")
    assert "ACME 经典款托特包 <b>限量</b>" in page.inner_text("#alert-segment")  # OCR text shown as text
    assert page.query_selector("#alert-segment b") is None
    assert "10.0 s – still open" in page.inner_text("#alert-segment")
    assert "product card changed" in page.inner_text("#alert-segment")
    assert page.inner_text("#alert-price").startswith("199 CNY")
    assert "到手价199" in page.inner_text("#alert-price")
    assert page.inner_text("#alert-confidence").startswith("87%")
    assert page.inner_text('#evidence tr[data-index="0"] td.strength') == "sounds like"
    if os.environ.get("LIVEWATCH_SCREENSHOTS"):
        page.screenshot(path=os.environ["LIVEWATCH_SCREENSHOTS"] + "/alert-segment.png", full_page=True)
    page.close()
