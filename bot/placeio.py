"""The places staff taught, in and out of the database as CSV.

``leopard-watch export-places --config config.toml -o places.csv`` writes every taught point with who
set it and when; ``leopard-watch import-places --config config.toml --points places.csv`` loads such a
file (from another server, or the bureau's own list) into the database, audited like a staff member's
``/place``. A row names its place by ``place_id`` (the 12-digit village code, or a gazetteer id such as
``yixing``) or by ``name_zh`` (with ``township`` when the name is shared); ``--osm``/``--geonames``
files are matched the same way, by name. Only points inside the county (with its margin) are taken:
a Heshun village outside Heshun is a mistake in the file, reported and skipped.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot import locations
from bot.gazetteer import Gazetteer, Place
from bot.records import PlacePoint

EXPORT_FIELDS = (
    "place_id",
    "name_zh",
    "kind",
    "township",
    "latitude",
    "longitude",
    "set_by",
    "set_by_name",
    "set_at",
    "source",
)


@dataclass(frozen=True)
class Loaded:
    """What a file gave: points to set (place, lat, lon) and a line for each row that was skipped."""

    points: list[tuple[Place, float, float]]
    skipped: list[str]


def write_points_csv(points: Iterable[PlacePoint], gazetteer: Gazetteer, out: TextIO) -> int:
    """The taught points as CSV (UTF-8, a header row); returns how many rows were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    count = 0
    for p in points:
        place = gazetteer.get(p.place_id)
        writer.writerow(
            [
                p.place_id,
                place.name_zh if place else "",
                place.kind if place else "",
                (place.township or "") if place else "",
                f"{p.latitude:.6f}",
                f"{p.longitude:.6f}",
                "" if p.set_by is None else p.set_by,
                p.set_by_name or "",
                p.set_at.isoformat(),
                p.source,
            ]
        )
        count += 1
    return count


def _number(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def resolve(gazetteer: Gazetteer, place_id: str, name: str, township: str) -> Place | None:
    """The one place a row means: its id, else its exact name (narrowed by township); None if unsure."""
    if place_id:
        return gazetteer.get(place_id)
    match = gazetteer.lookup(f"{township}{name}" if township else name)
    if match is None or not match.exact:
        return None
    candidates = [p for p in match.places if not township or p.township == township or p.name_zh == township]
    return candidates[0] if len(candidates) == 1 else None


def read_points_csv(fh: TextIO, gazetteer: Gazetteer) -> Loaded:
    """Rows of ``place_id``/``name_zh``[/``township``], ``latitude``, ``longitude`` (WGS-84)."""
    reader = csv.DictReader(line for line in fh if not line.lstrip().startswith("#"))
    points: list[tuple[Place, float, float]] = []
    skipped: list[str] = []
    for number, row in enumerate(reader, start=2):
        place_id = (row.get("place_id") or row.get("id") or "").strip()
        name = (row.get("name_zh") or row.get("name") or "").strip()
        township = (row.get("township") or "").strip()
        lat, lon = _number(row.get("latitude")), _number(row.get("longitude"))
        label = place_id or name or "?"
        place = resolve(gazetteer, place_id, name, township)
        if place is None:
            skipped.append(f"line {number}: {label}: not one known place of Heshun")
        elif lat is None or lon is None:
            skipped.append(f"line {number}: {label}: no latitude/longitude")
        elif not locations.service_area().contains(lat, lon):
            skipped.append(f"line {number}: {label}: {lat}, {lon} is outside Heshun county")
        else:
            points.append((place, lat, lon))
    return Loaded(points, skipped)


def from_gazetteer_places(found: Iterable[Place], gazetteer: Gazetteer, origin: str) -> Loaded:
    """Points of GeoNames/OSM places matched to ours by exact name (only one match, inside Heshun)."""
    points: list[tuple[Place, float, float]] = []
    skipped: list[str] = []
    for other in found:
        if other.latitude is None or other.longitude is None:
            continue
        place = resolve(gazetteer, "", other.name_zh or other.name_en, "")
        if place is None:
            skipped.append(f"{origin}: {other.display_name}: not one known place of Heshun")
        elif not locations.service_area().contains(other.latitude, other.longitude):
            skipped.append(f"{origin}: {other.display_name}: outside Heshun county")
        else:
            points.append((place, other.latitude, other.longitude))
    return Loaded(points, skipped)


async def import_points(database: Path, loaded: Loaded, source: str, now: datetime) -> int:
    """Sets every point (audited as an import, reports naming the place placed); returns how many."""
    from bot.store import Store

    store = await Store.open(database)
    try:
        for place, lat, lon in loaded.points:
            await store.set_place_point(
                place.id, lat, lon, accuracy_m=locations.APPROXIMATE_PLACE_M, staff_id=None,
                staff_name=None, source=source, now=now,
            )
    finally:
        await store.close()
    return len(loaded.points)


async def export_points(database: Path) -> str:
    """The taught points of a database as CSV text."""
    from bot.store import Store

    store = await Store.open(database)
    try:
        points = await store.place_points()
    finally:
        await store.close()
    out = io.StringIO()
    write_points_csv(points, locations.gazetteer(), out)
    return out.getvalue()


def import_main(argv: list[str]) -> int:
    """`leopard-watch import-places --config C [--points F.csv] [--osm F] [--geonames F]`: into the DB."""
    import argparse
    import asyncio

    from bot.config import ConfigError, load_config
    from bot.gazetteer import import_geonames, import_osm_geojson

    parser = argparse.ArgumentParser(
        prog="leopard-watch import-places",
        description="Load points for Heshun's places into the bot's database (audited; reports naming a "
        "place without a point get it). Without --config: build a gazetteer CSV (see -o).",
    )
    parser.add_argument("-c", "--config", type=Path, required=True, help="the bot's TOML configuration")
    parser.add_argument("--points", action="append", default=[], metavar="CSV",
                        help="place_id or name_zh[,township], latitude, longitude (export-places writes it)")
    parser.add_argument("--osm", action="append", default=[], metavar="FILE", help="OSM GeoJSON export")
    parser.add_argument("--geonames", action="append", default=[], metavar="FILE", help="GeoNames dump")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        config = load_config(args.config, require_token=False)
    except ConfigError as error:
        print(f"leopard-watch: configuration error: {error}", file=sys.stderr)
        return 2
    locations.configure(margin_m=config.region.area_margin_m, township_max_m=config.region.township_max_m)
    gazetteer = locations.gazetteer()
    loaded = Loaded([], [])
    try:
        for path in args.points:
            with Path(path).open(encoding="utf-8-sig", newline="") as fh:
                part = read_points_csv(fh, gazetteer)
            loaded.points.extend(part.points)
            loaded.skipped.extend(f"{path}: {line}" for line in part.skipped)
        for path in args.osm:
            part = from_gazetteer_places(import_osm_geojson(path), gazetteer, path)
            loaded.points.extend(part.points)
            loaded.skipped.extend(part.skipped)
        for path in args.geonames:
            part = from_gazetteer_places(import_geonames(path), gazetteer, path)
            loaded.points.extend(part.points)
            loaded.skipped.extend(part.skipped)
    except (OSError, ValueError, KeyError) as exc:
        print(f"import-places: {exc}", file=sys.stderr)
        return 1
    for line in loaded.skipped:
        print(f"import-places: skipped {line}", file=sys.stderr)
    names = ", ".join(Path(p).name for p in [*args.points, *args.osm, *args.geonames]) or "nothing"
    count = asyncio.run(import_points(config.storage.database, loaded, f"import:{names}"[:200],
                                      datetime.now(config.region.timezone)))
    print(f"import-places: {count} places given a point, {len(loaded.skipped)} skipped", file=sys.stderr)
    return 0


def export_main(argv: list[str]) -> int:
    """``leopard-watch export-places --config C [-o FILE]``: the taught points as CSV."""
    import argparse
    import asyncio

    from bot.config import ConfigError, load_config

    parser = argparse.ArgumentParser(prog="leopard-watch export-places",
                                     description="Write the points staff taught places as CSV.")
    parser.add_argument("-c", "--config", type=Path, required=True, help="the bot's TOML configuration")
    parser.add_argument("-o", "--output", default="-", help="output CSV path ('-' for stdout, the default)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        config = load_config(args.config, require_token=False)
    except ConfigError as error:
        print(f"leopard-watch: configuration error: {error}", file=sys.stderr)
        return 2
    text = asyncio.run(export_points(config.storage.database))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    print(f"export-places: {max(0, text.count(chr(10)) - 1)} places", file=sys.stderr)
    return 0
