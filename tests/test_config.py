"""Every setting can be set from the environment, read with its declared type."""

from __future__ import annotations

import pytest

from backend.config import KEY_FILES, PARSERS, SANDBOX_PATHS, Config

SAMPLES = {"str": ("from-env", "from-env"), "int": ("41", 41), "bool": ("true", True)}


def _clear(monkeypatch) -> None:
    for setting in Config.settings():
        monkeypatch.delenv(setting.name, raising=False)
    for path_var in KEY_FILES.values():
        monkeypatch.delenv(path_var, raising=False)


def test_every_setting_has_a_parser():
    assert {setting.type for setting in Config.settings()} <= set(PARSERS)


def test_every_setting_is_read_from_the_environment_with_its_type(monkeypatch):
    _clear(monkeypatch)
    for setting in Config.settings():
        monkeypatch.setenv(setting.name, SAMPLES[setting.type][0])
    config = Config.from_env()
    for setting in Config.settings():
        value = getattr(config, setting.name)
        assert value == SAMPLES[setting.type][1], setting.name
        assert type(value).__name__ == setting.type, setting.name


def test_unset_settings_keep_their_defaults(monkeypatch):
    _clear(monkeypatch)
    assert Config.from_env() == Config()


@pytest.mark.parametrize("raw, parsed", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_booleans(monkeypatch, raw, parsed):
    _clear(monkeypatch)
    monkeypatch.setenv("TESTING", raw)
    assert Config.from_env().TESTING is parsed


def test_outside_bases_follow_the_sandbox_unless_set(monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("SANDBOX_URL", "http://sandbox")
    monkeypatch.setenv("JD_API_BASE", "https://jd.example")
    config = Config.from_env()
    assert config.JD_API_BASE == "https://jd.example"
    for name, path in SANDBOX_PATHS.items():
        if name != "JD_API_BASE":
            assert getattr(config, name) == "http://sandbox" + path


def test_keys_may_be_read_from_files(monkeypatch, tmp_path):
    _clear(monkeypatch)
    (tmp_path / "key.pem").write_text("PEM")
    monkeypatch.setenv("WECHATPAY_PRIVATE_KEY_FILE", str(tmp_path / "key.pem"))
    assert Config.from_env().WECHATPAY_PRIVATE_KEY == "PEM"


def test_secrets_have_no_default():
    for name in ("SECRET_KEY", "WECHAT_SECRET", "WECHATPAY_APIV3_KEY", "PLATFORM_TOKEN_KEYS"):
        assert getattr(Config(), name) == "", name
