"""Auth, roles, CSRF, the alert page's evidence and the ops pages, through the real app (TestClient)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from dashboard import auth, evidence
from events import Action, Price, Segment
from tests.dashboard.conftest import ADMIN, legacy_alert, login, make_alert, write_jpeg


def add_user(client: Any, csrf: str, username: str, role: str) -> None:
    resp = client.post("/api/users", json={"username": username, "password": "password-123", "role": role},
                       headers={"x-csrf-token": csrf})
    assert resp.status_code == 201, resp.text


def store(client: Any):
    return client.app.state.ctx.store


def test_password_kdf_is_salted_scrypt() -> None:
    h1, h2 = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    assert h1.startswith("scrypt$") and h1 != h2
    assert auth.verify_password("correct horse", h1) and not auth.verify_password("wrong horse", h1)
    assert not auth.verify_password("x", "md5$garbage")


def test_nothing_but_health_and_sign_in_is_reachable_without_auth(client: Any) -> None:
    assert client.get("/health").json()["status"] == "ok"
    public = {"/health", "/login"}
    checked = set()
    for route in iter_route_contexts(client.app.routes):  # the routes of the included routers, too
        if not isinstance(route.original_route, APIRoute) or route.path in public:
            continue
        checked.add(route.path)
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in route.methods - {"HEAD"}:
            resp = client.request(method, path, follow_redirects=False)
            assert resp.status_code in (401, 303), f"{method} {route.path} -> {resp.status_code}"
            if resp.status_code == 303:
                assert resp.headers["location"].startswith("/login")
    assert {"/", "/ops", "/admin", "/api/alerts", "/api/streams", "/api/users"} <= checked


def test_sign_in_roles_and_moderator_cannot_reach_ops(client: Any) -> None:
    csrf = login(client, *ADMIN)
    add_user(client, csrf, "mod1", "moderator")
    client.cookies.clear()
    assert client.post("/login", data={"username": "mod1", "password": "nope-nope-nope"}).status_code == 403  # no CSRF
    login(client, "mod1", "password-123")
    assert client.get("/").status_code == 200
    for path in ("/ops", "/ops/explain", "/ops/files/rules/counterfeit.yaml", "/admin"):
        resp = client.get(path)
        assert resp.status_code == 403 and "needs the" in resp.text, path
    assert client.get("/api/rules").status_code == 403
    assert client.get("/api/figures").status_code == 403
    assert 'href="/ops"' not in client.get("/").text


def test_wrong_password_is_refused(client: Any) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    resp = client.post("/login", data={"username": "admin", "password": "bad", "csrf_token": csrf})
    assert resp.status_code == 401 and "wrong user name or password" in resp.text
    assert client.get("/api/me").status_code == 401


def test_csrf_is_required_for_session_state_changes(client: Any) -> None:
    alert = make_alert()
    store(client).upsert_alert(alert)
    csrf = login(client, *ADMIN)
    url = f"/api/alerts/{alert['alert_id']}/decisions"
    assert client.post(url, json={"decision": "dismiss"}).status_code == 403
    assert client.post(url, json={"decision": "dismiss"}, headers={"x-csrf-token": "forged"}).status_code == 403
    assert client.post(f"/alerts/{alert['alert_id']}/decide", data={"decision": "dismiss"}).status_code == 403
    ok = client.post(url, json={"decision": "dismiss", "note": "not a replica"}, headers={"x-csrf-token": csrf})
    assert ok.status_code == 201 and ok.json()["status"] == "dismissed"


def test_api_tokens_for_machines(client: Any) -> None:
    csrf = login(client, *ADMIN)
    token = client.post("/api/tokens", json={"name": "ci", "role": "ops"}, headers={"x-csrf-token": csrf}).json()
    client.cookies.clear()
    bearer = {"authorization": f"Bearer {token['token']}"}
    assert client.get("/api/me", headers=bearer).json() == {"name": "token:ci", "role": "ops", "via": "token"}
    assert client.get("/api/rules", headers=bearer).status_code == 200
    assert client.get("/api/hooks", headers=bearer).status_code == 403  # ops is not admin
    assert client.get("/api/me", headers={"authorization": "Bearer lw_forged"}).status_code == 401
    login(client, *ADMIN)
    csrf = login(client, *ADMIN)
    assert client.delete(f"/api/tokens/{token['id']}", headers={"x-csrf-token": csrf}).status_code == 204
    client.cookies.clear()
    assert client.get("/api/me", headers=bearer).status_code == 401


def test_alert_page_shows_evidence_with_boxes_highlights_and_rule(client: Any, data_root: Path) -> None:
    alert = make_alert(snapshot_path="ab/logo.jpg")
    neighbour = make_alert(onset=40.0, rule_id="false_claim.cure")
    neighbour["evidence"][0]["text"] = "后面说的话 高仿"
    far = make_alert(onset=500.0, rule_id="other.rule")
    far["evidence"][0]["text"] = "很久以后"
    for a in (alert, neighbour, far):
        store(client).upsert_alert(a)
    login(client, *ADMIN)
    page = client.get(f"/alerts/{alert['alert_id']}").text
    assert "counterfeit.replica_terms v3" in page
    assert '<rect class="logo-box" x="40" y="30" width="120" height="60"/>' in page
    assert 'viewBox="0 0 320 180"' in page
    assert "这款包包是<mark>高仿</mark>的，<mark>原单</mark>品质" in page  # transcript, terms highlighted
    assert "后面说的话 <mark>高仿</mark>" in page  # neighbouring speech within the window
    assert "很久以后" not in page
    assert "<mark>原单</mark> ACME 到手价 199" in page  # OCR text
    assert 'href="rtmp://127.0.0.1/live/shop-1"' in page
    img = client.get(f"/api/alerts/{alert['alert_id']}/evidence/2/snapshot")
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg" and img.content[:2] == b"\xff\xd8"
    client.cookies.clear()
    assert client.get(f"/api/alerts/{alert['alert_id']}/evidence/2/snapshot").status_code == 401


@pytest.mark.parametrize("path", ["../secret.jpg", "/etc/passwd", "ab/../../secret.jpg", "ab/logo.png"])
def test_snapshots_never_leave_the_snapshot_root(client: Any, data_root: Path, path: str) -> None:
    write_jpeg(data_root.parent / "secret.jpg")
    alert = make_alert(snapshot_path=path, onset=77.0)
    store(client).upsert_alert(alert)
    login(client, *ADMIN)
    assert client.get(f"/api/alerts/{alert['alert_id']}/evidence/2/snapshot").status_code == 404
    assert "snapshot file missing or outside the snapshot root" in client.get(f"/alerts/{alert['alert_id']}").text


def test_stored_html_in_alerts_is_escaped(client: Any) -> None:
    alert = make_alert(title="<script>alert(1)</script>",
                       segment=Segment("seg-<b>", 10.0, None, "<svg onload=alert(2)>包", "card"),
                       price=Price(199.0, "CNY", "selling", "<iframe src=//x>到手价199"))
    alert["evidence"][0]["text"] = "<img src=x onerror=alert(1)> 高仿"
    alert["evidence"][1]["segment_id"] = '"><script>alert(3)</script>'
    alert["stream_url"] = "javascript:alert(1)"
    store(client).upsert_alert(alert)
    login(client, *ADMIN)
    page = client.get(f"/alerts/{alert['alert_id']}").text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert 'href="javascript:' not in page
    # the product card title and the price text come from the streamer's screen (OCR)
    assert "<svg onload" not in page and "&lt;svg onload=alert(2)&gt;包" in page
    assert "<iframe" not in page and "&lt;iframe src=//x&gt;到手价199" in page
    assert "<script>alert(3)" not in page and "<b>" not in page
    assert "<svg onload" not in client.get("/").text


def _dd(page: str, dd_id: str) -> str:
    """The text of one ``<dd id=...>`` of the alert page, tags removed, entities decoded."""
    match = re.search(rf'<dd id="{dd_id}">(.*?)</dd>', page, re.S)
    assert match, dd_id
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


def test_alert_page_and_feed_show_segment_price_confidence_and_match_strength(client: Any) -> None:
    alert = make_alert(confidence=0.874, segment=Segment("seg-10.0", 10.0, 95.5, "ACME 经典款托特包", "card"),
                       price=Price(199.0, "CNY", "selling", "到手价199"))
    alert["evidence"][0]["strength"] = "homophone"
    alert["evidence"][0]["segment_id"] = "seg-2.0"  # heard while the previous product was on sale
    store(client).upsert_alert(alert)
    login(client, *ADMIN)
    page = client.get(f"/alerts/{alert['alert_id']}").text
    assert _dd(page, "alert-confidence").startswith("87% · how sure the evidence makes the violation")
    assert _dd(page, "alert-segment") == "ACME 经典款托特包 · 10.0 s – 95.5 s · opened by: product card changed"
    assert _dd(page, "alert-price") == "199 CNY · read as 到手价199"
    rows = re.findall(r'<tr data-index="(\d+)">(.*?)</tr>', page, re.S)
    strengths = {int(i): re.search(r'<td class="strength">(.*?)</td>', body).group(1) for i, body in rows}
    assert 'class="badge str-homophone"' in strengths[0] and ">sounds like<" in strengths[0]
    assert ">normalised<" in strengths[1] and ">detected<" in strengths[2]
    segments = {int(i): re.search(r'<td class="segment">(.*?)</td>', body).group(1) for i, body in rows}
    assert "other segment seg-2.0" in segments[0] and segments[1] == segments[2] == ""  # only where it differs
    assert "这款包包是<mark>高仿</mark>的" in rows[0][1]

    feed = client.get("/").text
    row = re.search(rf'<tr data-alert-id="{alert["alert_id"]}">(.*?)</tr>', feed, re.S).group(1)
    assert '<td class="confidence">87%</td>' in row
    assert client.get("/api/alerts").json()[0]["confidence"] == 0.874


def test_alert_of_schema_1_0_renders_with_dashes(client: Any) -> None:
    alert = legacy_alert()
    store(client).upsert_alert(alert)
    login(client, *ADMIN)
    resp = client.get(f"/alerts/{alert['alert_id']}")
    assert resp.status_code == 200
    page = resp.text
    for dd_id in ("alert-confidence", "alert-segment", "alert-price"):
        assert _dd(page, dd_id) == "—", dd_id
    strengths = re.findall(r'<td class="strength">(.*?)</td>', page)
    assert strengths == ["—", "—", "—"]
    assert "other segment" not in page
    assert "这款包包是<mark>高仿</mark>的" in page  # the rest of the page as before
    feed = client.get("/").text
    assert '<td class="confidence">—</td>' in feed
    assert client.get("/api/alerts").json()[0]["confidence"] is None


def test_takedown_rule_alert_below_its_threshold_says_it_is_held_for_review(client: Any) -> None:
    held = make_alert(rule_id="piracy.rebroadcast", action=Action.REVIEW, confidence=0.42)
    held["rule_version"] = 3  # the bundled rule: action takedown, takedown_confidence 0.6
    sure = make_alert(rule_id="piracy.rebroadcast", action=Action.TAKEDOWN, confidence=0.9, onset=90.0)
    sure["rule_version"] = 3
    other = make_alert(action=Action.REVIEW, confidence=0.42, onset=120.0)  # not a takedown rule
    for a in (held, sure, other):
        store(client).upsert_alert(a)
    login(client, *ADMIN)
    assert "held for review: below this rule's takedown confidence (60%)" in _dd(
        client.get(f"/alerts/{held['alert_id']}").text, "alert-confidence")
    for a in (sure, other):
        assert "held for review" not in client.get(f"/alerts/{a['alert_id']}").text


def test_schema_1_1_facts_are_formatted_defensively() -> None:
    assert [evidence.percent(v) for v in (0.874, 0.875, 1.0, 0, None, "0.9", True, float("nan"), 7)] == [
        "87%", "88%", "100%", "0%", "—", "—", "—", "—", "100%"]
    open_seg = evidence.segment({"segment": {"segment_id": "s", "media_start": 3, "media_end": None,
                                             "title": "", "reason": "speech"}})
    assert open_seg == {"segment_id": "s", "title": "", "span": "3.0 s – still open", "reason": "host moved on"}
    assert evidence.segment({"segment": {"segment_id": "s", "media_start": 0, "reason": "start"}})["reason"] == \
        "stream start"
    assert evidence.segment({"segment": None}) is None and evidence.segment({}) is None
    assert evidence.bound_price({"price": {"amount": 1299.5, "currency": "CNY", "text": "1,299.5元"}}) == {
        "amount": "1,299.50", "currency": "CNY", "text": "1,299.5元"}
    assert evidence.bound_price({"price": {"amount": "free"}}) is None and evidence.bound_price({}) is None
    assert evidence.strength("bogus") is None and evidence.strength(None) is None


def test_ops_edit_is_validated_like_the_files(client: Any, rules_dirs: tuple[Path, Path]) -> None:
    csrf = login(client, *ADMIN)
    h = {"x-csrf-token": csrf}
    rules_file = rules_dirs[0] / "counterfeit_brand_cue.yaml"
    before = rules_file.read_text(encoding="utf-8")
    url = "/api/files/rules/counterfeit_brand_cue.yaml"
    bad = client.put(url, json={"content": "rules: [unclosed"}, headers=h)
    assert bad.status_code == 400 and "not valid YAML" in str(bad.json())  # malformed: 400; well-formed but wrong: 422
    wrong = client.put(url, json={"content": before.replace("\nwindow_s:", "\nwindow_seconds:")}, headers=h)
    errors = wrong.json()["detail"]["errors"]
    assert wrong.status_code == 422 and any("window_seconds" in e for e in errors), errors
    assert all(e.startswith("counterfeit_brand_cue.yaml") for e in errors)  # names the file, not a temp copy
    page = client.post("/ops/files/rules/counterfeit_brand_cue.yaml", data={"content": "id: [", "csrf_token": csrf})
    assert page.status_code == 400 and "Edit refused" in page.text
    assert rules_file.read_text(encoding="utf-8") == before  # refused edits leave the file alone
    assert client.put("/api/files/rules/../../x.yaml", json={"content": "a: 1"}, headers=h).status_code == 404
    assert client.put("/api/files/rules/evil.sh", json={"content": "a: 1"}, headers=h).status_code == 404
    good = before.replace("cooldown_s: 300", "cooldown_s: 120")
    assert client.put(url, json={"content": good}, headers=h).status_code == 200
    assert rules_file.read_text(encoding="utf-8") == good
    lexicon = client.get("/api/files/lexicons/counterfeit_slang.yaml").json()["content"]
    assert client.put("/api/files/lexicons/counterfeit_slang.yaml", json={"content": lexicon + "\nbogus: 1\n"},
                      headers=h).status_code == 422


def test_shadow_enforce_switch_keeps_the_file_readable(client: Any, rules_dirs: tuple[Path, Path]) -> None:
    csrf = login(client, *ADMIN)
    h = {"x-csrf-token": csrf}
    resp = client.post("/api/rules/counterfeit.brand_with_cue/mode", json={"mode": "shadow"}, headers=h)
    assert resp.status_code == 200, resp.text
    text = (rules_dirs[0] / "counterfeit_brand_cue.yaml").read_text(encoding="utf-8")
    assert "\nmode: shadow\n" in text and text.startswith("# Counterfeit promotion (test copy)")
    modes = {r["rule_id"]: r["mode"] for r in client.get("/api/rules").json()["rules"]}
    assert modes["counterfeit.brand_with_cue"] == "shadow" and modes["false_claim.medical_claims"] == "enforce"
    page = client.post("/ops/rules/counterfeit.brand_with_guarantee/mode", data={"mode": "enforce", "csrf_token": csrf})
    assert page.status_code == 200 and "switch to shadow" in page.text
    modes = {r["rule_id"]: r["mode"] for r in client.get("/api/rules").json()["rules"]}
    assert modes["counterfeit.brand_with_guarantee"] == "enforce"
    assert client.post("/api/rules/no.such.rule/mode", json={"mode": "shadow"}, headers=h).status_code == 404


def test_explain_uses_the_current_rules(client: Any) -> None:
    csrf = login(client, *ADMIN)
    resp = client.post("/api/explain", json={"text": "这款包包是高仿的"}, headers={"x-csrf-token": csrf})
    assert resp.status_code == 200, resp.text
    assert "counterfeit_slang: 高仿" in resp.json()["summary"]
    page = client.post("/ops/explain", data={"text": "包治百病", "csrf_token": csrf}).text
    assert "false_claim.medical_claims" in page


def test_figures_page_counts_decisions(client: Any) -> None:
    csrf = login(client, *ADMIN)
    a, b = make_alert(onset=1.0), make_alert(onset=2.0)
    for x in (a, b):
        store(client).upsert_alert(x)
    client.post(f"/alerts/{a['alert_id']}/decide", data={"decision": "confirm", "csrf_token": csrf})
    client.post(f"/alerts/{b['alert_id']}/decide", data={"decision": "dismiss", "csrf_token": csrf})
    figs = client.get("/api/figures").json()
    assert figs[0]["precision"] == 0.5 and figs[0]["confirmed"] == 1
    assert '<tr data-rule="counterfeit.replica_terms"><td>counterfeit.replica_terms</td><td>2</td><td>1</td><td>1</td>' \
        in client.get("/ops").text


def test_evidence_chain_check_and_bundle_from_the_worker_store(make_settings: Any, data_root: Path,
                                                               tmp_path: Path) -> None:
    import hashlib
    import io
    import zipfile

    from fastapi.testclient import TestClient

    from alerts import AlertStore
    from dashboard import create_app

    alert = make_alert(snapshot_path="ab/logo.jpg")
    alert["evidence"][2]["snapshot_sha256"] = hashlib.sha256((data_root / "ab/logo.jpg").read_bytes()).hexdigest()
    worker_store = AlertStore(tmp_path / "alerts.sqlite3", snapshot_root=data_root)
    worker_store.append(alert)
    worker_store.close()
    settings = make_settings(deliver_hooks=False, alert_store=tmp_path / "alerts.sqlite3")
    with TestClient(create_app(settings)) as client:
        client.app.state.ctx.store.upsert_alert(alert)
        login(client, *ADMIN)
        assert 'id="verify-evidence"' in client.get(f"/alerts/{alert['alert_id']}").text
        ok = client.get(f"/api/alerts/{alert['alert_id']}/evidence/verify").json()
        assert ok == {"intact": True, "problems": []}
        bundle = client.get(f"/api/alerts/{alert['alert_id']}/bundle")
        assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
        assert "alert.json" in names and any(n.startswith("snapshots/") for n in names)
        write_jpeg(data_root / "ab" / "logo.jpg", size=(321, 180))  # tampered after the fact
        bad = client.get(f"/api/alerts/{alert['alert_id']}/evidence/verify").json()
        assert bad["intact"] is False and bad["problems"]


def test_the_app_runs_on_postgresql(make_settings: Any, postgres_url: str) -> None:
    from fastapi.testclient import TestClient

    from dashboard import create_app

    with TestClient(create_app(make_settings(deliver_hooks=False, db_url=postgres_url))) as client:
        alert = make_alert()
        client.app.state.ctx.store.upsert_alert(alert)
        csrf = login(client, *ADMIN)
        resp = client.post(f"/api/alerts/{alert['alert_id']}/decisions", json={"decision": "escalate", "note": "法务"},
                           headers={"x-csrf-token": csrf})
        assert resp.status_code == 201
        assert client.get("/api/alerts", params={"status": "escalated"}).json()[0]["alert_id"] == alert["alert_id"]
        assert client.get("/health").json()["schema_version"] == 3
