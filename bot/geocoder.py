"""Optional online place search through Nominatim (OpenStreetMap), OFF by default.

The bot must work without it: the bundled gazetteer covers the county, and Nominatim is slow, rate
limited (the public instance allows 1 request/second and requires an identifying User-Agent) and may
be unreachable from mainland China.  So :meth:`Geocoder.geocode` never raises: any error, timeout or a
disabled configuration returns ``[]``.

Results are OSM data, hence WGS-84 — no datum conversion needed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from geopy.adapters import AioHTTPAdapter
from geopy.exc import GeopyError
from geopy.extra.rate_limiter import AsyncRateLimiter
from geopy.geocoders import Nominatim

__all__ = ["GeocodeResult", "Geocoder", "GeocoderConfig", "geocode"]

log = logging.getLogger(__name__)

#: Heshun service-area envelope as Nominatim's viewbox ((south, west), (north, east)) to bias results.
HESHUN_VIEWBOX = ((37.05, 113.05), (37.62, 113.98))


@dataclass(frozen=True)
class GeocoderConfig:
    """Settings for the optional Nominatim lookup.

    ``user_agent`` must identify the deployment (Nominatim usage policy); ``domain``/``scheme`` allow a
    self-hosted instance ("nominatim.example.org", or "127.0.0.1:8080" with scheme "http" in tests).
    """

    enabled: bool = False
    domain: str = "nominatim.openstreetmap.org"
    scheme: str = "https"
    user_agent: str = "heshun-leopard-watch/0.1"
    timeout_s: float = 5.0
    min_delay_s: float = 1.0  # public Nominatim: at most 1 request per second
    max_retries: int = 0  # a retry would make the user wait another few seconds; better to say "not found"
    error_wait_s: float = 2.0
    limit: int = 5
    language: str = "zh,en"
    country_codes: str | None = "cn"
    viewbox: tuple[tuple[float, float], tuple[float, float]] | None = HESHUN_VIEWBOX
    bounded: bool = False  # bias to the viewbox but still allow matches just outside it


@dataclass(frozen=True)
class GeocodeResult:
    """A place found online.  Place-like: ``name``, ``latitude``, ``longitude`` (WGS-84)."""

    name: str
    latitude: float
    longitude: float
    display_name: str
    osm_type: str | None = None
    osm_id: str | None = None
    category: str | None = None  # Nominatim "class"/"type", e.g. "place:village"
    importance: float | None = None
    source: str = "nominatim"


def _to_result(loc: Any) -> GeocodeResult | None:
    raw: dict[str, Any] = dict(getattr(loc, "raw", {}) or {})
    try:
        lat, lon = float(loc.latitude), float(loc.longitude)
    except (TypeError, ValueError, AttributeError):
        return None
    display = str(raw.get("display_name") or getattr(loc, "address", "") or "")
    name = str(raw.get("name") or display.split(",")[0].strip())
    cls, typ = raw.get("class") or raw.get("category"), raw.get("type")
    importance = raw.get("importance")
    return GeocodeResult(
        name=name,
        latitude=lat,
        longitude=lon,
        display_name=display,
        osm_type=str(raw["osm_type"]) if raw.get("osm_type") else None,
        osm_id=str(raw["osm_id"]) if raw.get("osm_id") else None,
        category=f"{cls}:{typ}" if cls and typ else None,
        importance=float(importance) if isinstance(importance, int | float) else None,
    )


class Geocoder:
    """An async Nominatim client with a rate limiter.  Use as ``async with Geocoder(cfg) as g:``.

    One instance should be shared by the whole bot so the rate limit applies across all users.
    """

    def __init__(self, config: GeocoderConfig | None = None) -> None:
        self.config = config or GeocoderConfig()
        self._nominatim: Nominatim | None = None
        self._limited: AsyncRateLimiter | None = None

    async def __aenter__(self) -> Geocoder:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        if not self.config.enabled or self._nominatim is not None:
            return
        cfg = self.config
        nominatim = Nominatim(
            domain=cfg.domain,
            scheme=cfg.scheme,
            user_agent=cfg.user_agent,
            timeout=cfg.timeout_s,
            adapter_factory=AioHTTPAdapter,
        )
        await nominatim.__aenter__()
        self._nominatim = nominatim
        self._limited = AsyncRateLimiter(
            nominatim.geocode,
            min_delay_seconds=cfg.min_delay_s,
            max_retries=cfg.max_retries,
            error_wait_seconds=cfg.error_wait_s,
            swallow_exceptions=True,
            return_value_on_exception=None,
        )

    async def close(self) -> None:
        if self._nominatim is not None:
            nominatim, self._nominatim, self._limited = self._nominatim, None, None
            await nominatim.__aexit__(None, None, None)

    async def geocode(self, query: str) -> list[GeocodeResult]:
        """Places matching ``query``; ``[]`` if disabled, not started, nothing found, or on any error."""
        query = (query or "").strip()
        if not self.config.enabled or not query or len(query) > 200:
            return []
        if self._limited is None:
            await self.start()
        limited = self._limited
        if limited is None:
            return []
        cfg = self.config
        kwargs: dict[str, Any] = {
            "exactly_one": False,
            "limit": cfg.limit,
            "language": cfg.language,
            "country_codes": cfg.country_codes,
        }
        if cfg.viewbox is not None:
            kwargs["viewbox"] = cfg.viewbox
            kwargs["bounded"] = cfg.bounded
        try:
            # The adapter has its own timeout; wait_for also bounds time spent queued behind the limiter.
            found = await asyncio.wait_for(
                limited(query, **kwargs), timeout=cfg.timeout_s + cfg.min_delay_s + 1
            )
        except (GeopyError, TimeoutError, OSError, ValueError) as exc:
            log.info("geocoder: lookup failed: %s", exc)
            return []
        if not found:
            return []
        results = [r for r in (_to_result(loc) for loc in found) if r is not None]
        return results


_shared: Geocoder | None = None


async def geocode(query: str, config: GeocoderConfig | None = None) -> list[GeocodeResult]:
    """Module-level convenience: geocodes with a shared :class:`Geocoder` (OFF unless configured)."""
    global _shared
    if config is not None and (_shared is None or _shared.config != config):
        if _shared is not None:
            await _shared.close()
        _shared = Geocoder(config)
    if _shared is None:
        _shared = Geocoder()
    return await _shared.geocode(query)
