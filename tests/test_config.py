"""Configuration: one clear line naming the setting, never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, config_from, load_config
from bot.i18n import translator
from bot.safety import safety_text

ENV = {"BOT_TOKEN": "123:abc"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[telegram]\nmoderation_chat_id = -100123\n"), ENV)
    assert config.telegram.moderation_chat_id == -100123 and config.region.timezone.key == "Asia/Shanghai"
    assert config.storage.database == tmp_path / "data" / "leopard-watch.sqlite3"
    # Telegram's limits as the bot paces itself: one message a second to a person, 20 a minute a group
    assert (config.pace.private_per_second, config.pace.group_per_minute) == (1.0, 20)
    settings = config.region
    assert (settings.area_margin_m, settings.township_max_m) == (2000.0, 6000.0)  # the [region] defaults
    region = "[telegram]\nmoderation_chat_id = -1\n[region]\narea_margin_km = 0.5\ntownship_max_km = 10\n"
    config = load_config(write(tmp_path, region), ENV)
    assert (config.region.area_margin_m, config.region.township_max_m) == (500.0, 10_000.0)


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
        ("[telegram]\nmoderation_chat_id = -1\n[storage]\nread_connections = 9\n", ENV,
         "storage.read_connections"),
        ("[telegram]\nmoderation_chat_id = -1\n[region]\narea_margin_km = -1\n", ENV,
         "region.area_margin_km"),
        ("[telegram]\nmoderation_chat_id = -1\n[region]\ntownship_max_km = 0\n", ENV,
         "region.township_max_km"),
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


def run_with(path: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bot run --config path`, as an operator starts it."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(path)],
        env={"BOT_TOKEN": "1:x", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_command_line_reports_one_line(tmp_path: Path) -> None:
    result = run_with(write(tmp_path, "[telegram]\n"))
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
    assert config.moderation.public_cell_degrees == 0.05 and config.destinations[0].trusted
    local_web = '[web]\npublic_url = "http://127.0.0.1:8080"\nlocal_testing = true\n'
    local = load_config(write(tmp_path, BASE + local_web), WEB_ENV)
    assert local.web.public_url == "http://127.0.0.1:8080" and local.web.local_testing
    off_web = '[web]\nenabled = false\npublic_url = "http://x.org"\n'
    off = load_config(write(tmp_path, BASE + off_web), WEB_ENV)
    assert not off.web.enabled


DESK = '[[destinations]]\nname = "desk"\nchat_id = -1002\nkinds = ["livestock"]\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            BASE + "[reports]\ndraft_timeout_minute = 30\n",
            "reports.draft_timeout_minute is not a setting (did you mean draft_timeout_minutes?)",
        ),
        # The county's hotline, misspelt: it would never appear in the safety advice.
        (BASE + '[safety]\nhotlne = "0354-1234567"\n',
         "safety.hotlne is not a setting (did you mean hotline?)"),
        (BASE + '[saftey]\nhotline = "0354-1234567"\n', "saftey is not a section (did you mean safety?)"),
        (BASE + "[leopards]\ncount = 3\n", "leopards is not a section"),
        (BASE + DESK + "trusted = true\nchatid = -1003\n",
         "destinations[0].chatid is not a setting (did you mean chat_id?)"),
        (BASE + DESK + "trused = true\n", "destinations[0].trused is not a setting (did you mean trusted?)"),
        (BASE + "[web]\nmax_photo_mbs = 10\n",
         "web.max_photo_mbs is not a setting (did you mean max_photo_mb?)"),
        (BASE + "[compensation]\nreminder_hours = 8\n",
         "compensation.reminder_hours is not a setting (did you mean reminder_hour?)"),
        # Right name, wrong section, and a setting written above every section.
        ('[telegram]\nmoderation_chat_id = -1\nhotline = "0354-1234567"\n',
         "telegram.hotline is not a setting of [telegram] (it belongs in [safety])"),
        ('hotline = "0354-1234567"\n' + BASE,
         "hotline is not a section: it is a setting of [safety], put it below that"),
    ],
)
def test_unknown_settings_and_sections_are_refused_with_the_nearest_name(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, text), WEB_ENV)
    assert str(refused.value) == message


def test_a_misspelt_setting_stops_the_command_line_with_one_line(tmp_path: Path) -> None:
    result = run_with(write(tmp_path, BASE + "[reports]\ndraft_timeout_minute = 45\n"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "leopard-watch: configuration error: reports.draft_timeout_minute is not a setting "
        "(did you mean draft_timeout_minutes?)"
    )


def test_the_hotline_from_the_file_reaches_the_safety_advice(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE + '[safety]\nhotline = " 0354-1234567 "\n'), ENV)
    assert config.safety.hotline == "0354-1234567"
    advice = safety_text(translator("en", config.region.timezone.key), "sighting", config.safety.hotline)
    assert "0354-1234567" in advice


def test_each_section_mirrors_its_table(tmp_path: Path) -> None:
    """Field names are the file's names; derived values (a timedelta, metres) are read from them."""
    text = BASE + "[reports]\ndraft_timeout_minutes = 45\nmax_age_days = 7\n[region]\narea_margin_km = 1.5\n"
    config = load_config(write(tmp_path, text), ENV)
    reports = config.reports
    assert reports.draft_timeout_minutes == 45 and reports.draft_timeout == timedelta(minutes=45)
    assert config.reports.max_age == timedelta(days=7) and config.region.area_margin_m == 1500.0
    assert config.telegram.moderation_chat_id == -100123
    assert config.with_settings(reports={"max_photos": 3}).reports == replace(config.reports, max_photos=3)


def toml_examples(text: str) -> list[str]:
    """The ```toml blocks of a Markdown file, unindented."""
    return [textwrap.dedent(block) for block in re.findall(r"```toml\n(.*?)^\s*```", text, re.S | re.M)]


@pytest.mark.parametrize("document", ["README.md", "deploy/GUIDE.md"])
def test_the_documents_examples_load(tmp_path: Path, document: str) -> None:
    """Every configuration snippet the documents show is made of real settings (each may leave out
    the required staff group: it shows a part of a file)."""
    examples = toml_examples((Path(__file__).resolve().parent.parent / document).read_text(encoding="utf-8"))
    assert examples, f"{document} shows no configuration any more: update this test"
    for example in examples:
        data = tomllib.loads(example)
        data.setdefault("telegram", {}).setdefault("moderation_chat_id", -1)
        config_from(data, tmp_path, WEB_ENV)
