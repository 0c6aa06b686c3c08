"""The dashboard's streams API writes the same control topic the workers follow (real broker)."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from dashboard import DashboardSettings
from livewatch.assignment import StreamControl
from livewatch.dashboard_cmd import stream_control
from tests.conftest import kafka_for
from tests.dashboard.conftest import ADMIN, login
from tests.dashboard.test_web import add_user


@pytest.fixture
def kafka_client(make_settings: Callable[..., DashboardSettings], kafka_broker: str) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from dashboard import create_app

    kafka = kafka_for(kafka_broker)
    settings = make_settings(deliver_hooks=False, kafka=kafka, consumer_group="streams-api-test")
    with TestClient(create_app(settings, streams=stream_control(kafka)), base_url="http://testserver") as c:
        yield c


def test_ops_add_list_and_remove_streams_through_the_control_topic(kafka_client: Any, kafka_broker: str) -> None:
    csrf = login(kafka_client, *ADMIN)
    resp = kafka_client.put("/api/streams/shop-api-1", json={"url": "rtmp://media.example/live/shop1"},
                            headers={"x-csrf-token": csrf})
    assert resp.status_code == 200, resp.text
    listed = kafka_client.get("/api/streams").json()
    assert listed["shop-api-1"] == "rtmp://media.example/live/shop1"
    assert StreamControl(kafka_for(kafka_broker)).list()["shop-api-1"] == "rtmp://media.example/live/shop1"

    bad = kafka_client.put("/api/streams/shop-api-2", json={"url": "concat:/etc/passwd"}, headers={"x-csrf-token": csrf})
    assert bad.status_code == 422 and "concat" in bad.text

    gone = kafka_client.delete("/api/streams/shop-api-1", headers={"x-csrf-token": csrf})
    assert gone.status_code == 204
    assert "shop-api-1" not in kafka_client.get("/api/streams").json()


def test_moderators_cannot_manage_streams(kafka_client: Any) -> None:
    csrf = login(kafka_client, *ADMIN)
    add_user(kafka_client, csrf, "mod-streams", "moderator")
    kafka_client.cookies.clear()
    csrf = login(kafka_client, "mod-streams", "password-123")
    assert kafka_client.get("/api/streams").status_code == 403
    assert kafka_client.put("/api/streams/x", json={"url": "rtmp://h/live/x"}, headers={"x-csrf-token": csrf}).status_code == 403


def test_ops_protect_a_stream_through_the_protect_topic(kafka_client: Any, kafka_broker: str) -> None:
    from tests.conftest import read_topic

    csrf = login(kafka_client, *ADMIN)
    on = kafka_client.put("/api/streams/show-api-1/protection", headers={"x-csrf-token": csrf})
    assert on.status_code == 200 and on.json() == {"stream_id": "show-api-1", "protected": True}, on.text
    off = kafka_client.delete("/api/streams/show-api-1/protection", headers={"x-csrf-token": csrf})
    assert off.status_code == 204
    mine = [r.json()["protected"] for r in read_topic(kafka_broker, "livewatch.protect", min_records=2) if r.key == b"show-api-1"]
    assert mine == [True, False]

    add_user(kafka_client, csrf, "mod-protect", "moderator")
    kafka_client.cookies.clear()
    csrf = login(kafka_client, "mod-protect", "password-123")
    assert kafka_client.put("/api/streams/show-api-1/protection", headers={"x-csrf-token": csrf}).status_code == 403
def test_without_a_control_topic_the_streams_api_says_what_to_configure(client: Any) -> None:
    """``create_app`` without ``streams`` (no broker configured): 503 naming the setting, no Kafka call."""
    login(client, *ADMIN)
    resp = client.get("/api/streams")
    assert resp.status_code == 503 and "LIVEWATCH_KAFKA" in resp.text
