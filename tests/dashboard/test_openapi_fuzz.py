"""Fuzz the dashboard's OpenAPI spec with schemathesis against a live server: no 5xx, ever."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from dashboard import DashboardSettings, auth, create_app
from tests.dashboard.conftest import SECRET, free_port, make_alert, wait_port, write_jpeg


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A dashboard on uvicorn with a broker of its own (fuzzed stream requests stay there), no hook delivery."""
    import uvicorn

    from livewatch.broker import EmbeddedBroker
    from livewatch.dashboard_cmd import stream_control
    from rules import DEFAULT_RULES_DIR

    broker = EmbeddedBroker().start()

    tmp = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(Path(DEFAULT_RULES_DIR) / "rules", tmp / "rules")
    shutil.copytree(Path(DEFAULT_RULES_DIR) / "lexicons", tmp / "lexicons")
    write_jpeg(tmp / "snapshots" / "ab" / "logo.jpg")
    port = free_port()
    settings_ = DashboardSettings(secret_key=SECRET, db_url=f"sqlite:///{tmp / 'db.sqlite3'}",
                                  data_dir=tmp / "snapshots", rules_dir=tmp / "rules", lexicon_dir=tmp / "lexicons",
                                  port=port, deliver_hooks=False, kafka=broker.kafka_options())
    app = create_app(settings_, streams=stream_control(broker.kafka_options()))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    store = app.state.ctx.store
    token = auth.new_api_token()
    store.create_token("fuzzer", auth.token_key(token), "admin", "test")
    store.upsert_alert(make_alert(snapshot_path="ab/logo.jpg"))
    yield {"url": f"http://127.0.0.1:{port}", "token": token, "spec": app.openapi()}
    server.should_exit = True
    thread.join(15)
    broker.stop()


def _operations() -> dict[str, Any]:
    """Every API operation of the spec (the spec does not depend on settings)."""
    spec = create_app(DashboardSettings(secret_key=SECRET, db_url="sqlite://")).openapi()
    schema = schemathesis.openapi.from_dict(spec)
    ops = {}
    for result in schema.get_all_operations():
        op = result.ok()
        # Revoking tokens could revoke the fuzzer's own token and end the run early.
        if (op.method.upper(), op.path) != ("DELETE", "/api/tokens/{token_id}"):
            ops[f"{op.method.upper()} {op.path}"] = op
    return ops


OPERATIONS = _operations()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_api_never_answers_with_a_server_error(label: str, mode: GenerationMode, fuzz_target: dict[str, Any]) -> None:
    headers = {"authorization": f"Bearer {fuzz_target['token']}"}

    @given(case=OPERATIONS[label].as_strategy(mode))
    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case: Any) -> None:
        case.call_and_validate(base_url=fuzz_target["url"], headers=headers, checks=[not_a_server_error],
                               timeout=30)

    try:
        fuzz()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # Nothing in this operation can be made invalid (no body, no typed parameters).
