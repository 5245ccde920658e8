"""Configuration: one TOML file for settings, environment variables for secrets.

The file's sections are frozen dataclasses with the file's names (``config.reports.draft_timeout_minutes``
is ``[reports] draft_timeout_minutes``), and a field's default is the setting's default: nothing else
repeats them. Every problem is reported as one :class:`ConfigError` line that names the setting — a
misspelt one too, with the nearest known name — so an operator never has to read a traceback to find a
typo, and a typo never starts a bot that silently ignores what was meant.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, is_dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.configfile import (
    ConfigError,
    at_least,
    between,
    file_settings,
    not_a_setting,
    one_of,
    positive,
    read_table,
    setting,
    table,
)
from bot.pacing import PaceLimits
from bot.web.settings import WebSettings, web_settings

__all__ = [
    "KINDS",
    "AbuseSettings",
    "CompensationSettings",
    "Config",
    "ConfigError",
    "Destination",
    "LanguagesSettings",
    "ModerationSettings",
    "PrivacySettings",
    "RegionSettings",
    "ReportsSettings",
    "SafetySettings",
    "StorageSettings",
    "TelegramSettings",
    "load_config",
]

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
#: The Bot API lets a bot download at most 20 MB; a self-hosted server in --local mode, 2000 MB.
TELEGRAM_DOWNLOAD_LIMIT_MB = 20
LOCAL_DOWNLOAD_LIMIT_MB = 2000
SUPPORTED_LANGUAGES = ("zh_Hans", "en")
KINDS = ("sighting", "livestock", "signs", "tip")
#: The smallest public grid cell (about 5.5 km): a smaller one points poachers at a den.
MIN_PUBLIC_CELL_DEGREES = 0.05

POSITIVE: Final = setting(check=positive)


def _staff_ids(value: Any, name: str) -> frozenset[int]:
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise ConfigError(f"{name} must be a list of numeric Telegram user ids")
    return frozenset(value)


def _username(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be str, not {value!r}")
    return value.strip().lstrip("@")


def _stripped(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be str, not {value!r}")
    return value.strip()


def _timezone(value: Any, name: str) -> ZoneInfo:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be str, not {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} {value!r} is not a known time zone") from None


def _public_cell(value: float, name: str) -> float:
    if not value >= MIN_PUBLIC_CELL_DEGREES:  # also refuses NaN
        raise ConfigError(
            f"{name} must be at least {MIN_PUBLIC_CELL_DEGREES} "
            f"(about 5 km; a smaller cell can give a leopard's place away), not {value!r}"
        )
    return value


def _kinds(value: Any, name: str) -> frozenset[str]:
    kinds = value if isinstance(value, list) else []
    unknown = [k for k in kinds if k not in KINDS]
    if not kinds or unknown:
        raise ConfigError(f"{name} must list some of {', '.join(KINDS)}; unknown: {unknown}")
    return frozenset(kinds)


def _existing_file(value: Path, name: str) -> Path:
    if not value.is_file():
        raise ConfigError(f"{name} {value} does not exist")
    return value


@dataclass(frozen=True)
class TelegramSettings:
    """`[telegram]`: the staff group, who is staff, and how the bot reaches the Bot API."""

    moderation_chat_id: int  # required: the staff group, where every report's card is posted
    staff_user_ids: frozenset[int] = field(default=frozenset(), metadata=setting(parse=_staff_ids))
    base_url: str = DEFAULT_BASE_URL
    base_file_url: str = DEFAULT_BASE_FILE_URL
    # A self-hosted Bot API server started with --local: files are read from its disk, up to 2000 MB,
    # instead of Telegram's 20 MB download limit.
    local_mode: bool = False
    outbox_poll_seconds: float = field(default=2.0, metadata=POSITIVE)
    # updates handled at once, each person's still one at a time (handlers/updates.py)
    concurrent_updates: int = field(default=16, metadata=POSITIVE)
    # the bot's pace in a private chat (bot/pacing.py); Telegram's other flood limits are not settings
    private_messages_per_second: float = field(default=1.0, metadata=POSITIVE)
    bot_username: str = field(default="", metadata=setting(parse=_username))  # for poster deep links


@dataclass(frozen=True)
class StorageSettings:
    """`[storage]`: the database and the photos (relative paths are relative to the file's folder)."""

    database: Path = Path("data/leopard-watch.sqlite3")
    media_dir: Path = Path("data/media")
    # Read-only connections beside the one writer (bot/store/core.py, READERS): reads that come while a
    # fsynced write is under way use one instead of waiting for the disk. 0: every read waits its turn
    # on the writer, which measured faster where fsync takes about a millisecond.
    read_connections: int = field(default=0, metadata=setting(check=between(0, 8)))


@dataclass(frozen=True)
class RegionSettings:
    """`[region]`: the county's clock, the outline's margin (border accuracy) and how far the nearest
    located place may be for a point to take its township (farther: "township unknown"; bot/locations.py)."""

    timezone: ZoneInfo = field(
        default_factory=lambda: ZoneInfo("Asia/Shanghai"), metadata=setting(parse=_timezone)
    )
    area_margin_km: float = field(default=2.0, metadata=setting(check=at_least(0)))
    township_max_km: float = field(default=6.0, metadata=POSITIVE)

    @property
    def area_margin_m(self) -> float:
        return self.area_margin_km * 1000.0

    @property
    def township_max_m(self) -> float:
        return self.township_max_km * 1000.0


@dataclass(frozen=True)
class ReportsSettings:
    """`[reports]`: what a report may be (age, photos, clips) and how long an idle draft waits."""

    max_age_days: float = field(default=30.0, metadata=POSITIVE)  # older events are refused
    draft_timeout_minutes: float = field(default=30.0, metadata=POSITIVE)  # an idle draft is paused
    # An unsent poaching tip's draft (kept in memory only) is deleted, with its photos, after this.
    tip_draft_expiry_hours: float = field(default=24.0, metadata=POSITIVE)
    max_photos: int = field(default=10, metadata=POSITIVE)  # photos and videos together, per report
    max_video_seconds: float = field(default=180.0, metadata=POSITIVE)  # longest clip taken
    max_voice_seconds: float = field(default=300.0, metadata=POSITIVE)  # longest voice note or audio file
    # biggest clip taken (only a local Bot API server goes past Telegram's 20 MB)
    max_video_mb: float = field(default=200.0, metadata=POSITIVE)

    @property
    def max_age(self) -> timedelta:
        return timedelta(days=self.max_age_days)

    @property
    def draft_timeout(self) -> timedelta:
        return timedelta(minutes=self.draft_timeout_minutes)

    @property
    def tip_draft_expiry(self) -> timedelta:
        return timedelta(hours=self.tip_draft_expiry_hours)


@dataclass(frozen=True)
class LanguagesSettings:
    """`[languages]`: for people whose Telegram language is unknown, and for the staff's cards."""

    default: str = field(default="zh_Hans", metadata=setting(check=one_of(SUPPORTED_LANGUAGES)))
    staff: str = field(default="zh_Hans", metadata=setting(check=one_of(SUPPORTED_LANGUAGES)))


@dataclass(frozen=True)
class SafetySettings:
    """`[safety]`: the county's leopard hotline in the safety advice; empty: "the forestry station or 110"."""

    hotline: str = field(default="", metadata=setting(parse=_stripped))


@dataclass(frozen=True)
class ModerationSettings:
    """`[moderation]`: the staff loop. How long a group administrator's rights are remembered; how long
    a decision can be undone before reporters and channels hear of it; how long a question to a
    reporter stays open, how many messages answer it, and how long after the first one the rest (a
    photo after the text) may follow; the public grid cell."""

    staff_cache_seconds: float = field(default=300.0, metadata=POSITIVE)
    undo_seconds: float = field(default=60.0, metadata=POSITIVE)
    question_hours: float = field(default=72.0, metadata=POSITIVE)
    answers_per_question: int = field(default=3, metadata=POSITIVE)
    answer_settle_minutes: float = field(default=10.0, metadata=POSITIVE)
    public_cell_degrees: float = field(default=0.2, metadata=setting(check=_public_cell))


@dataclass(frozen=True)
class AbuseSettings:
    """`[abuse]`: what one person may send before the bot politely says "later"."""

    reports_per_hour: int = field(default=5, metadata=POSITIVE)
    # Each keyboard tap of a report is a message: a report is about ten, so two quick reports in a
    # minute must still fit.
    messages_per_minute: int = field(default=40, metadata=POSITIVE)


@dataclass(frozen=True)
class PrivacySettings:
    """`[privacy]`: original photos of rejected reports are deleted this many days after the decision."""

    photo_retention_days: float = field(default=90.0, metadata=POSITIVE)


@dataclass(frozen=True)
class CompensationSettings:
    """`[compensation]`: livestock-kill compensation cases (bot/compensation.py) and their deadlines.

    The day counts are Shanxi's rules in force since 2023-03-01, in working days (weekends and
    public holidays excluded, adjusted working weekends included; see `holidays_file`).
    """

    # the bureau surveys the site and writes its report
    survey_working_days: int = field(default=5, metadata=setting(check=at_least(1)))
    # the owner applies, counted from the loss
    apply_working_days: int = field(default=10, metadata=setting(check=at_least(1)))
    # payment, counted from the approval
    payment_working_days: int = field(default=10, metadata=setting(check=at_least(1)))
    # staff are reminded this many working days before a deadline
    remind_working_days: int = field(default=1, metadata=setting(check=at_least(0)))
    reminder_hour: int = field(default=9, metadata=setting(check=between(0, 23)))  # county time
    # None (empty in the file): the bundled bot/data/holidays_cn.toml
    holidays_file: Path | None = field(default=None, metadata=setting(check=_existing_file))
    # name of the [[destinations]] entry that is the compensation chat
    destination: str = field(default="", metadata=setting(parse=_stripped))


@dataclass(frozen=True)
class Destination:
    """`[[destinations]]`: a staff channel or group that verified incidents of some kinds are posted to.

    A trusted destination gets the exact location, original photos and the reporter's contact;
    a public one gets the obscured grid cell, stripped photos and no identity at all.
    """

    name: str
    chat_id: int
    kinds: frozenset[str] = field(metadata=setting(parse=_kinds))
    trusted: bool


#: The file's sections (tables) and the dataclass each is read into; `[[destinations]]` and `[web]`
#: are read on their own.
SECTIONS: Final[dict[str, type[Any]]] = {
    "telegram": TelegramSettings,
    "storage": StorageSettings,
    "region": RegionSettings,
    "reports": ReportsSettings,
    "languages": LanguagesSettings,
    "safety": SafetySettings,
    "moderation": ModerationSettings,
    "abuse": AbuseSettings,
    "privacy": PrivacySettings,
    "compensation": CompensationSettings,
}
KNOWN_SECTIONS: Final = (*SECTIONS, "web", "destinations")


@dataclass(frozen=True)
class Config:
    """Everything the bot needs to run: the file's sections, and secrets from the environment.

    Built by :func:`load_config`; a test or the sandbox changes settings with :meth:`with_settings`.
    """

    bot_token: str  # BOT_TOKEN
    telegram: TelegramSettings
    storage: StorageSettings
    region: RegionSettings = field(default_factory=RegionSettings)
    reports: ReportsSettings = field(default_factory=ReportsSettings)
    languages: LanguagesSettings = field(default_factory=LanguagesSettings)
    safety: SafetySettings = field(default_factory=SafetySettings)
    moderation: ModerationSettings = field(default_factory=ModerationSettings)
    abuse: AbuseSettings = field(default_factory=AbuseSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    compensation: CompensationSettings = field(default_factory=CompensationSettings)
    destinations: tuple[Destination, ...] = ()
    web: WebSettings = field(default_factory=WebSettings)
    secret_key: str = ""  # LEOPARD_WATCH_SECRET
    # Not a setting: the whole of the bot's pacing (bot/pacing.py), for tests and the sandbox, whose fake
    # Telegram is faster than the real one. None: Telegram's limits with [telegram]
    # private_messages_per_second.
    pacing: PaceLimits | None = None

    @property
    def pace(self) -> PaceLimits:
        """Telegram's flood limits as the bot paces itself per chat (bot/pacing.py)."""
        if self.pacing is not None:
            return self.pacing
        return PaceLimits(private_per_second=self.telegram.private_messages_per_second)

    @property
    def download_limit_bytes(self) -> int:
        """The biggest file the bot can fetch: Telegram's 20 MB, or a local server's 2000 MB (capped
        by max_video_mb)."""
        limit = (
            min(LOCAL_DOWNLOAD_LIMIT_MB, self.reports.max_video_mb)
            if self.telegram.local_mode
            else TELEGRAM_DOWNLOAD_LIMIT_MB
        )
        return int(limit * 1024 * 1024)

    def destinations_for(self, kind: str) -> list[Destination]:
        return [d for d in self.destinations if kind in d.kinds]

    def with_settings(self, **changes: Any) -> Config:
        """This configuration with some settings changed; a section's changes are given as a dict:
        ``config.with_settings(reports={"max_photos": 2}, secret_key="…")``."""
        values: dict[str, Any] = {}
        for name, value in changes.items():
            current = getattr(self, name)
            if isinstance(value, dict) and is_dataclass(current) and not isinstance(current, type):
                value = replace(current, **value)
            values[name] = value
        return replace(self, **values)


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
    return config_from(data, base, env, require_token=require_token)


def config_from(
    data: dict[str, Any], base: Path, env: dict[str, str], *, require_token: bool = True
) -> Config:
    """The configuration that the parsed TOML `data` (a file in the folder `base`) and `env` describe."""

    def resolve(p: str) -> Path:
        candidate = Path(p).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    token = env.get("BOT_TOKEN", "").strip()
    if not token and require_token:
        raise ConfigError("BOT_TOKEN is not set (put the token from BotFather in the environment)")
    if token and ":" not in token:
        raise ConfigError("BOT_TOKEN does not look like a bot token (expected digits:letters)")

    _refuse_unknown_sections(data)
    home = {key: name for name, cls in SECTIONS.items() for key in file_settings(cls)}
    sections = {
        name: read_table(cls, table(data, name), name, resolve=resolve, elsewhere=home)
        for name, cls in SECTIONS.items()
    }
    storage: StorageSettings = sections["storage"]
    sections["storage"] = replace(  # the defaults are relative to the file's folder too
        storage, database=resolve(str(storage.database)), media_dir=resolve(str(storage.media_dir))
    )
    destinations = _destinations(data)
    _check_compensation_chat(sections["compensation"], destinations)
    web = web_settings(data)
    if web.enabled and len(env.get("LEOPARD_WATCH_SECRET", "")) < 16:
        raise ConfigError("LEOPARD_WATCH_SECRET must be set (16 or more characters) when [web] is enabled")
    return Config(
        bot_token=token,
        destinations=destinations,
        web=web,
        secret_key=env.get("LEOPARD_WATCH_SECRET", ""),
        **sections,
    )


def _refuse_unknown_sections(data: dict[str, Any]) -> None:
    """Every top-level name is a known section; a setting written above its section is told where it goes."""
    for name in data:
        if name in KNOWN_SECTIONS:
            continue
        owners = [section for section, cls in SECTIONS.items() if name in file_settings(cls)]
        if owners and not isinstance(data[name], dict):
            raise ConfigError(f"{name} is not a section: it is a setting of [{owners[0]}], put it below that")
        raise not_a_setting(name, KNOWN_SECTIONS, "a section")


def _destinations(data: dict[str, Any]) -> tuple[Destination, ...]:
    """The `[[destinations]]` tables: where verified incidents of each kind go."""
    raw = data.get("destinations", [])
    if not isinstance(raw, list):
        raise ConfigError(f"destinations must be list, not {raw!r}")
    found = []
    for index, item in enumerate(raw):
        section = f"destinations[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{section} must be a table")
        destination = read_table(Destination, item, section)
        if "tip" in destination.kinds and not destination.trusted:
            # A poaching tip names a place and maybe a person: only trusted (staff) chats may get one.
            raise ConfigError(
                f'{section} takes "tip" but is not trusted: tips go only to trusted destinations'
            )
        found.append(destination)
    return tuple(found)


def _check_compensation_chat(settings: CompensationSettings, destinations: tuple[Destination, ...]) -> None:
    """A named compensation chat must be trusted and take livestock reports: case cards carry the
    owner's name and phone."""
    name = settings.destination
    if not name:
        return
    found = next((x for x in destinations if x.name == name), None)
    if found is None:
        raise ConfigError(f"compensation.destination {name!r} names no [[destinations]] block")
    if not found.trusted or "livestock" not in found.kinds:
        raise ConfigError(f'compensation.destination {name!r} must be trusted and take "livestock"')

