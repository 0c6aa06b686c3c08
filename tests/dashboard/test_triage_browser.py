"""The triage desk and hostile text in a real browser (Debian's Chromium via Playwright).

Two moderators triage the same queue from the keyboard: the alert one of them judges is claimed,
so the other skips it and cannot decide it; hostile alert text neither breaks the layout nor
spoofs link text.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from dashboard import auth
from events import Action
from tests.dashboard.conftest import make_alert
from tests.dashboard.test_browser import browser  # noqa: F401 - the shared Chromium fixture
from tests.waiting import wait_until


def sign_in(browser: Any, url: str, username: str, password: str) -> Any:  # noqa: F811
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#whoami")
    return page


def queue_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all("#queue tr.q", "rows => rows.map(r => r.dataset.alertId)")


def test_keyboard_triage_and_claims_between_two_moderators(browser: Any,  # noqa: F811
                                                           live_server: Callable[..., Any]) -> None:
    live = live_server(deliver_hooks=False)
    for name in ("mod1", "mod2"):
        live.store.create_user(name, auth.hash_password("moderator-pass"), "moderator")
    older = make_alert(stream_id="shop-1", onset=10.0, action=Action.REVIEW, title="older on shop-1",
                       snapshot_path="ab/logo.jpg")
    live.store.upsert_alert(older)
    arrived = live.store.alert(older["alert_id"])["received_at"]
    wait_until(lambda: time.time() > arrived, 5, "the clock to pass the older alert's arrival (newest is by arrival)")
    newer = make_alert(stream_id="shop-1", onset=50.0, action=Action.REVIEW, title="newer on shop-1",
                       snapshot_path="ab/logo.jpg")
    live.store.upsert_alert(newer)
    critical = make_alert(stream_id="shop-2", onset=5.0, action=Action.REVIEW, title="critical on shop-2")
    critical["severity"] = "critical"
    live.store.upsert_alert(critical)

    a = sign_in(browser, live.url, "mod1", "moderator-pass")
    a.goto(live.url + "/triage")
    # Grouped by stream; the stream with the most severe, newest alert first; newest first within a stream.
    assert queue_ids(a) == [critical["alert_id"], newer["alert_id"], older["alert_id"]]
    assert a.inner_text("#queue tr.stream-head") == "Stream shop-2"
    a.wait_for_selector(f'tr.q.selected[data-alert-id="{critical["alert_id"]}"][data-claimed-by="mod1"]')
    assert a.eval_on_selector(f'tr[data-alert-id="{newer["alert_id"]}"] td.thumb img',
                              "img => img.complete && img.naturalWidth") == 320  # the key snapshot
    assert a.inner_text(f'tr[data-alert-id="{older["alert_id"]}"] td.age').endswith("ago")

    b = sign_in(browser, live.url, "mod2", "moderator-pass")
    b.goto(live.url + "/triage")
    assert b.inner_text(f'tr[data-alert-id="{critical["alert_id"]}"] td.claim') == "mod1"  # A's claim shows
    b.wait_for_selector(f'tr.q.selected[data-alert-id="{newer["alert_id"]}"][data-claimed-by="mod2"]')  # skipped
    refused = b.evaluate("""async (id) => {
        const r = await fetch('/api/alerts/' + id + '/decisions', {method: 'POST', headers: {
            'Content-Type': 'application/json',
            'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
            body: JSON.stringify({decision: 'dismiss'})});
        return [r.status, (await r.json()).detail]; }""", critical["alert_id"])
    assert refused == [409, "mod1 is judging this alert now: pick another one"]
    a.wait_for_selector(f'tr[data-alert-id="{newer["alert_id"]}"][data-claimed-by="mod2"]')  # live claim event

    a.keyboard.press("c")  # confirm the critical one; the next free alert (not mod2's) is selected
    a.wait_for_selector(f'tr.q.selected[data-alert-id="{older["alert_id"]}"]')
    assert critical["alert_id"] not in queue_ids(a)
    a.keyboard.press("e")
    b.keyboard.press("d")
    wait_until(lambda: all(live.store.alert(x["alert_id"])["status"] != "new" for x in (critical, newer, older)), 20,
               lambda: f"all three decided: {[live.store.alert(x['alert_id'])['status'] for x in (critical, newer, older)]}")
    assert [live.store.alert(x["alert_id"])["status"] for x in (critical, newer, older)] == [
        "confirmed", "dismissed", "escalated"]
    assert [d["username"] for d in live.store.decisions_for(critical["alert_id"])] == ["mod1"]
    a.wait_for_selector("#triage-msg:has-text('Queue done')")

    # Deciding an alert that was already actioned warns first.
    a.goto(live.url + f"/alerts/{critical['alert_id']}")
    assert "already confirmed" in a.inner_text("#override-warning")
    a.click("#decide button[value=dismiss]")  # the required checkbox stops the form
    assert live.store.alert(critical["alert_id"])["status"] == "confirmed"
    a.check("#override-warning input")
    a.click("#decide button[value=dismiss]")
    a.wait_for_selector("#alert-status.st-dismissed")


def test_hostile_alert_text_neither_breaks_the_page_nor_spoofs_links(browser: Any,  # noqa: F811
                                                                      live_server: Callable[..., Any]) -> None:
    live = live_server(deliver_hooks=False)
    live.store.create_user("mod1", auth.hash_password("moderator-pass"), "moderator")
    long = make_alert(stream_id="shop-1", title="高仿" + "W" * 100_000)
    long["evidence"][0]["text"] = "高仿" * 100_000
    live.store.upsert_alert(long)
    spoof = make_alert(stream_id="shop-2", title="invoice_\u202egpj.exe")
    live.store.upsert_alert(spoof)

    page = sign_in(browser, live.url, "mod1", "moderator-pass")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no column off-screen
    link = page.inner_text(f'tr[data-alert-id="{spoof["alert_id"]}"] td.title a')
    assert "\u202e" not in link and link == "invoice_\ufffdgpj.exe"
    assert len(page.inner_text(f'tr[data-alert-id="{long["alert_id"]}"] td.title a')) <= 160

    page.goto(live.url + f"/alerts/{long['alert_id']}")  # it loads: goto fails past the page's timeout
    assert page.evaluate("document.querySelectorAll('mark').length") <= 600
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert len(page.inner_text("#alert-title")) == 100_002  # the full title is on its page
