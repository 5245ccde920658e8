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

from bot.pacing import PaceLimits

if TYPE_CHECKING:
    from bot.web.settings import WebSettings

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
#: The Bot API lets a bot download at most 20 MB; a self-hosted server in --local mode, 2000 MB.
TELEGRAM_DOWNLOAD_LIMIT_MB = 20
LOCAL_DOWNLOAD_LIMIT_MB = 2000
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
class CompensationSettings:
    """`[compensation]`: livestock-kill compensation cases (bot/compensation.py) and their deadlines.

    The day counts are Shanxi's rules in force since 2023-03-01, in working days (weekends and
    public holidays excluded, adjusted working weekends included; see `holidays_file`).
    """

    survey_working_days: int = 5  # the bureau surveys the site and writes its report
    apply_working_days: int = 10  # the owner applies, counted from the loss
    payment_working_days: int = 10  # payment, counted from the approval
    remind_working_days: int = 1  # staff are reminded this many working days before a deadline
    reminder_hour: int = 9  # county time of the daily reminders and digest
    holidays_file: Path | None = None  # None: the bundled bot/data/holidays_cn.toml
    destination: str = ""  # name of the [[destinations]] entry that is the compensation chat


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
    # An unsent poaching tip's draft (kept in memory only) is deleted, with its photos, after this.
    tip_draft_expiry: timedelta = timedelta(hours=24)
    max_photos: int = 10  # [reports]: photos and videos together, per report
    max_video_seconds: float = 180.0  # [reports]: longest clip taken
    max_voice_seconds: float = 300.0  # [reports]: longest voice note or audio file taken
    max_video_mb: float = 200.0  # [reports]: biggest clip taken (only a local Bot API server goes past 20 MB)
    # [telegram]: a self-hosted Bot API server started with --local: files are read from its disk,
    # up to 2000 MB, instead of Telegram's 20 MB download limit.
    local_mode: bool = False
    outbox_poll_seconds: float = 2.0
    # [telegram]: updates handled at once, each person's still one at a time (handlers/updates.py)
    concurrent_updates: int = 16
    secret_key: str = ""
    destinations: tuple[Destination, ...] = ()
    staff_cache_seconds: float = 300.0
    # [moderation] the staff loop (issue 21): how long a decision can be undone before reporters and
    # channels hear of it; how long a question to a reporter stays open, how many messages answer
    # it, and how long after the first one the rest (a photo after the text) may follow.
    undo_seconds: float = 60.0
    question_hours: float = 72.0
    answers_per_question: int = 3
    answer_settle_minutes: float = 10.0
    public_cell_degrees: float = 0.2
    web: WebSettings = field(default_factory=lambda: _web_settings({}))
    hotline: str = ""
    bot_username: str = ""
    reports_per_hour: int = 5  # [abuse]: reports one person may submit in an hour
    # [abuse]: private messages one person may send in a minute. Each keyboard tap of a report is a
    # message: a report is about ten, so two quick reports in a minute must still fit.
    messages_per_minute: int = 40
    photo_retention_days: float = 90.0  # [privacy]: original photos of rejected reports are then deleted
    compensation: CompensationSettings = field(default_factory=CompensationSettings)
    # Telegram's flood limits as the bot paces itself per chat (bot/pacing.py); only the private
    # rate is a setting ([telegram] private_messages_per_second), for test servers.
    pace: PaceLimits = field(default_factory=PaceLimits)
    # [region]: the county outline's margin (border accuracy) and how far the nearest located place
    # may be for a point to take its township (farther: "township unknown"); bot/locations.py.
    area_margin_m: float = 2000.0
    township_max_m: float = 6000.0

    @property
    def download_limit_bytes(self) -> int:
        """The biggest file the bot can fetch: Telegram's 20 MB, or a local server's 2000 MB (capped
        by max_video_mb)."""
        limit = (
            min(LOCAL_DOWNLOAD_LIMIT_MB, self.max_video_mb) if self.local_mode else TELEGRAM_DOWNLOAD_LIMIT_MB
        )
        return int(limit * 1024 * 1024)

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


def load_config(
    path: Path | None, env: dict[str, str] | None = None, *, require_token: bool = True
) -> Config:
    """Reads the TOML file at `path` (optional) and secrets from `env` (default: the process's).

    `require_token=False` is for commands that never talk to Telegram (`leopard-watch backup`): a
    missing BOT_TOKEN then leaves `bot_token` empty instead of stopping.
    """
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
    if not token and require_token:
        raise ConfigError("BOT_TOKEN is not set (put the token from BotFather in the environment)")
    if token and ":" not in token:
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
    abuse = _section(data, "abuse")
    privacy = _section(data, "privacy")
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
        tip_draft_expiry=timedelta(
            hours=_positive(
                _get(reports, "reports", "tip_draft_expiry_hours", float, 24.0),
                "reports.tip_draft_expiry_hours",
            )
        ),
        max_photos=int(_positive(_get(reports, "reports", "max_photos", int, 10), "reports.max_photos")),
        max_video_seconds=_positive(
            _get(reports, "reports", "max_video_seconds", float, 180.0), "reports.max_video_seconds"
        ),
        max_voice_seconds=_positive(
            _get(reports, "reports", "max_voice_seconds", float, 300.0), "reports.max_voice_seconds"
        ),
        max_video_mb=_positive(
            _get(reports, "reports", "max_video_mb", float, 200.0), "reports.max_video_mb"
        ),
        local_mode=_get(telegram, "telegram", "local_mode", bool, False),
        outbox_poll_seconds=_positive(
            _get(telegram, "telegram", "outbox_poll_seconds", float, 2.0), "telegram.outbox_poll_seconds"
        ),
        concurrent_updates=int(
            _positive(
                _get(telegram, "telegram", "concurrent_updates", int, 16), "telegram.concurrent_updates"
            )
        ),
        pace=PaceLimits(
            private_per_second=_positive(
                _get(telegram, "telegram", "private_messages_per_second", float, 1.0),
                "telegram.private_messages_per_second",
            )
        ),
        secret_key=env.get("LEOPARD_WATCH_SECRET", ""),
        destinations=destinations,
        staff_cache_seconds=_positive(
            _get(moderation, "moderation", "staff_cache_seconds", float, 300.0),
            "moderation.staff_cache_seconds",
        ),
        undo_seconds=_positive(
            _get(moderation, "moderation", "undo_seconds", float, 60.0), "moderation.undo_seconds"
        ),
        question_hours=_positive(
            _get(moderation, "moderation", "question_hours", float, 72.0), "moderation.question_hours"
        ),
        answers_per_question=int(
            _positive(
                _get(moderation, "moderation", "answers_per_question", int, 3),
                "moderation.answers_per_question",
            )
        ),
        answer_settle_minutes=_positive(
            _get(moderation, "moderation", "answer_settle_minutes", float, 10.0),
            "moderation.answer_settle_minutes",
        ),
        public_cell_degrees=_public_cell(_get(moderation, "moderation", "public_cell_degrees", float, 0.2)),
        web=web,
        hotline=_get(safety, "safety", "hotline", str, "").strip(),
        bot_username=_get(telegram, "telegram", "bot_username", str, "").strip().lstrip("@"),
        reports_per_hour=int(
            _positive(_get(abuse, "abuse", "reports_per_hour", int, 5), "abuse.reports_per_hour")
        ),
        messages_per_minute=int(
            _positive(_get(abuse, "abuse", "messages_per_minute", int, 40), "abuse.messages_per_minute")
        ),
        photo_retention_days=_positive(
            _get(privacy, "privacy", "photo_retention_days", float, 90.0), "privacy.photo_retention_days"
        ),
        compensation=_compensation(_section(data, "compensation"), destinations, resolve),
        area_margin_m=1000.0
        * _non_negative(_get(region, "region", "area_margin_km", float, 2.0), "region.area_margin_km"),
        township_max_m=1000.0
        * _positive(_get(region, "region", "township_max_km", float, 6.0), "region.township_max_km"),
    )


def _non_negative(value: float, name: str) -> float:
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, not {value!r}")
    return value


def _compensation(
    table: dict[str, Any], destinations: tuple[Destination, ...], resolve: Any
) -> CompensationSettings:
    """The `[compensation]` table. A named destination must be trusted and take livestock reports:
    case cards carry the owner's name and phone."""
    d = CompensationSettings()

    def days(key: str, default: int, minimum: int) -> int:
        value = _get(table, "compensation", key, int, default)
        if value < minimum:
            raise ConfigError(f"compensation.{key} must be {minimum} or more, not {value}")
        return int(value)

    hour = _get(table, "compensation", "reminder_hour", int, d.reminder_hour)
    if not 0 <= hour <= 23:
        raise ConfigError(f"compensation.reminder_hour must be from 0 to 23, not {hour}")
    holidays = _get(table, "compensation", "holidays_file", str, "").strip()
    holidays_path = resolve(holidays) if holidays else None
    if holidays_path is not None and not holidays_path.is_file():
        raise ConfigError(f"compensation.holidays_file {holidays_path} does not exist")
    name = _get(table, "compensation", "destination", str, "").strip()
    if name:
        found = next((x for x in destinations if x.name == name), None)
        if found is None:
            raise ConfigError(f"compensation.destination {name!r} names no [[destinations]] block")
        if not found.trusted or "livestock" not in found.kinds:
            raise ConfigError(f'compensation.destination {name!r} must be trusted and take "livestock"')
    return CompensationSettings(
        survey_working_days=days("survey_working_days", d.survey_working_days, 1),
        apply_working_days=days("apply_working_days", d.apply_working_days, 1),
        payment_working_days=days("payment_working_days", d.payment_working_days, 1),
        remind_working_days=days("remind_working_days", d.remind_working_days, 0),
        reminder_hour=hour,
        holidays_file=holidays_path,
        destination=name,
    )


#: The smallest public grid cell (about 5.5 km): a smaller one points poachers at a den.
MIN_PUBLIC_CELL_DEGREES = 0.05


def _public_cell(value: float) -> float:
    if not value >= MIN_PUBLIC_CELL_DEGREES:  # also refuses NaN
        raise ConfigError(
            f"moderation.public_cell_degrees must be at least {MIN_PUBLIC_CELL_DEGREES} "
            f"(about 5 km; a smaller cell can give a leopard's place away), not {value!r}"
        )
    return value


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
    trusted = _get(raw, section, "trusted", bool)
    if "tip" in kinds and not trusted:
        # A poaching tip names a place and maybe a person: only trusted (staff) chats may get one.
        raise ConfigError(f'{section} takes "tip" but is not trusted: tips go only to trusted destinations')
    return Destination(
        name=_get(raw, section, "name", str),
        chat_id=_get(raw, section, "chat_id", int),
        kinds=frozenset(kinds),
        trusted=trusted,
    )
