"""The `[web]` settings: where the web server listens, the webhook, and the tip line's limits.

Secrets come from the environment, like the bot token: the webhook path and header secret are
derived from ``LEOPARD_WATCH_SECRET`` (``Config.secret_key``) unless given explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

from bot.configfile import RUNTIME, ConfigError, between, positive, read_table, setting, table

MB = 1024 * 1024
POSITIVE: Final = setting(check=positive)


def _public_url(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be str, not {value!r}")
    url = value.rstrip("/")
    if url and not url.startswith(("https://", "http://")):
        raise ConfigError(f"{name} must start with https://, not {url!r}")
    return url


@dataclass(frozen=True)
class WebSettings:
    """`[web]`: everything the web server needs besides :class:`bot.config.Config`."""

    enabled: bool = False  # a [web] section without `enabled` turns it on
    listen: str = "127.0.0.1"
    port: int = field(default=8080, metadata=setting(check=between(0, 65535)))
    # e.g. https://leopards.example.org (no trailing slash); the webhook is under it
    public_url: str = field(default="", metadata=setting(parse=_public_url))
    webhook_path_secret: str = ""  # the secret part of /telegram/<secret>; "" derives it from secret_key
    # X-Telegram-Bot-Api-Secret-Token: only ever from the environment ("" derives it from secret_key)
    webhook_secret_token: str = field(default="", metadata=RUNTIME)
    # an update is a few KB; anything bigger is not from Telegram
    webhook_max_bytes: int = field(default=1 * MB, metadata=RUNTIME)
    max_photo_mb: float = field(default=20.0, metadata=POSITIVE)  # per photo, as for Telegram downloads
    # per video (sent on as it is: no transcoding in the browser)
    max_video_mb: float = field(default=50.0, metadata=POSITIVE)
    max_request_mb: float = field(default=60.0, metadata=POSITIVE)  # a whole form with its photos
    reports_per_hour: int = field(default=10, metadata=POSITIVE)  # per address: stored web reports
    # per address: any form post (failed checks included)
    posts_per_hour: int = field(default=60, metadata=POSITIVE)
    # per address: megabytes of form posts received, refused ones too
    upload_mb_per_hour: float = field(default=200.0, metadata=POSITIVE)
    # photos of a form sent back for corrections wait this long, then go
    staging_hours: float = field(default=3.0, metadata=POSITIVE)
    trust_forwarded_for: bool = False  # behind our own reverse proxy: use the last X-Forwarded-For hop
    local_testing: bool = False  # allows an http:// public_url (cookies and status links in clear text)
    # /healthz/telegram fails when a message is overdue longer
    max_outbox_lag_seconds: float = field(default=600.0, metadata=POSITIVE)

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def max_photo_bytes(self) -> int:
        return round(self.max_photo_mb * MB)

    @property
    def max_video_bytes(self) -> int:
        return round(self.max_video_mb * MB)

    @property
    def max_request_bytes(self) -> int:
        return round(self.max_request_mb * MB)

    @property
    def upload_bytes_per_hour(self) -> int:
        return round(self.upload_mb_per_hour * MB)


def web_settings(data: dict[str, Any]) -> WebSettings:
    """Reads the `[web]` table of the configuration file (absent: the web server is off)."""
    if "web" not in data:
        return WebSettings()
    values = table(data, "web")
    settings = read_table(WebSettings, values, "web")
    if "enabled" not in values:
        settings = replace(settings, enabled=True)
    if settings.enabled and settings.public_url.startswith("http://") and not settings.local_testing:
        # Status links, the CSRF cookie and tipsters' words would cross the network in clear text.
        raise ConfigError(
            f"web.public_url must start with https:// (not {settings.public_url!r}); "
            "set web.local_testing = true only to try the web side on your own computer"
        )
    return settings
