"""Watch sessions: the engine makes the alert id once, scoped by the session, and logs that id."""

from __future__ import annotations

import logging
import uuid

import pytest

from events import Modality, alert_id_for

CUE = "counterfeit.brand_with_cue"


def _raise_one(engine, ev, stream: str = "s1"):
    alerts = engine.process(ev(modality=Modality.LOGO, brand="chanel", t=10, stream=stream))
    alerts += engine.process(ev("这款包包是高仿的，和专柜一模一样", t=20, stream=stream))
    (alert,) = [a for a in alerts if a.rule_id == CUE]
    return alert


def test_alert_id_for_with_a_scope_differs_and_without_keeps_the_unscoped_id() -> None:
    plain = alert_id_for("s1", CUE, "chanel", 10.0)
    assert alert_id_for("s1", CUE, "chanel", 10.0, "") == plain
    assert plain == str(uuid.uuid5(uuid.UUID("6f1d7a52-1c8e-4c61-9a43-5b0f3a9d2e10"), f"s1|{CUE}|chanel|10.000"))
    one, two = alert_id_for("s1", CUE, "chanel", 10.0, "a"), alert_id_for("s1", CUE, "chanel", 10.0, "b")
    assert len({plain, one, two}) == 3
    assert alert_id_for("s1", CUE, "chanel", 10.0, "a") == one, "deterministic within a session"


def test_open_stream_scopes_the_ids_and_the_log_line_names_that_id(engine, ev, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rules")
    engine.open_stream("s1", "session-1")
    first = _raise_one(engine, ev)
    assert first.alert_id == alert_id_for("s1", CUE, "chanel", 10.0, "session-1")
    logged = [r.getMessage() for r in caplog.records if r.name == "rules.engine" and r.getMessage().startswith("alert ")]
    assert any(m.startswith(f"alert {first.alert_id} rev 1") for m in logged), logged

    later = engine.process(ev("高仿 原单 香奈儿", t=30))  # a revision keeps the id
    assert {a.alert_id for a in later if a.rule_id == CUE} <= {first.alert_id}

    engine.finish("s1")
    engine.open_stream("s1", "session-2")  # the same broadcast watched again: media time restarts
    again = _raise_one(engine, ev)
    assert again.alert_id == alert_id_for("s1", CUE, "chanel", 10.0, "session-2") != first.alert_id
    assert again.revision == 1


def test_without_a_session_ids_stay_those_of_a_recording(engine, ev) -> None:
    assert _raise_one(engine, ev).alert_id == alert_id_for("s1", CUE, "chanel", 10.0)
    engine.finish("s1")
    engine.open_stream("s1")  # scan opens with no scope
    assert _raise_one(engine, ev).alert_id == alert_id_for("s1", CUE, "chanel", 10.0)


def test_open_stream_drops_what_a_previous_session_left(engine, ev) -> None:
    engine.open_stream("s1", "a")
    engine.process(ev(modality=Modality.LOGO, brand="chanel", t=10))
    engine.open_stream("s1", "b")  # the logo of session a must not join the cue of session b
    alerts = engine.process(ev("这款包包是高仿的，和专柜一模一样", t=20))
    assert not [a for a in alerts if a.rule_id == CUE]
