"""One reader of LIVEWATCH_* variables, one way to read a yes/no or a number."""

from __future__ import annotations

import pytest

from events import ConfigError
from livewatch.config import Config
from livewatch.dashboard_cmd import dashboard_settings

SECRET = {"LIVEWATCH_SECRET_KEY": "k" * 32}


@pytest.mark.parametrize("raw", ["1", "true", "True", "YES", "on"])
def test_yes_in_any_case_means_yes(raw: str) -> None:
    assert Config.from_env({"LIVEWATCH_SPLIT": raw}).split is True
    assert dashboard_settings(Config(), {**SECRET, "LIVEWATCH_SECURE_COOKIES": raw}).secure_cookies is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "OFF"])
def test_no_in_any_case_means_no(raw: str) -> None:
    assert Config.from_env({"LIVEWATCH_SPLIT": raw}).split is False
    assert dashboard_settings(Config(), {**SECRET, "LIVEWATCH_SECURE_COOKIES": raw}).secure_cookies is False


def test_anything_else_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="LIVEWATCH_SPLIT='maybe'"):
        Config.from_env({"LIVEWATCH_SPLIT": "maybe"})
    with pytest.raises(ConfigError, match="LIVEWATCH_METRICS_PORT"):
        Config.from_env({"LIVEWATCH_METRICS_PORT": "http"})


def test_metrics_endpoint_from_the_environment() -> None:
    cfg = Config.from_env({"LIVEWATCH_METRICS_HOST": "0.0.0.0", "LIVEWATCH_METRICS_PORT": "9500"})
    assert (cfg.metrics_host, cfg.metrics_port) == ("0.0.0.0", 9500)
