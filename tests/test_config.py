"""Configuration: one clear line naming the setting, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

ENV = {"BOT_TOKEN": "123:abc"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[telegram]\nmoderation_chat_id = -100123\n"), ENV)
    assert config.moderation_chat_id == -100123 and config.timezone.key == "Asia/Shanghai"
    assert config.database_path == tmp_path / "data" / "leopard-watch.sqlite3"
    # Telegram's limits as the bot paces itself: one message a second to a person, 20 a minute a group
    assert (config.pace.private_per_second, config.pace.group_per_minute) == (1.0, 20)


@pytest.mark.parametrize(
    ("text", "env", "named"),
    [
        ("[telegram]\nmoderation_chat_id = -1\n", {}, "BOT_TOKEN"),
        ("[telegram]\nmoderation_chat_id = -1\n", {"BOT_TOKEN": "nocolon"}, "BOT_TOKEN"),
        ("[telegram]\n", ENV, "telegram.moderation_chat_id"),
        ("[telegram]\nmoderation_chat_id = 'x'\n", ENV, "telegram.moderation_chat_id"),
        ("[telegram]\nmoderation_chat_id = -1\n[region]\ntimezone = 'Mars/Base'\n", ENV, "region.timezone"),
        ("[telegram]\nmoderation_chat_id = -1\n[reports]\nmax_age_days = 0\n", ENV, "reports.max_age_days"),
        ("[telegram]\nmoderation_chat_id = -1\n[languages]\ndefault = 'fr'\n", ENV, "languages.default"),
        ("[telegram]\nmoderation_chat_id = -1\nstaff_user_ids = ['a']\n", ENV, "telegram.staff_user_ids"),
        ("[telegram\n", ENV, "not valid TOML"),
        (
            "[telegram]\nmoderation_chat_id = -1\nprivate_messages_per_second = 0\n",
            ENV,
            "telegram.private_messages_per_second",
        ),
    ],
)
def test_bad_config_names_the_setting(tmp_path: Path, text: str, env: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config(write(tmp_path, text), env)


def test_command_line_reports_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[telegram]\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(path)],
        env={"BOT_TOKEN": "1:x", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "leopard-watch: configuration error: telegram.moderation_chat_id is required"
    )
    help_text = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, timeout=60
    )
    assert help_text.returncode == 0 and "run" in help_text.stdout


BASE = "[telegram]\nmoderation_chat_id = -100123\n"
PUBLIC_TIPS = (
    '[[destinations]]\nname = "news"\nchat_id = -1002\nkinds = ["sighting", "tip"]\ntrusted = false\n'
)
WEB_ENV = {**ENV, "LEOPARD_WATCH_SECRET": "s" * 32}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (BASE + PUBLIC_TIPS, r"destinations\[0\] takes \"tip\" but is not trusted"),
        (BASE + "[moderation]\npublic_cell_degrees = 0.01\n", r"public_cell_degrees must be at least 0\.05"),
        (BASE + "[moderation]\npublic_cell_degrees = nan\n", r"public_cell_degrees must be at least 0\.05"),
        (BASE + '[web]\npublic_url = "http://leopards.example.org"\n', r"web\.public_url must start with"),
    ],
)
def test_unsafe_settings_refused_at_start_up(tmp_path: Path, text: str, named: str) -> None:
    """Settings that would hand a tip to a public channel, a den to a poacher or a cookie to the wire."""
    with pytest.raises(ConfigError, match=named):
        load_config(write(tmp_path, text), WEB_ENV)


def test_safe_variants_of_those_settings_load(tmp_path: Path) -> None:
    trusted_tips = PUBLIC_TIPS.replace("trusted = false", "trusted = true")
    config = load_config(write(tmp_path, BASE + trusted_tips + "[moderation]\npublic_cell_degrees = 0.05\n"),
                         WEB_ENV)
    assert config.public_cell_degrees == 0.05 and config.destinations[0].trusted
    local_web = '[web]\npublic_url = "http://127.0.0.1:8080"\nlocal_testing = true\n'
    local = load_config(write(tmp_path, BASE + local_web), WEB_ENV)
    assert local.web.public_url == "http://127.0.0.1:8080" and local.web.local_testing
    off_web = '[web]\nenabled = false\npublic_url = "http://x.org"\n'
    off = load_config(write(tmp_path, BASE + off_web), WEB_ENV)
    assert not off.web.enabled
