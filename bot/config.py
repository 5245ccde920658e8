"""Configuration: one TOML file for settings, environment variables for secrets.

Every problem is reported as one :class:`ConfigError` line that names the setting, so an
operator never has to read a traceback to find a typo.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from bot.web.settings import WebSettings

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
SUPPORTED_LANGUAGES = ("zh_Hans", "en")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it."""


KINDS = ("sighting", "livestock", "signs", "tip")


@dataclass(frozen=True)
class Destination:
    """A staff channel or group that verified incidents of some kinds are posted to.

    A trusted destination gets the exact location, original photos and the reporter's contact;
    a public one gets the obscured grid cell, stripped photos and no identity at all.
    """

    name: str
    chat_id: int
    kinds: frozenset[str]
    trusted: bool


@dataclass(frozen=True)
class Config:
    """Everything the bot needs to run; built by :func:`load_config`."""

    bot_token: str
    moderation_chat_id: int
    database_path: Path
    media_dir: Path
    base_url: str = DEFAULT_BASE_URL
    base_file_url: str = DEFAULT_BASE_FILE_URL
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    default_language: str = "zh_Hans"
    staff_language: str = "zh_Hans"
    staff_user_ids: frozenset[int] = frozenset()
    max_report_age: timedelta = timedelta(days=30)
    draft_timeout: timedelta = timedelta(minutes=30)
    max_photos: int = 10
    outbox_poll_seconds: float = 2.0
    secret_key: str = ""
    destinations: tuple[Destination, ...] = ()
    staff_cache_seconds: float = 300.0
    public_cell_degrees: float = 0.2
    web: WebSettings = field(default_factory=lambda: _web_settings({}))
    hotline: str = ""
    bot_username: str = ""

    def destinations_for(self, kind: str) -> list[Destination]:
        return [d for d in self.destinations if kind in d.kinds]


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _get(table: dict[str, Any], section: str, key: str, kind: type, default: Any = None) -> Any:
    """Reads one setting, checking its type; `None` default means required."""
    if key not in table:
        if default is None:
            raise ConfigError(f"{section}.{key} is required" if section else f"{key} is required")
        return default
    value = table[key]
    # bool is an int in Python; a number setting given `true` is still a mistake.
    if kind in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{section}.{key} must be a number, not {value!r}")
    if kind is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, kind):
        raise ConfigError(f"{section}.{key} must be {kind.__name__}, not {value!r}")
    return value


def _positive(value: float, name: str) -> float:
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, not {value!r}")
    return value


def load_config(path: Path | None, env: dict[str, str] | None = None) -> Config:
    """Reads the TOML file at `path` (optional) and secrets from `env` (default: the process's)."""
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"configuration file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    base = path.parent if path is not None else Path.cwd()

    token = env.get("BOT_TOKEN", "").strip()
    if not token:
        raise ConfigError("BOT_TOKEN is not set (put the token from BotFather in the environment)")
    if ":" not in token:
        raise ConfigError("BOT_TOKEN does not look like a bot token (expected digits:letters)")

    telegram = _section(data, "telegram")
    storage = _section(data, "storage")
    region = _section(data, "region")
    reports = _section(data, "reports")
    languages = _section(data, "languages")

    moderation_chat_id = _get(telegram, "telegram", "moderation_chat_id", int)
    staff_ids = _get(telegram, "telegram", "staff_user_ids", list, [])
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in staff_ids):
        raise ConfigError("telegram.staff_user_ids must be a list of numeric Telegram user ids")

    tz_name = _get(region, "region", "timezone", str, "Asia/Shanghai")
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"region.timezone {tz_name!r} is not a known time zone") from None

    langs = {}
    for key in ("default", "staff"):
        lang = _get(languages, "languages", key, str, "zh_Hans")
        if lang not in SUPPORTED_LANGUAGES:
            raise ConfigError(
                f"languages.{key} must be one of {', '.join(SUPPORTED_LANGUAGES)}, not {lang!r}"
            )
        langs[key] = lang

    def resolve(p: str) -> Path:
        candidate = Path(p).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    destinations = tuple(_destination(i, d) for i, d in enumerate(_get(data, "", "destinations", list, [])))
    moderation = _section(data, "moderation")
    safety = _section(data, "safety")
    web = _web_settings(data)
    if web.enabled and len(env.get("LEOPARD_WATCH_SECRET", "")) < 16:
        raise ConfigError("LEOPARD_WATCH_SECRET must be set (16 or more characters) when [web] is enabled")
    return Config(
        bot_token=token,
        moderation_chat_id=moderation_chat_id,
        database_path=resolve(_get(storage, "storage", "database", str, "data/leopard-watch.sqlite3")),
        media_dir=resolve(_get(storage, "storage", "media_dir", str, "data/media")),
        base_url=_get(telegram, "telegram", "base_url", str, DEFAULT_BASE_URL),
        base_file_url=_get(telegram, "telegram", "base_file_url", str, DEFAULT_BASE_FILE_URL),
        timezone=timezone,
        default_language=langs["default"],
        staff_language=langs["staff"],
        staff_user_ids=frozenset(staff_ids),
        max_report_age=timedelta(
            days=_positive(_get(reports, "reports", "max_age_days", float, 30.0), "reports.max_age_days")
        ),
        draft_timeout=timedelta(
            minutes=_positive(
                _get(reports, "reports", "draft_timeout_minutes", float, 30.0),
                "reports.draft_timeout_minutes",
            )
        ),
        max_photos=int(_positive(_get(reports, "reports", "max_photos", int, 10), "reports.max_photos")),
        outbox_poll_seconds=_positive(
            _get(telegram, "telegram", "outbox_poll_seconds", float, 2.0), "telegram.outbox_poll_seconds"
        ),
        secret_key=env.get("LEOPARD_WATCH_SECRET", ""),
        destinations=destinations,
        staff_cache_seconds=_positive(
            _get(moderation, "moderation", "staff_cache_seconds", float, 300.0), "moderation.staff_cache_seconds"
        ),
        public_cell_degrees=_positive(
            _get(moderation, "moderation", "public_cell_degrees", float, 0.2), "moderation.public_cell_degrees"
        ),
        web=web,
        hotline=_get(safety, "safety", "hotline", str, "").strip(),
        bot_username=_get(telegram, "telegram", "bot_username", str, "").strip().lstrip("@"),
    )


def _web_settings(data: dict[str, Any]) -> WebSettings:
    # bot.web.settings reuses this module's readers, so it is imported when first needed.
    from bot.web.settings import web_settings

    return web_settings(data)


def _destination(index: int, raw: Any) -> Destination:
    """One `[[destinations]]` table: where verified incidents of some kinds go."""
    section = f"destinations[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{section} must be a table")
    kinds = _get(raw, section, "kinds", list)
    unknown = [k for k in kinds if k not in KINDS]
    if not kinds or unknown:
        raise ConfigError(f"{section}.kinds must list some of {', '.join(KINDS)}; unknown: {unknown}")
    return Destination(
        name=_get(raw, section, "name", str),
        chat_id=_get(raw, section, "chat_id", int),
        kinds=frozenset(kinds),
        trusted=_get(raw, section, "trusted", bool),
    )
