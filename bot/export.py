"""The researchers' export: verified reports as CSV, GeoJSON and a Darwin Core Archive.

Plain Python, no Telegram and no SQL: `Store.verified_reports()` gives the reports, this module
turns them into rows and files, and `handlers/export.py` (the /export staff command) and the
`GET /export/{level}.{fmt}` route of `bot/web/app.py` send them.

One row per verified report — an *occurrence* in Darwin Core terms — of a verified, open
incident (reports of one incident share the incident id in ``dynamicProperties``). Every format
carries the same columns, named by their Darwin Core terms (:data:`COLUMNS`), so a CSV opened in
Excel, the GeoJSON's properties and the archive's ``occurrence.txt`` read the same.

Two levels:

``public`` — for anyone (a website, GBIF, a partner NGO):
    * ``decimalLatitude``/``decimalLongitude`` are the centre of the obscured grid cell
      (:func:`bot.geo.obscure`, ``[moderation] public_cell_degrees``, 0.2° by default) — the same
      cell public channel posts use, so nothing in the export is finer than what is already public;
    * ``coordinateUncertaintyInMeters`` is half the cell's diagonal (computed: the geodesic from
      the centre to its farthest corner, rounded up; ≈ 14.2 km for 0.2° cells at 37.3°N);
    * ``eventDate`` is the local day only (a minute-precise time plus the cell could point at a
      person who was there); ``locality`` is the county; livestock details (which animal, how
      many killed) are left out because with the place and day they name a household;
    * ``dataGeneralizations`` and ``informationWithheld`` say all this in the file itself.

``trusted`` — for the bureau's researchers (the staff group, or the trusted bearer token):
    * the exact stored point (WGS-84, converted at input when it came as GCJ-02/BD-09);
    * ``coordinateUncertaintyInMeters`` from the reported accuracy, or, when the source gave
      none, the default of :data:`DEFAULT_UNCERTAINTY_M` for that location source (100 m for a
      phone fix, 250 m for a venue, 1000 m for typed coordinates, map links and anything else);
      ``georeferenceRemarks`` says which source it was and when the default was used;
    * ``eventDate`` with time and UTC offset (ISO 8601, e.g. ``2026-03-01T14:05:00+08:00``);
    * ``locality``: the place name the reporter chose, and the distance and direction from
      the nearest gazetteer place.

No personal data at either level: no reporter name, username, Telegram id, phone number, owner
name or web contact, and no free text typed by people (it can hold any of those) — only the
coded answers of the buttons (``occurrenceRemarks``) and the number of leopards seen
(``individualCount``). ``recordedBy`` is never filled. Photos are not exported.

Poaching tips are not occurrences of the animal, and they are the most dangerous records to
leak (the tipster, an ongoing patrol): they are left out of every format and level. The
patrol already receives them through its own trusted destination.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from bot.geo import ObscuredLocation, distance_m, obscure
from bot.locations import NAMED_PLACE_M, area_check, relative_to_places, report_township
from bot.records import ReportRow
from bot.web.security import Signer

SCIENTIFIC_NAME = "Panthera pardus japonensis"
COUNTRY, COUNTRY_CODE = "China", "CN"
STATE_PROVINCE = "山西省 Shanxi"
COUNTY = "和顺县 Heshun"
GEODETIC_DATUM = "WGS84"

#: Report kinds that are occurrences of the leopard; a poaching tip ("tip") is not.
OCCURRENCE_KINDS = ("sighting", "signs", "livestock")

#: coordinateUncertaintyInMeters of a trusted row whose location came without an accuracy.
DEFAULT_UNCERTAINTY_M: dict[str, float] = {"telegram": 100.0, "live": 100.0, "exif": 100.0, "venue": 250.0}
FALLBACK_UNCERTAINTY_M = 1000.0  # typed coordinates, map links, gazetteer places, geocoder, unknown

DWC = "http://rs.tdwg.org/dwc/terms/"
OCCURRENCE_ROW_TYPE = DWC + "Occurrence"

#: The columns of every format, in order; each is a Darwin Core term (namespace :data:`DWC`).
COLUMNS: tuple[str, ...] = (
    "occurrenceID",
    "basisOfRecord",
    "occurrenceStatus",
    "scientificName",
    "kingdom",
    "taxonRank",
    "eventDate",
    "samplingProtocol",
    "individualCount",
    "occurrenceRemarks",
    "decimalLatitude",
    "decimalLongitude",
    "geodeticDatum",
    "coordinateUncertaintyInMeters",
    "georeferenceRemarks",
    "country",
    "countryCode",
    "stateProvince",
    "county",
    "locality",
    "dataGeneralizations",
    "informationWithheld",
    "dynamicProperties",
)


class Level(StrEnum):
    PUBLIC = "public"
    TRUSTED = "trusted"


class Format(StrEnum):
    CSV = "csv"
    GEOJSON = "geojson"
    DWCA = "dwca"


@dataclass(frozen=True)
class ExportFile:
    """A built export: the bytes and how to name and serve them."""

    data: bytes
    filename: str
    content_type: str
    rows: int


# --- rows ----------------------------------------------------------------------------------------


def export_rows(
    reports: Iterable[ReportRow], level: Level | str, cell_deg: float, *, tz: tzinfo | None = None
) -> list[dict[str, Any]]:
    """One dict per occurrence (keys: :data:`COLUMNS`; None for an empty cell), poaching tips left out.

    `tz` is the county's time zone for the public day (default: the offset each report was stored with,
    which is already the county's).
    """
    level = Level(level)
    rows = []
    for report in reports:
        if report.kind not in OCCURRENCE_KINDS:
            continue
        rows.append(_public_row(report, cell_deg, tz) if level is Level.PUBLIC else _trusted_row(report))
    return rows


def _common(report: ReportRow, *, public: bool) -> dict[str, Any]:
    camera = is_camera_trap(report)
    return {
        # A random UUID kept with the report: a code or a row id would count the reports (tips too).
        "occurrenceID": report.occurrence_id,
        "basisOfRecord": "MachineObservation" if camera else "HumanObservation",
        "occurrenceStatus": "present",
        "scientificName": SCIENTIFIC_NAME,
        "kingdom": "Animalia",
        "taxonRank": "subspecies",
        "samplingProtocol": "camera trap" if camera else "opportunistic citizen-science report",
        "individualCount": individual_count(report),
        "occurrenceRemarks": occurrence_remarks(report, public=public),
        "geodeticDatum": GEODETIC_DATUM,
        "country": COUNTRY,
        "countryCode": COUNTRY_CODE,
        "stateProvince": STATE_PROVINCE,
        "county": COUNTY,
        # Which reports are one incident is for the bureau and trusted researchers: in the public file
        # the id would count incidents and tie a published report to unpublished ones.
        "dynamicProperties": json.dumps(
            {"reportKind": report.kind}
            if public
            else {"incidentId": report.incident_id, "reportKind": report.kind},
            separators=(",", ":"),
        ),
    }


def township_locality(report: ReportRow) -> str:
    """"松烟镇 (Songyan Town), 和顺县 Heshun" — the township as a locality (named places), or the county."""
    town = report_township(report.latitude, report.longitude, report.place_id)
    if town is None:
        return COUNTY
    name = f"{town.name_zh} ({town.name_en})" if town.name_en else town.name_zh
    return f"{name}, {COUNTY}"


def _named_row(report: ReportRow, row: dict[str, Any], *, public: bool) -> dict[str, Any]:
    """A named place without a point: the township as locality, and no coordinates — or, once the
    township's seat has a point, that point with the township-level uncertainty (a town is public)."""
    town = report_township(report.latitude, report.longitude, report.place_id)
    seat = town.point if town is not None else None
    remarks = "reported by place name only, no exact point"
    if seat is not None:
        remarks += "; coordinates are the township seat's, uncertainty the township's extent"
    if report.place_name and not public:
        remarks += f"; place: {_clean(report.place_name)}"
    row.update(
        decimalLatitude=seat[0] if seat else None,
        decimalLongitude=seat[1] if seat else None,
        coordinateUncertaintyInMeters=NAMED_PLACE_M if seat else None,
        geodeticDatum=GEODETIC_DATUM if seat else None,
        locality=township_locality(report),
        georeferenceRemarks=remarks,
    )
    return {k: row.get(k) for k in COLUMNS}


def _public_row(report: ReportRow, cell_deg: float, tz: tzinfo | None) -> dict[str, Any]:
    observed = report.observed_at.astimezone(tz) if tz is not None else report.observed_at
    row = _common(report, public=True)
    if report.latitude is None or report.longitude is None:
        row.update(
            eventDate=observed.date().isoformat(),
            dataGeneralizations="Reported by village name only: given to township level; event date truncated"
            " to the day.",
            informationWithheld=(
                "Village, exact time, livestock details and everything about the reporter are withheld."
            ),
        )
        return _named_row(report, row, public=True)
    cell = obscure(report.latitude, report.longitude, cell_deg)
    row.update(
        eventDate=observed.date().isoformat(),
        decimalLatitude=cell.center_lat,
        decimalLongitude=cell.center_lon,
        coordinateUncertaintyInMeters=cell_uncertainty_m(cell),
        georeferenceRemarks=None,
        locality=COUNTY,
        dataGeneralizations=(
            f"Coordinates generalised to the centre of a {cell.cell_deg:g}° grid cell ({cell.label});"
            " event date truncated to the day."
        ),
        informationWithheld=(
            "Exact location and time, livestock details and everything about the reporter are withheld;"
            " exact records are available to authorised researchers from the Heshun forestry bureau."
        ),
    )
    return {k: row.get(k) for k in COLUMNS}


def _trusted_row(report: ReportRow) -> dict[str, Any]:
    row = _common(report, public=False)
    if report.latitude is None or report.longitude is None:
        row.update(
            eventDate=report.observed_at.isoformat(timespec="seconds"),
            dataGeneralizations=None,
            informationWithheld="Reporter identity and free-text answers are withheld.",
        )
        return _named_row(report, row, public=False)
    uncertainty, remarks = trusted_uncertainty(report)
    row.update(
        eventDate=report.observed_at.isoformat(timespec="seconds"),
        decimalLatitude=report.latitude,
        decimalLongitude=report.longitude,
        coordinateUncertaintyInMeters=uncertainty,
        georeferenceRemarks=remarks,
        locality=trusted_locality(report),
        dataGeneralizations=None,
        informationWithheld="Reporter identity and free-text answers are withheld.",
    )
    return {k: row.get(k) for k in COLUMNS}


def is_camera_trap(report: ReportRow) -> bool:
    return report.kind == "signs" and report.details.get("sign") == "camera_trap"


def individual_count(report: ReportRow) -> int | None:
    """How many leopards a sighting saw, when the reporter gave a number (not "not sure")."""
    if report.kind != "sighting":
        return None
    value = report.details.get("leopards")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip()) or None
    return None


# The coded answers that may be exported: button values only. A typed answer (which may say anything,
# a name or a phone number included) shows as "other".
_CODED: dict[str, dict[str, tuple[str, ...]]] = {
    "sighting": {
        "cubs": ("yes", "no", "not_sure"),
        "behaviour": ("walking", "resting", "hunting", "eating", "crossing_road", "ran_away"),
        "distance": ("lt50", "50_200", "200_1000", "gt1000"),
    },
    "signs": {"sign": ("tracks", "scat", "scratches", "camera_trap", "other")},
    "livestock": {
        "animal": ("cattle", "sheep", "goat", "donkey", "horse", "mule", "pig", "other"),
        "penned": ("penned", "free_ranging"),
    },
}
_LIVESTOCK_COUNTS = ("killed", "injured")
_KIND_REMARK = {"sighting": "leopard seen", "signs": "leopard signs", "livestock": "livestock attacked"}


def occurrence_remarks(report: ReportRow, *, public: bool) -> str:
    """"leopard seen; cubs=no; behaviour=resting; distance=gt1000": the kind and the coded answers."""
    parts = [_KIND_REMARK[report.kind]]
    if public and report.kind == "livestock":
        return parts[0]
    for key, allowed in _CODED.get(report.kind, {}).items():
        value = report.details.get(key)
        if value is None:
            continue
        parts.append(f"{key}={value if str(value) in allowed else 'other'}")
    if report.kind == "livestock":
        for key in _LIVESTOCK_COUNTS:
            value = report.details.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                parts.append(f"{key}={value}")
    parts += outside_remark(report)
    return "; ".join(parts)


def outside_remark(report: ReportRow) -> list[str]:
    """["outside Heshun county: in 左权县, 6.0 km from the border"] for a flagged point, else []."""
    if report.latitude is None or report.longitude is None:
        return []
    check = area_check(report.latitude, report.longitude)
    if not check.flagged:
        return []
    where = f"in {check.county}, " if check.county else ""
    return [f"outside Heshun county: {where}{check.border_m / 1000:.1f} km from the border"]


def cell_uncertainty_m(cell: ObscuredLocation) -> int:
    """Half the cell's diagonal: the geodesic from its centre to the farthest corner, rounded up."""
    centre = (cell.center_lat, cell.center_lon)
    corners = [(lat, lon) for lat in (cell.cell_south, cell.cell_north)
               for lon in (cell.cell_west, cell.cell_east)]
    return math.ceil(max(distance_m(centre, corner) for corner in corners))


def trusted_uncertainty(report: ReportRow) -> tuple[float, str]:
    """(metres, georeferenceRemarks) for a trusted row."""
    source = report.location_source
    remarks = [f"location source: {source}"]
    if report.input_datum and report.input_datum.lower() != "wgs84":
        remarks.append(f"converted from {report.input_datum.upper()} to WGS84")
    if report.accuracy_m is not None and report.accuracy_m > 0:
        uncertainty = float(report.accuracy_m)
    else:
        uncertainty = DEFAULT_UNCERTAINTY_M.get(source, FALLBACK_UNCERTAINTY_M)
        remarks.append(f"no accuracy given; default uncertainty for this source ({uncertainty:g} m)")
    return max(1.0, round(uncertainty, 1)), "; ".join(remarks)


def trusted_locality(report: ReportRow) -> str:
    """The reporter's place name and where the point lies from the nearest gazetteer place."""
    parts = []
    if report.place_name:
        parts.append(_clean(report.place_name))
    if report.latitude is None or report.longitude is None:
        return "; ".join([*parts, township_locality(report)])
    relative = relative_to_places(report.latitude, report.longitude)
    if relative is not None:
        place = relative.place
        name = f"{place.name_zh} ({place.name_en})" if place.name_zh and place.name_en else \
            (place.name_zh or place.name_en)
        if relative.is_near:
            parts.append(f"near {name}")
        else:
            parts.append(f"{relative.distance_m / 1000:.1f} km {relative.bearing} of {name}")
    town = report_township(report.latitude, report.longitude, report.place_id)
    if town is not None:  # the same rule as cards, /stats and Warn residents
        name = f"{town.name_zh} ({town.name_en})" if town.name_en else town.name_zh
        parts.append(f"township {name}")
    return "; ".join(dict.fromkeys(parts)) or COUNTY


# --- formats -------------------------------------------------------------------------------------


#: A text cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
#: (OWASP "CSV injection"); a reporter's words must never run as one on a researcher's computer.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A value as text in a file: empty for None, shortest round-trip form for numbers.

    Text that a spreadsheet would read as a formula gets a leading apostrophe (numbers stay numbers).
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    text = _clean(str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _clean(text: str) -> str:
    """No tabs or line breaks inside a value (occurrence.txt is tab-separated without quoting)."""
    return " ".join(text.replace("\t", " ").splitlines()).strip()


def to_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    """RFC 4180 CSV (CRLF, quoted as needed), UTF-8 with a byte-order mark so Excel shows 和顺县 right."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in COLUMNS])
    return out.getvalue().encode("utf-8-sig")


_POINT = ("decimalLatitude", "decimalLongitude")


def to_geojson(rows: Sequence[dict[str, Any]]) -> bytes:
    """An RFC 7946 FeatureCollection (WGS-84 lon/lat points); properties are the other columns."""
    features = [
        {
            "type": "Feature",
            "id": row["occurrenceID"],
            # A named place without a point is an unlocated feature (RFC 7946 §3.2: null geometry).
            "geometry": None if row["decimalLatitude"] is None else
            {"type": "Point", "coordinates": [row["decimalLongitude"], row["decimalLatitude"]]},
            "properties": {c: row.get(c) for c in COLUMNS if c not in _POINT},
        }
        for row in rows
    ]
    body = {"type": "FeatureCollection", "features": features}
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


def meta_xml() -> str:
    """The archive descriptor: occurrence.txt is the core, each column mapped to its DwC term URI."""
    fields = "\n".join(f'    <field index="{i}" term={quoteattr(DWC + c)}/>' for i, c in enumerate(COLUMNS))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">\n'
        '  <core encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy=""'
        f' ignoreHeaderLines="1" rowType="{OCCURRENCE_ROW_TYPE}">\n'
        "    <files>\n      <location>occurrence.txt</location>\n    </files>\n"
        '    <id index="0"/>\n'
        f"{fields}\n"
        "  </core>\n"
        "</archive>\n"
    )


def eml_xml(level: Level | str, count: int, today: date) -> str:
    """Minimal EML 2.1.1 dataset metadata (title, creator, contact, abstract, date)."""
    level = Level(level)
    what = (
        "Locations are generalised to a grid cell and dates to the day; no personal data."
        if level is Level.PUBLIC
        else "Exact locations and times, for authorised researchers only; no personal data."
    )
    title = f"Heshun leopard watch: verified North China leopard occurrences ({level.value})"
    abstract = (
        f"{count} verified reports of Panthera pardus japonensis (sightings, signs, camera-trap photos and"
        " livestock attacks) in Heshun county (和顺县), Shanxi, China, sent by residents and visitors"
        f" through the Heshun leopard watch Telegram bot and web tip line and verified by forestry bureau"
        f" staff. Poaching tips are not included. {what}"
    )
    bureau = "和顺县林业局 Heshun County Forestry Bureau"
    party = "    <{tag}>\n      <organizationName>" + bureau + "</organizationName>\n    </{tag}>\n"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xsi:schemaLocation="eml://ecoinformatics.org/eml-2.1.1 http://rs.gbif.org/schema/eml-gbif-profile/'
        '1.1/eml.xsd"'
        f' packageId="heshun-leopard-watch-{level.value}-{today.isoformat()}" system="leopard-watch"'
        ' xml:lang="en">\n'
        "  <dataset>\n"
        f"    <title>{escape(title)}</title>\n"
        + party.format(tag="creator")
        + party.format(tag="metadataProvider")
        + f"    <pubDate>{today.isoformat()}</pubDate>\n"
        "    <language>en</language>\n"
        f"    <abstract>\n      <para>{escape(abstract)}</para>\n    </abstract>\n"
        + party.format(tag="contact")
        + "  </dataset>\n"
        "</eml:eml>\n"
    )


def occurrence_txt(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(_cell(row.get(c)) for c in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def to_dwca(
    rows: Sequence[dict[str, Any]], *, level: Level | str | None = None, today: date | None = None
) -> bytes:
    """A Darwin Core Archive: occurrence.txt (tab-separated, UTF-8, no BOM), meta.xml and eml.xml.

    `level` only words the metadata; by default it is read from the rows (public rows carry
    ``dataGeneralizations``).
    """
    if level is None:
        level = Level.PUBLIC if any(r.get("dataGeneralizations") for r in rows) or not rows else Level.TRUSTED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("occurrence.txt", occurrence_txt(rows).encode("utf-8"))
        archive.writestr("meta.xml", meta_xml().encode("utf-8"))
        archive.writestr("eml.xml", eml_xml(level, len(rows), today or date.today()).encode("utf-8"))
    return buffer.getvalue()


# --- one call for the command and the web route --------------------------------------------------

_FILE = {
    Format.CSV: ("csv", "text/csv; charset=utf-8"),
    Format.GEOJSON: ("geojson", "application/geo+json"),
    Format.DWCA: ("zip", "application/zip"),
}


def build_export(
    reports: Iterable[ReportRow], level: Level | str, fmt: Format | str, cell_deg: float, *,
    tz: tzinfo | None = None, today: date | None = None,
) -> ExportFile:
    """The file of `reports` at `level` in `fmt`, named like heshun-leopards-public-dwca-2026-03-01.zip."""
    level, fmt = Level(level), Format(fmt)
    today = today or (datetime.now(tz).date() if tz is not None else date.today())
    rows = export_rows(reports, level, cell_deg, tz=tz)
    if fmt is Format.CSV:
        data = to_csv(rows)
    elif fmt is Format.GEOJSON:
        data = to_geojson(rows)
    else:
        data = to_dwca(rows, level=level, today=today)
    extension, content_type = _FILE[fmt]
    name = f"heshun-leopards-{level.value}-{fmt.value}-{today.isoformat()}.{extension}"
    return ExportFile(data, name, content_type, len(rows))


def parse_since(text: str, tz: tzinfo) -> datetime:
    """A `since` given as 2026-03-01 or 2026-03-01T08:00[+08:00]; without offset, the county's time.
    Raises ValueError for anything else."""
    text = text.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=tz)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def export_token(secret_key: str, level: Level | str) -> str:
    """The bearer token of one level for ``GET /export/<level>.<fmt>``, derived from LEOPARD_WATCH_SECRET.

    It is :meth:`bot.web.security.Signer.derived` of ``"export:<level>"``: base64url (no padding) of the
    first 24 bytes of HMAC-SHA256(key=secret, message="derive\\0export:<level>"). Each level has its own
    token; changing the secret changes (revokes) both.
    """
    return Signer(secret_key).derived(f"export:{Level(level).value}")
