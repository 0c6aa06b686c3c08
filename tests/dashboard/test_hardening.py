"""The dashboard under attack and under load (issue 14): each defect found, held shut.

TestClient for the rules of the app, a live uvicorn server where the event loop matters
(/health staying fast while a slow thing runs, the live feed ending on sign-out).
"""

from __future__ import annotations

import hashlib
import re
import stat
import threading
import time
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from dashboard import DashboardSettings, auth, hooks, stages
from events import Action
from tests.dashboard.conftest import ADMIN, login, make_alert
from tests.waiting import wait_until

BOMB = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))
RULE_FILE = "/api/files/rules/counterfeit_brand_cue.yaml"


def store(client: Any):
    return client.app.state.ctx.store


def bearer(live_store: Any, role: str, name: str = "t", expires_at: float | None = None) -> dict[str, str]:
    token = auth.new_api_token()
    live_store.create_token(name, auth.token_key(token), role, "test", expires_at)
    return {"authorization": f"Bearer {token}"}


def hold(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> tuple[threading.Event, threading.Event]:
    """``owner.name`` replaced by a call that sets ``started`` and runs the real one only after ``release``.

    Holding the slow work open is what lets a test see the event loop answer meanwhile without
    reading a clock: (started, release)."""
    real, started, release = getattr(owner, name), threading.Event(), threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    return started, release


def answered_while_held(url: str, started: threading.Event, release: threading.Event,
                        action: Callable[[], Any]) -> Any:
    """``action()`` run in a thread; /health must answer while its held call waits: the action's result."""
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(out=action()))
    runner.start()
    try:
        wait_until(started.is_set, 30, "the held call to start")
        assert httpx.get(url + "/health", timeout=10).status_code == 200  # answered while the call is held
        assert not release.is_set()
    finally:
        release.set()
        runner.join(60)
    return result["out"]


def session_client(base_url: str, username: str, password: str) -> tuple[httpx.Client, str]:
    http = httpx.Client(base_url=base_url, timeout=30)
    return http, login(http, username, password)


# -- rules edits: alias bomb, validation off the event loop, sizes, modes, new files ---------------


def test_alias_bomb_edit_is_refused_at_its_first_anchor(live_server: Callable[..., Any]) -> None:
    live = live_server(deliver_hooks=False)
    resp = httpx.put(live.url + RULE_FILE, json={"content": BOMB}, headers=bearer(live.store, "ops"), timeout=60)
    assert resp.status_code == 400
    # refused where the parse meets the first anchor (line 1), before any alias is expanded
    assert "counterfeit_brand_cue.yaml:1: YAML anchors and aliases" in resp.text, resp.text


def test_rule_validation_runs_off_the_event_loop(live_server: Callable[..., Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    live = live_server(deliver_hooks=False)
    started, release = hold(monkeypatch, stages, "check_edit")
    http, csrf = session_client(live.url, *ADMIN)
    content = (Path(live.settings.rules_dir) / "counterfeit_brand_cue.yaml").read_text(encoding="utf-8")
    # the HTML form's handler is async: it must hand the check to a thread
    saved = answered_while_held(live.url, started, release, lambda: http.post(
        "/ops/files/rules/counterfeit_brand_cue.yaml", data={"content": content, "csrf_token": csrf}))
    assert saved.status_code == 200 and 'id="saved"' in saved.text


def test_saving_keeps_the_file_mode_and_new_files_are_not_private(client: Any) -> None:
    csrf = login(client, *ADMIN)
    h = {"x-csrf-token": csrf}
    folder = Path(client.app.state.ctx.settings.rules_dir)
    path = folder / "counterfeit_brand_cue.yaml"
    path.chmod(0o644)
    content = path.read_text(encoding="utf-8")
    assert client.put(RULE_FILE, json={"content": content + "\n# edited\n"}, headers=h).status_code == 200
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o664)
    assert client.post("/ops/files/rules/counterfeit_brand_cue.yaml",
                       data={"content": content, "csrf_token": csrf}).status_code == 200
    assert stat.S_IMODE(path.stat().st_mode) == 0o664
    new = re.sub(r"^id: (\S+)", r"id: \1_copy", content, count=1, flags=re.MULTILINE)
    assert client.put("/api/files/rules/copy.yaml", json={"content": new}, headers=h).status_code == 200
    assert stat.S_IMODE((folder / "copy.yaml").stat().st_mode) & 0o044  # others can read it (umask permitting)


def test_form_and_api_accept_and_refuse_the_same_sizes(client: Any) -> None:
    csrf = login(client, *ADMIN)
    path = Path(client.app.state.ctx.settings.rules_dir) / "counterfeit_brand_cue.yaml"
    big = path.read_text(encoding="utf-8") + "\n# " + "仿" * 300_000 + "\n"  # ~900 KB of UTF-8
    form = client.post("/ops/files/rules/counterfeit_brand_cue.yaml", data={"content": big, "csrf_token": csrf})
    assert form.status_code == 200 and 'id="saved"' in form.text
    assert client.put(RULE_FILE, json={"content": big}, headers={"x-csrf-token": csrf}).status_code == 200
    huge = big + "#" * 1_000_000
    form = client.post("/ops/files/rules/counterfeit_brand_cue.yaml", data={"content": huge, "csrf_token": csrf})
    assert form.status_code == 422 and "larger than 1,000,000 characters" in form.text
    assert client.put(RULE_FILE, json={"content": huge}, headers={"x-csrf-token": csrf}).status_code == 422


def test_ops_cannot_create_arbitrary_files(client: Any) -> None:
    csrf = login(client, *ADMIN)
    folder = Path(client.app.state.ctx.settings.rules_dir)
    for name in ("notes.txt", "payload.json"):
        resp = client.put(f"/api/files/rules/{name}", json={"content": "anything"}, headers={"x-csrf-token": csrf})
        assert resp.status_code == 403 and "can only be edited" in resp.json()["detail"]
        assert client.post(f"/ops/files/rules/{name}", data={"content": "x", "csrf_token": csrf}).status_code == 403
        assert not (folder / name).exists()
    junk = client.put("/api/files/rules/junk.yaml", json={"content": "hello: world\n"}, headers={"x-csrf-token": csrf})
    assert junk.status_code == 422 and not (folder / "junk.yaml").exists()  # YAML must be a valid rule file


def test_ops_page_lists_a_rule_set_with_subfolders(make_settings: Any, tmp_path: Path) -> None:
    """As the README runs it: LIVEWATCH_RULES_DIR is a rule set holding rules/ and lexicons/."""
    from fastapi.testclient import TestClient

    from dashboard import create_app

    ruleset = Path(make_settings().rules_dir).parent
    with TestClient(create_app(make_settings(deliver_hooks=False, rules_dir=ruleset, lexicon_dir=None))) as c:
        login(c, *ADMIN)
        page = c.get("/ops").text
        assert 'href="/ops/files/rules/counterfeit_brand_cue.yaml"' in page
        assert 'href="/ops/files/lexicons/counterfeit_slang.yaml"' in page
        assert 'data-rule="counterfeit.brand_with_cue"' in page
        assert c.get("/ops/files/lexicons/counterfeit_slang.yaml").status_code == 200


# -- the live feed ends when the caller's right to it does -----------------------------------------


def read_until_end(resp: httpx.Response) -> str:
    """The feed as read until it says signed-out (or the server ends it)."""
    seen = ""
    for chunk in resp.iter_text():
        seen += chunk
        if "event: signed-out" in seen:
            break
    return seen


@pytest.mark.parametrize("how", ["revoke", "expire", "logout", "delete-user"])
def test_live_feed_stops_when_access_ends(live_server: Callable[..., Any], how: str) -> None:
    live = live_server(deliver_hooks=False)
    if how in ("revoke", "expire"):
        headers = bearer(live.store, "moderator", expires_at=time.time() + 1.5 if how == "expire" else None)
        http = httpx.Client(base_url=live.url, timeout=30, headers=headers)
    else:
        live.store.create_user("mod1", auth.hash_password("moderator-pass"), "moderator")
        http, csrf = session_client(live.url, "mod1", "moderator-pass")
    with http.stream("GET", "/api/events") as resp:
        assert resp.status_code == 200
        if how == "revoke":
            live.store.revoke_token(live.store.list_tokens()[0]["id"])
        elif how == "logout":
            httpx.post(live.url + "/logout", data={"csrf_token": csrf}, cookies=dict(http.cookies))
        elif how == "delete-user":
            live.store.delete_user(live.store.user_by_name("mod1")["id"])
        seen = read_until_end(resp)  # the client's 30 s read timeout bounds a feed that never ends
    assert "event: signed-out" in seen, (how, seen[-200:])


# -- signing in: no name probing, throttled, hashing off the event loop ------------------------------


def test_unknown_and_known_names_cost_the_same_hashing(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    auth.check_login("warm-up", None)  # the dummy hash is made once, at first use
    calls = []
    real = hashlib.scrypt
    monkeypatch.setattr(auth.hashlib, "scrypt", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    for name in ("admin", "no-such-user"):
        calls.clear()
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        resp = client.post("/login", data={"username": name, "password": "wrong-password", "csrf_token": csrf})
        assert resp.status_code == 401 and "wrong user name or password" in resp.text
        assert len(calls) == 1, name


def test_repeated_failures_lock_the_name_out(make_settings: Any) -> None:
    from fastapi.testclient import TestClient

    from dashboard import create_app

    with TestClient(create_app(make_settings(deliver_hooks=False, login_max_failures=3))) as c:
        def attempt(password: str) -> httpx.Response:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
            return c.post("/login", data={"username": "admin", "password": password, "csrf_token": csrf},
                          follow_redirects=False)

        assert [attempt("wrong-password").status_code for _ in range(3)] == [401, 401, 401]
        locked = attempt(ADMIN[1])  # even the right password waits out the lockout
        assert locked.status_code == 429 and "too many failed sign-ins" in locked.text


def test_password_hashing_does_not_block_the_event_loop(live_server: Callable[..., Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    live = live_server(deliver_hooks=False)
    started, release = hold(monkeypatch, auth, "check_login")
    http = httpx.Client(base_url=live.url, timeout=30)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").text).group(1)
    resp = answered_while_held(live.url, started, release, lambda: http.post(
        "/login", data={"username": "admin", "password": "wrong-password", "csrf_token": csrf}))
    assert resp.status_code == 401


def test_login_error_shows_only_known_messages(client: Any) -> None:
    forged = client.get("/login", params={"error": "Your account is suspended: call +1 555 0100"})
    assert "suspended" not in forged.text and 'role="alert"' not in forged.text
    assert "you signed out" in client.get("/login", params={"error": "signed-out"}).text


# -- hostile alert text --------------------------------------------------------------------------


def test_long_titles_are_shortened_in_the_feed_and_whole_on_the_alert_page(client: Any) -> None:
    alert = make_alert(title="高仿" * 50_000)
    store(client).upsert_alert(alert)
    login(client, *ADMIN)
    row = client.get("/api/alerts").json()[0]
    assert len(row["title"]) <= 160 and row["title"].endswith("…") and row["title_truncated"]
    assert len(client.get("/").text) < 60_000
    full = client.get(f"/api/alerts/{alert['alert_id']}").json()["alert"]["title"]
    assert len(full) == 100_000
    assert "高仿" * 50_000 in client.get(f"/alerts/{alert['alert_id']}").text


def test_highlighting_is_capped(client: Any) -> None:
    alert = make_alert()
    alert["evidence"][0]["text"] = "高仿" * 100_000
    store(client).upsert_alert(alert)
    login(client, *ADMIN)
    page = client.get(f"/alerts/{alert['alert_id']}").text
    assert 0 < page.count("<mark>") <= 3 * 200  # transcript, evidence table: each capped
    assert "高仿" * 1000 in page  # the rest of the text is still there, unmarked


def test_bidi_overrides_are_neutralised(client: Any) -> None:
    spoof = "invoice_\u202egpj.exe"
    alert = make_alert(title=spoof)
    alert["evidence"][1]["text"] = "原单 \u2067ACME\u2069 到手价 199"
    store(client).upsert_alert(alert)
    login(client, *ADMIN)
    for page in (client.get("/").text, client.get(f"/alerts/{alert['alert_id']}").text):
        assert not re.search("[\u202a-\u202e\u2066-\u2069]", page)
        assert "invoice_\ufffdgpj.exe" in page


# -- webhooks: no private targets, no echoed errors, generic for moderators ----------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data",
                                 "http://10.1.2.3/hook", "http://[::1]:8080/x", "http://localhost/x"])
def test_hook_targets_on_private_addresses_are_refused(make_settings: Any, url: str) -> None:
    from fastapi.testclient import TestClient

    from dashboard import HookOptions, create_app

    with TestClient(create_app(make_settings(deliver_hooks=False, hooks=HookOptions()))) as c:
        csrf = login(c, *ADMIN)
        resp = c.post("/api/hooks", json={"name": "x", "url": url}, headers={"x-csrf-token": csrf})
        assert resp.status_code == 422 and "LIVEWATCH_HOOKS_ALLOW_PRIVATE" in resp.json()["detail"]
        form = c.post("/admin/hooks", data={"name": "x", "url": url, "csrf_token": csrf})
        assert form.status_code == 422
        assert c.app.state.ctx.store.list_hooks() == []
        public = c.post("/api/hooks", json={"name": "ok", "url": "https://93.184.216.34/takedown"},
                        headers={"x-csrf-token": csrf})
        assert public.status_code == 201


def test_delivery_errors_are_categories_and_moderators_see_them_generic(client: Any) -> None:
    from tests.dashboard.conftest import free_port

    s = store(client)
    alert = make_alert(action=Action.TAKEDOWN)
    s.upsert_alert(alert)
    s.create_hook("closed port", f"http://127.0.0.1:{free_port()}/x", hooks.generate_secret(), [])
    assert hooks.request_takedown(s, alert) == 1
    deliverer = hooks.HookDeliverer(s, client.app.state.ctx.settings.hooks, client.app.state.ctx.settings.kafka.topics)
    with httpx.Client(timeout=2) as http:
        assert deliverer.run_once(http) == 1
    (delivery,) = s.list_deliveries(alert["alert_id"])
    assert delivery["last_error"] == "could not connect"  # not the socket's own words

    csrf = login(client, *ADMIN)
    assert client.get(f"/api/alerts/{alert['alert_id']}").json()["takedowns"][0]["last_error"] == "could not connect"
    client.post("/api/users", json={"username": "mod1", "password": "password-123", "role": "moderator"},
                headers={"x-csrf-token": csrf})
    client.cookies.clear()
    login(client, "mod1", "password-123")
    shown = client.get(f"/api/alerts/{alert['alert_id']}").json()["takedowns"][0]
    assert shown["last_error"] == "the takedown call failed; an admin can see why" and shown["last_status"] is None
    assert "could not connect" not in client.get(f"/alerts/{alert['alert_id']}").text


# -- cookies and deployment settings -------------------------------------------------------------------


def test_session_cookie_is_secure_by_default(make_settings: Any) -> None:
    from fastapi.testclient import TestClient

    from dashboard import create_app

    assert DashboardSettings(secret_key="k" * 32).secure_cookies is True
    settings = make_settings(deliver_hooks=False, secure_cookies=True)
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        page = c.get("/login")
        assert "secure" in page.headers["set-cookie"].lower()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        resp = c.post("/login", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf},
                      follow_redirects=False)
        session = [h for h in resp.headers.get_list("set-cookie") if h.startswith(auth.SESSION_COOKIE)]
        assert session and "secure" in session[0].lower() and "httponly" in session[0].lower()


def test_environment_switches_and_env_example(tmp_path: Path) -> None:
    from livewatch.config import Config
    from livewatch.dashboard_cmd import dashboard_settings

    cfg = Config(data_dir=tmp_path)
    env = {"LIVEWATCH_SECRET_KEY": "k" * 32}
    assert dashboard_settings(cfg, env).secure_cookies is True
    assert dashboard_settings(cfg, {**env, "LIVEWATCH_SECURE_COOKIES": "0"}).secure_cookies is False
    assert dashboard_settings(cfg, env).hooks.allow_private_targets is False
    assert dashboard_settings(cfg, {**env, "LIVEWATCH_HOOKS_ALLOW_PRIVATE": "1"}).hooks.allow_private_targets
    root = Path(__file__).resolve().parents[2]
    example = (root / ".env.example").read_text(encoding="utf-8")
    compose = (root / "docker-compose.yml").read_text(encoding="utf-8")
    assert ".env.example" in compose
    for name in set(re.findall(r"\$\{(LIVEWATCH_[A-Z_]+)", compose)):
        assert re.search(rf"^{name}=", example, re.MULTILINE), f"{name} missing from .env.example"


# -- users and tokens ----------------------------------------------------------------------------------


def test_admin_deletes_users_changes_roles_and_tokens_expire(client: Any) -> None:
    csrf = login(client, *ADMIN)
    h = {"x-csrf-token": csrf}
    mod = client.post("/api/users", json={"username": "mod1", "password": "password-123", "role": "moderator"},
                      headers=h).json()
    from fastapi.testclient import TestClient

    other = TestClient(client.app, base_url="http://testserver")  # a second browser on the running app
    login(other, "mod1", "password-123")
    assert other.get("/api/rules").status_code == 403
    assert client.patch(f"/api/users/{mod['id']}", json={"role": "ops"}, headers=h).status_code == 200
    assert other.get("/api/rules").status_code == 200  # the live session has the new role at once
    assert client.delete(f"/api/users/{mod['id']}", headers=h).status_code == 204
    assert other.get("/api/me").status_code == 401  # and deleting the user ends it
    me = client.get("/api/users").json()[0]
    assert client.delete(f"/api/users/{me['id']}", headers=h).status_code == 409  # not yourself
    assert client.patch(f"/api/users/{me['id']}", json={"role": "moderator"}, headers=h).status_code == 409  # last admin

    token = client.post("/api/tokens", json={"name": "ci", "role": "ops", "expires_in_days": 30}, headers=h).json()
    assert 29 * 86400 < token["expires_at"] - time.time() <= 30 * 86400
    expired = bearer(store(client), "ops", name="old", expires_at=time.time() - 1)
    assert client.get("/api/me", headers=expired).status_code == 401
    assert client.get("/api/me", headers={"authorization": f"Bearer {token['token']}"}).status_code == 200


# -- a rights holder sees only its brands ------------------------------------------------------------


def test_rights_holder_sees_and_exports_only_its_brands(make_settings: Any, data_root: Path, tmp_path: Path) -> None:
    import io
    import zipfile

    from fastapi.testclient import TestClient

    from alerts import AlertStore
    from dashboard import create_app

    own = make_alert(brand="acme", snapshot_path="ab/logo.jpg", title="acme replica")
    own["evidence"][2]["snapshot_sha256"] = hashlib.sha256((data_root / "ab/logo.jpg").read_bytes()).hexdigest()
    other = make_alert(brand="globex", onset=40.0, snapshot_path="ab/logo.jpg", title="globex replica")
    other["evidence"][2]["snapshot_sha256"] = own["evidence"][2]["snapshot_sha256"]
    worker_store = AlertStore(tmp_path / "alerts.sqlite3", snapshot_root=data_root)
    for alert in (own, other):
        worker_store.append(alert)
    worker_store.close()
    with TestClient(create_app(make_settings(deliver_hooks=False, alert_store=tmp_path / "alerts.sqlite3"))) as c:
        for alert in (own, other):
            c.app.state.ctx.store.upsert_alert(alert)
        csrf = login(c, *ADMIN)
        refused = c.post("/api/users", json={"username": "acme-legal", "password": "password-123",
                                             "role": "rights_holder"}, headers={"x-csrf-token": csrf})
        assert refused.status_code == 422 and "at least one brand" in refused.text
        made = c.post("/api/users", json={"username": "acme-legal", "password": "password-123",
                                          "role": "rights_holder", "brands": ["acme"]}, headers={"x-csrf-token": csrf})
        assert made.status_code == 201 and made.json()["brands"] == ["acme"]
        c.cookies.clear()
        csrf = login(c, "acme-legal", "password-123")

        assert c.get("/api/me").json()["brands"] == ["acme"]
        assert [a["alert_id"] for a in c.get("/api/alerts").json()] == [own["alert_id"]]
        assert [a["alert_id"] for a in c.get("/api/alerts", params={"brand": "globex"}).json()] == []
        feed = c.get("/").text
        assert "acme replica" in feed and "globex" not in feed  # not even in the filter drop-downs
        for path in ("", "/bundle", "/evidence/verify", "/evidence/2/snapshot"):
            assert c.get(f"/api/alerts/{other['alert_id']}{path}").status_code == 404, path
        assert c.get(f"/alerts/{other['alert_id']}").status_code == 404
        page = c.get(f"/alerts/{own['alert_id']}").text
        assert "acme replica" in page and 'id="decide"' not in page and "globex" not in page
        bundle = c.get(f"/api/alerts/{own['alert_id']}/bundle")
        assert bundle.status_code == 200 and "alert.json" in zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
        assert c.get(f"/api/alerts/{own['alert_id']}/evidence/2/snapshot").status_code == 200
        # Judging, triage, ops and admin stay with the staff.
        decide = c.post(f"/api/alerts/{own['alert_id']}/decisions", json={"decision": "confirm"},
                        headers={"x-csrf-token": csrf})
        assert decide.status_code == 403
        for path in ("/api/queue", "/triage", "/ops", "/admin"):
            assert c.get(path).status_code == 403, path


def test_rights_holder_live_feed_carries_only_its_brands(live_server: Callable[..., Any]) -> None:
    live = live_server(deliver_hooks=False)
    live.store.create_user("acme-legal", auth.hash_password("password-123"), "rights_holder", ["acme"])
    http, _csrf = session_client(live.url, "acme-legal", "password-123")
    hub = live.app.state.ctx.hub
    with http.stream("GET", "/api/events") as resp:
        chunks, seen = resp.iter_text(), ""
        while "retry:" not in seen:  # the feed's first line: it has subscribed to the hub
            seen += next(chunks)
        for brand in ("globex", "acme"):
            live.app.state.ctx.store.upsert_alert(make_alert(brand=brand, title=f"{brand} live"))
            hub.publish({"type": "alert", "alert": {"brand": brand, "title": f"{brand} live"}})
        for chunk in chunks:
            seen += chunk
            if "acme live" in seen:
                break
    assert "acme live" in seen and "globex" not in seen


def test_admin_page_manages_users_and_token_expiry(client: Any) -> None:
    csrf = login(client, *ADMIN)
    page = client.post("/admin/users", data={"username": "acme-legal", "password": "password-123",
                                             "role": "rights_holder", "brands": "acme, acme-eu", "csrf_token": csrf})
    assert page.status_code == 200 and "acme-legal (rights_holder) created" in page.text
    user = store(client).user_by_name("acme-legal")
    assert user["brands"] == ["acme", "acme-eu"]
    assert client.post(f"/admin/users/{user['id']}/role", data={"role": "moderator", "csrf_token": csrf}).status_code == 200
    assert store(client).user_by_name("acme-legal")["role"] == "moderator"
    assert client.post(f"/admin/users/{user['id']}/delete", data={"csrf_token": csrf}).status_code == 200
    assert store(client).user_by_name("acme-legal") is None
    created = client.post("/admin/tokens", data={"name": "ci", "role": "ops", "expires_in_days": "30", "csrf_token": csrf})
    assert created.status_code == 200 and "API token (shown once)" in created.text
    assert store(client).list_tokens()[0]["expires_at"] > time.time() + 29 * 86400
    assert "never" not in re.search(r'<table id="tokens">.*?</table>', created.text, re.S).group(0)
