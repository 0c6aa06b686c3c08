"""Auth, roles, CSRF, the alert page's evidence and the ops pages, through the real app (TestClient)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from dashboard import auth
from tests.dashboard.conftest import ADMIN, login, make_alert, write_jpeg


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
    for route in client.app.routes:
        if not isinstance(route, APIRoute) or route.path in public:
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in route.methods - {"HEAD"}:
            resp = client.request(method, path, follow_redirects=False)
            assert resp.status_code in (401, 303), f"{method} {route.path} -> {resp.status_code}"
            if resp.status_code == 303:
                assert resp.headers["location"].startswith("/login")


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
    alert = make_alert(title="<script>alert(1)</script>")
    alert["evidence"][0]["text"] = "<img src=x onerror=alert(1)> 高仿"
    alert["stream_url"] = "javascript:alert(1)"
    store(client).upsert_alert(alert)
    login(client, *ADMIN)
    page = client.get(f"/alerts/{alert['alert_id']}").text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert 'href="javascript:' not in page


def test_ops_edit_is_validated_like_the_files(client: Any, rules_dirs: tuple[Path, Path]) -> None:
    csrf = login(client, *ADMIN)
    h = {"x-csrf-token": csrf}
    rules_file = rules_dirs[0] / "counterfeit_brand_cue.yaml"
    before = rules_file.read_text(encoding="utf-8")
    url = "/api/files/rules/counterfeit_brand_cue.yaml"
    bad = client.put(url, json={"content": "rules: [unclosed"}, headers=h)
    assert bad.status_code == 422 and "not valid YAML" in str(bad.json())
    wrong = client.put(url, json={"content": before.replace("window_s: 30", "window_seconds: 30")}, headers=h)
    errors = wrong.json()["detail"]["errors"]
    assert wrong.status_code == 422 and any("window_seconds" in e for e in errors), errors
    assert all(e.startswith("counterfeit_brand_cue.yaml") for e in errors)  # names the file, not a temp copy
    page = client.post("/ops/files/rules/counterfeit_brand_cue.yaml", data={"content": "id: [", "csrf_token": csrf})
    assert page.status_code == 422 and "Edit refused" in page.text
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
        assert client.get("/health").json()["schema_version"] == 2
