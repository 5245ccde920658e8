"""The `[web]` settings: where the web server listens, the webhook, and the tip line's limits.

Secrets come from the environment, like the bot token: the webhook path and header secret are
derived from ``LEOPARD_WATCH_SECRET`` (``Config.secret_key``) unless given explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.config import ConfigError, _get, _positive

MB = 1024 * 1024


@dataclass(frozen=True)
class WebSettings:
    """Everything the web server needs besides :class:`bot.config.Config`."""

    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # e.g. https://leopards.example.org (no trailing slash); the webhook is under it
    webhook_path_secret: str = ""  # the secret part of /telegram/<secret>; "" derives it from secret_key
    webhook_secret_token: str = ""  # X-Telegram-Bot-Api-Secret-Token; "" derives it from secret_key
    webhook_max_bytes: int = 1 * MB  # an update is a few KB; anything bigger is not from Telegram
    max_photo_bytes: int = 20 * MB  # per photo, as for Telegram downloads
    max_video_bytes: int = 50 * MB  # per video (sent on as it is: no transcoding in the browser)
    max_request_bytes: int = 60 * MB  # a whole form with its photos
    reports_per_hour: int = 10  # per address: stored web reports
    posts_per_hour: int = 60  # per address: any form post (failed checks included)
    upload_bytes_per_hour: int = 200 * MB  # per address: bytes of form posts received, refused ones too
    staging_hours: float = 3.0  # photos of a form sent back for corrections wait this long, then go
    trust_forwarded_for: bool = False  # behind our own reverse proxy: use the last X-Forwarded-For hop
    local_testing: bool = False  # allows an http:// public_url (cookies and status links in clear text)
    max_outbox_lag_seconds: float = 600.0  # /healthz/telegram fails when a message is overdue longer

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")


def web_settings(data: dict[str, Any]) -> WebSettings:
    """Reads the `[web]` table of the configuration file (absent: the web server is off)."""
    table = data.get("web")
    if table is None:
        return WebSettings()
    if not isinstance(table, dict):
        raise ConfigError("[web] must be a table")
    d = WebSettings()

    def number(key: str, default: float) -> float:
        return _positive(_get(table, "web", key, float, float(default)), f"web.{key}")

    public_url = _get(table, "web", "public_url", str, d.public_url).rstrip("/")
    if public_url and not public_url.startswith(("https://", "http://")):
        raise ConfigError(f"web.public_url must start with https://, not {public_url!r}")
    enabled = _get(table, "web", "enabled", bool, True)
    local_testing = _get(table, "web", "local_testing", bool, d.local_testing)
    if enabled and public_url.startswith("http://") and not local_testing:
        # Status links, the CSRF cookie and tipsters' words would cross the network in clear text.
        raise ConfigError(
            f"web.public_url must start with https:// (not {public_url!r}); "
            "set web.local_testing = true only to try the web side on your own computer"
        )
    port = _get(table, "web", "port", int, d.port)
    if not 0 <= port <= 65535:
        raise ConfigError(f"web.port must be from 0 to 65535, not {port}")
    return WebSettings(
        enabled=enabled,
        local_testing=local_testing,
        listen=_get(table, "web", "listen", str, d.listen),
        port=port,
        public_url=public_url,
        webhook_path_secret=_get(table, "web", "webhook_path_secret", str, d.webhook_path_secret),
        webhook_secret_token=d.webhook_secret_token,  # only ever from the environment / secret_key
        max_photo_bytes=int(number("max_photo_mb", d.max_photo_bytes / MB) * MB),
        max_video_bytes=int(number("max_video_mb", d.max_video_bytes / MB) * MB),
        max_request_bytes=int(number("max_request_mb", d.max_request_bytes / MB) * MB),
        reports_per_hour=int(number("reports_per_hour", d.reports_per_hour)),
        posts_per_hour=int(number("posts_per_hour", d.posts_per_hour)),
        upload_bytes_per_hour=int(number("upload_mb_per_hour", d.upload_bytes_per_hour / MB) * MB),
        staging_hours=number("staging_hours", d.staging_hours),
        trust_forwarded_for=_get(table, "web", "trust_forwarded_for", bool, d.trust_forwarded_for),
        max_outbox_lag_seconds=number("max_outbox_lag_seconds", d.max_outbox_lag_seconds),
    )
