"""Conversions between WGS-84, GCJ-02 ("Mars coordinates") and BD-09.

Chinese map providers publish coordinates in obfuscated datums:

* **GCJ-02** — Amap/高德, Tencent/腾讯, Google's and Apple's *street map tiles* inside mainland China.
  The offset varies smoothly with position; around Heshun it is roughly 500–600 m.
* **BD-09** — Baidu/百度: GCJ-02 with a second, Baidu-specific distortion on top.

Everything this project stores is WGS-84 (what GPS, Telegram locations and camera EXIF use), so any
coordinate that arrives in GCJ-02 or BD-09 is converted here first.  Dedupe radii are a few hundred
metres, so skipping this step would silently merge or split sightings.

Conventions: every public function takes and returns ``(latitude, longitude)`` in that order — note that
the widely copied reference implementations (coordtransform, eviltransform's JS ports, gcoord) use
``(lng, lat)``; the order is swapped here to match the rest of the code base.

The forward transform (WGS-84 → GCJ-02) is the well-known public reimplementation of the leaked
algorithm (Krasovsky 1940 ellipsoid constants).  There is no closed-form inverse, so
:func:`gcj02_to_wgs84` solves it by fixed-point iteration to ~1e-9° (~0.1 mm), not by the common
one-step approximation, which can be off by a metre or more.
"""

from __future__ import annotations

import math

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

# Krasovsky 1940 semi-major axis and first eccentricity squared, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
# Baidu's constant (π·3000/180) for the BD-09 distortion.
_X_PI = math.pi * 3000.0 / 180.0

# Stop the inverse iteration once a step moves less than this (degrees, ≈ 0.1 mm).
_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_ITERATIONS = 30


def out_of_china(lat: float, lon: float) -> bool:
    """True when the point is outside the rough rectangle where Chinese providers apply an offset.

    This is the same coarse bounding box the public reference implementations use (lon 73.66–135.05,
    lat 3.86–53.55); the providers themselves use it too, so being consistent with it matters more than
    following the real border.  Outside it, all three datums are identical.
    """
    return not (73.66 < lon < 135.05 and 3.86 < lat < 53.55)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj_delta(lat: float, lon: float) -> tuple[float, float]:
    """Offset (dlat, dlon) in degrees that GCJ-02 adds to a WGS-84 point."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = math.sin(radlat)
    magic = 1 - _EE * magic * magic
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02. Returns ``(lat, lon)``; unchanged outside China."""
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj_delta(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84 by fixed-point iteration (error well below 0.5 m).

    The one-step approximation ``wgs = gcj - delta(gcj)`` used by many libraries evaluates the offset
    at the wrong point and can be a metre or more off; here we iterate ``wgs += gcj - f(wgs)`` until the
    correction is below ~0.1 mm.  The offset field is smooth with a Jacobian close to the identity, so
    this converges in a handful of steps.
    """
    if out_of_china(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(_INVERSE_MAX_ITERATIONS):
        g_lat, g_lon = wgs84_to_gcj02(w_lat, w_lon)
        err_lat, err_lon = lat - g_lat, lon - g_lon
        w_lat += err_lat
        w_lon += err_lon
        if abs(err_lat) < _INVERSE_TOLERANCE_DEG and abs(err_lon) < _INVERSE_TOLERANCE_DEG:
            break
    return w_lat, w_lon


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 → BD-09. Returns ``(lat, lon)``; unchanged outside China."""
    if out_of_china(lat, lon):
        return lat, lon
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd09_to_gcj02_approx(lat: float, lon: float) -> tuple[float, float]:
    x = lon - 0.0065
    y = lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """BD-09 → GCJ-02. Returns ``(lat, lon)``; unchanged outside China.

    Starts from the standard closed-form approximation (what Baidu's own SDKs and coordtransform use)
    and refines it with a few fixed-point steps against :func:`gcj02_to_bd09`, which removes the
    approximation's centimetre-level error and makes the round trip exact to ~1e-9°.
    """
    if out_of_china(lat, lon):
        return lat, lon
    g_lat, g_lon = _bd09_to_gcj02_approx(lat, lon)
    for _ in range(5):
        b_lat, b_lon = gcj02_to_bd09(g_lat, g_lon)
        err_lat, err_lon = lat - b_lat, lon - b_lon
        g_lat += err_lat
        g_lon += err_lon
        if abs(err_lat) < _INVERSE_TOLERANCE_DEG and abs(err_lon) < _INVERSE_TOLERANCE_DEG:
            break
    return g_lat, g_lon


def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 → BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """BD-09 → WGS-84 (via GCJ-02, both steps iterative)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def convert_to_wgs84(lat: float, lon: float, datum: str) -> tuple[float, float]:
    """Converts a point given in ``datum`` ("wgs84", "gcj02" or "bd09") to WGS-84."""
    if datum == "wgs84":
        return lat, lon
    if datum == "gcj02":
        return gcj02_to_wgs84(lat, lon)
    if datum == "bd09":
        return bd09_to_wgs84(lat, lon)
    raise ValueError(f"unknown datum: {datum!r}")
