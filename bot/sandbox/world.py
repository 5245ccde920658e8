"""The sandbox's world: the fake Bot API server, its people and chats, and the bot's configuration.

Everything below the Bot API is real: the configuration is an ordinary :class:`~bot.config.Config`
whose ``base_url`` points at the fake, and the bot built from it is the one ``leopard-watch run``
builds. Only Telegram itself (its servers and its people) is played by :class:`FakeTelegram`.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.config import KINDS, Config, Destination, StorageSettings, TelegramSettings, load_config
from bot.fake_telegram import FakeTelegram
from bot.fake_telegram.ratelimit import RateLimits
from bot.locations import gazetteer, service_area
from bot.pacing import PaceLimits

DEFAULT_DATA_DIR = Path("sandbox-data")
SANDBOX_GROUP = -1001000000001
RESEARCHERS = -1001000000002
PUBLIC = -1001000000003
RESIDENT = 10001
STAFF = 20001
RESIDENT_PHONE = "+8613800000000"  # a demo number, shared when the resident taps "Send my phone number"
LANGUAGE_CODES = {"zh": "zh-hans", "en": "en"}
DEFAULT_DESTINATIONS = (
    Destination("researchers", RESEARCHERS, frozenset(KINDS), trusted=True),
    Destination("public", PUBLIC, frozenset({"sighting", "signs"}), trusted=False),
)
COMPENSATION_GROUP = -1001000000004
# The compensation desk is a group (staff type /survey, /approve … there), never a channel.
COMPENSATION_DESK = Destination("compensation", COMPENSATION_GROUP, frozenset({"livestock"}), trusted=True)
CHANNEL_TITLES = {
    RESEARCHERS: "研究人员（可信） Researchers (trusted)",
    PUBLIC: "和顺豹子公众频道 Heshun leopards (public)",
    COMPENSATION_GROUP: "补偿组 Compensation desk",
}
GROUP_TITLE = "和顺县林业局 · 审核群 Heshun forestry bureau — moderation"


@dataclass(frozen=True)
class SandboxSettings:
    """How to build the sandbox: an optional TOML file, where the data lives, the fake's limits."""

    config_path: Path | None = None
    #: SQLite database and media; None: the file's [storage] settings, else ./sandbox-data
    data_dir: Path | None = None
    #: Telegram's flood limits by default, so the demo behaves like the real thing
    rate_limits: RateLimits = field(default_factory=RateLimits)
    resident_language: str = "zh"  # "zh" or "en": the resident's Telegram app language
    poll_timeout: int = 2  # the bot's long-poll timeout (seconds): how long shutdown may wait
    #: the web tip line beside the bot (what people without Telegram use); 0: a free port; None: off
    tipline_port: int | None = 0


def sandbox_config(
    fake: FakeTelegram, config_path: Path | None, data_dir: Path | None, env: dict[str, str] | None = None
) -> Config:
    """The bot's configuration for the sandbox: the file's settings (if any) aimed at the fake server.

    Raises :class:`~bot.config.ConfigError` for a bad file, exactly as ``leopard-watch run`` would.
    """
    env = dict(os.environ if env is None else env)
    env["BOT_TOKEN"] = fake.token
    if len(env.get("LEOPARD_WATCH_SECRET", "")) < 16:
        env["LEOPARD_WATCH_SECRET"] = secrets.token_urlsafe(24)  # only signs the sandbox's own links
    if config_path is not None:
        base = load_config(config_path, env)
    else:
        root = data_dir or Path.cwd() / DEFAULT_DATA_DIR
        base = Config(
            bot_token=fake.token,
            telegram=TelegramSettings(moderation_chat_id=SANDBOX_GROUP),
            storage=_storage(root),
            secret_key=env["LEOPARD_WATCH_SECRET"],
        )
    if data_dir is not None:
        base = replace(base, storage=_storage(data_dir))
    destinations = tuple(
        d for d in base.destinations if d.chat_id < 0 and d.chat_id != base.telegram.moderation_chat_id
    )
    destinations = destinations or DEFAULT_DESTINATIONS
    compensation = base.compensation
    if not compensation.destination:  # the sandbox's cases go to its compensation group
        destinations = (*destinations, COMPENSATION_DESK)
        compensation = replace(compensation, destination=COMPENSATION_DESK.name)
    return base.with_settings(
        bot_token=fake.token,
        telegram={
            "base_url": fake.base_url,
            "base_file_url": fake.base_file_url,
            # The sandbox's staff member; configured ids are real people who do not exist here.
            "staff_user_ids": frozenset({STAFF}),
            "bot_username": base.telegram.bot_username or str(fake.bot_user["username"]),
        },
        destinations=destinations,
        compensation=compensation,
        pacing=_pace_for(fake.rate_limits, base.pace),
    )


def _storage(root: Path) -> StorageSettings:
    """The database and media folder under `root`."""
    return StorageSettings(database=root / "leopard-watch.sqlite3", media_dir=root / "media")


def _pace_for(limits: RateLimits, pace: PaceLimits) -> PaceLimits:
    """The bot's pacing of a person's chat (bot/pacing.py) a little under a fake made faster than
    Telegram (tests drive the sandbox at machine speed); Telegram's own limits keep the shipped one."""
    if not limits.enabled or limits.private_per_second <= pace.private_per_second:
        return pace
    return replace(
        pace,
        private_per_second=limits.private_per_second * 0.8,
        private_burst=max(pace.private_burst, int(limits.private_burst * 0.8)),
    )


@dataclass
class Sandbox:
    """The running world: the fake server, who is who, and the configuration the bot runs with."""

    settings: SandboxSettings
    fake: FakeTelegram | None = None
    config: Config | None = None
    resident: int = RESIDENT
    staff: int = STAFF
    channels: dict[int, str] = field(default_factory=dict)  # chat id -> title
    tipline_port: int | None = None  # the web tip line's port, once it listens
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(RESIDENT + 1), repr=False)

    @property
    def ready(self) -> bool:
        return self.fake is not None and self.config is not None

    def server(self) -> FakeTelegram:
        assert self.fake is not None, "the sandbox is not running"
        return self.fake

    def bot_config(self) -> Config:
        assert self.config is not None, "the sandbox is not running"
        return self.config

    @property
    def group(self) -> int:
        return self.bot_config().telegram.moderation_chat_id

    async def start(self) -> None:
        """Starts the fake server and sets up the people, the staff group and the channels."""
        fake = FakeTelegram(rate_limits=self.settings.rate_limits)
        fake.keep_calls = 2000  # a sandbox may run for days
        await fake.start()
        try:
            config = sandbox_config(fake, self.settings.config_path, self.settings.data_dir)
            fake.add_user(
                self.resident, "王大爷", language_code=LANGUAGE_CODES[self.settings.resident_language]
            )
            fake.add_user(self.staff, "张科长", last_name="(林业局)", language_code="zh-hans")
            fake.add_group(config.telegram.moderation_chat_id, GROUP_TITLE, admins=[self.staff])
            channels: dict[int, str] = {}
            for destination in config.destinations:
                if destination.chat_id in channels:
                    continue
                kind = "trusted" if destination.trusted else "public"
                title = CHANNEL_TITLES.get(destination.chat_id, f"{destination.name} ({kind})")
                if destination.name == config.compensation.destination:  # a group, where staff type
                    fake.add_group(destination.chat_id, title, admins=[self.staff])
                else:
                    fake.add_channel(destination.chat_id, title)
                channels[destination.chat_id] = title
        except BaseException:
            await fake.stop()
            raise
        self.fake, self.config, self.channels = fake, config, channels

    async def stop(self) -> None:
        if self.fake is not None:
            await self.fake.stop()

    # --- the resident ------------------------------------------------------------------------------

    def person_name(self, user_id: int) -> str:
        data = self.server().user(user_id)
        return " ".join(str(data[k]) for k in ("first_name", "last_name") if data.get(k))

    def language_code(self) -> str:
        """The resident's Telegram ``language_code``."""
        return str(self.server().user(self.resident).get("language_code") or "")

    def resident_language(self) -> str:
        return "zh" if self.language_code().lower().startswith("zh") else "en"

    def set_resident_language(self, language: str) -> None:
        """Changes the resident's Telegram app language (``language_code`` on their next updates).

        Like on Telegram, the bot keeps the language it first chose for a person; /language or a new
        resident changes it for a conversation already under way.
        """
        if language not in LANGUAGE_CODES:
            raise ValueError(f"unknown language {language!r}")
        self.server().set_language(self.resident, LANGUAGE_CODES[language])

    def new_resident(self, language: str | None = None) -> int:
        """A different person (a fresh chat) becomes the resident; returns their user id."""
        language = language or self.resident_language()
        fake = self.server()
        user_id = next(self._ids)
        while user_id in (self.staff, *fake.user_ids):
            user_id = next(self._ids)
        fake.add_user(user_id, f"村民{user_id - RESIDENT + 1}", language_code=LANGUAGE_CODES[language])
        self.resident = user_id
        return user_id


def county_centre() -> tuple[float, float]:
    """The county seat from the gazetteer, else the middle of the service area."""
    for place in gazetteer():
        if place.kind == "county_seat" and place.point is not None:
            return place.point
    south, west, north, east = service_area().bbox
    return (south + north) / 2, (west + east) / 2


def map_data() -> dict[str, Any]:
    """What the page's SVG map draws: the service-area polygons, the located places, the centre."""
    area = service_area()
    south, west, north, east = area.bbox
    places = [
        {
            "id": p.id,
            "name_zh": p.name_zh,
            "name_en": p.name_en,
            "kind": p.kind,
            "lat": p.latitude,
            "lon": p.longitude,
        }
        for p in gazetteer()
        if p.point is not None
    ]
    lat, lon = county_centre()
    return {
        "name": area.name,
        "approximate": area.approximate,
        "bbox": {"south": south, "west": west, "north": north, "east": east},
        "polygons": [[[list(pt) for pt in ring] for ring in poly] for poly in area.polygons],
        "places": places,
        "centre": {"lat": lat, "lon": lon},
    }
