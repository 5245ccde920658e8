"""Points staff (or an import) gave gazetteer places, and the named-place reports they locate."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.dedupe import grid_cell
from bot.records import Outgoing, PlacePoint
from bot.store.core import StoreCore, _audit, _fetch, _first
from bot.store.outbox import _enqueue


class PlacesMixin(StoreCore):
    """Places staff taught."""

    async def place_points(self) -> list[PlacePoint]:
        """Every place staff gave a point, by place id."""
        async with self.reading() as conn:
            rows = await _fetch(conn, "SELECT * FROM place_points ORDER BY place_id")
        return [
            PlacePoint(
                r["place_id"], r["latitude"], r["longitude"], r["set_by"], r["set_by_name"],
                datetime.fromisoformat(r["set_at"]), r["source"],
            )
            for r in rows
        ]

    async def set_place_point(
        self,
        place_id: str,
        latitude: float,
        longitude: float,
        *,
        accuracy_m: float,
        staff_id: int | None,
        staff_name: str | None,
        source: str,
        now: datetime,
        incident_id: int | None = None,
        refresh: Callable[[int], Sequence[Outgoing]] | None = None,
    ) -> list[int]:
        """Sets or moves a place's point (audited), and gives it, with ``accuracy_m``, to every report
        that named the place without a point; their incidents are anchored there too. Returns those
        incidents (their cards are refreshed through ``refresh``)."""
        stamp = now.isoformat()
        async with self.transaction() as conn:
            before = await _first(
                conn, "SELECT latitude, longitude FROM place_points WHERE place_id = ?", (place_id,)
            )
            await conn.execute(
                """INSERT INTO place_points
                       (place_id, latitude, longitude, set_by, set_by_name, set_at, source)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (place_id) DO UPDATE SET latitude = excluded.latitude,
                       longitude = excluded.longitude, set_by = excluded.set_by,
                       set_by_name = excluded.set_by_name, set_at = excluded.set_at,
                       source = excluded.source""",
                (place_id, latitude, longitude, staff_id, staff_name, stamp, source),
            )
            detail: dict[str, Any] = {"place": place_id, "latitude": latitude, "longitude": longitude}
            detail["source"] = source
            if before:
                detail["was"] = [before["latitude"], before["longitude"]]
            await _audit(conn, now, staff_id, staff_name, incident_id, "place",
                         json.dumps(detail, ensure_ascii=False))
            rows = await _fetch(
                conn,
                "SELECT id, incident_id FROM reports WHERE place_id = ? AND latitude IS NULL",
                (place_id,),
            )
            await conn.execute(
                "UPDATE reports SET latitude = ?, longitude = ?, accuracy_m = ?, location_source = 'place',"
                " updated_at = ? WHERE place_id = ? AND latitude IS NULL",
                (latitude, longitude, accuracy_m, stamp, place_id),
            )
            ids = json.dumps([r["id"] for r in rows])
            await conn.execute(
                "UPDATE incidents SET anchor_latitude = ?, anchor_longitude = ?, anchor_accuracy_m = ?,"
                " anchor_cell = ? WHERE anchor_latitude IS NULL"
                " AND anchor_report_id IN (SELECT value FROM json_each(?))",
                (latitude, longitude, accuracy_m, grid_cell(latitude, longitude), ids),
            )
            incidents = sorted({r["incident_id"] for r in rows if r["incident_id"] is not None})
            if refresh is not None:
                live = await _fetch(
                    conn,
                    "SELECT DISTINCT COALESCE(merged_into, id) AS live FROM incidents"
                    " WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(incidents),),
                )
                for row in live:
                    await _enqueue(conn, refresh(row["live"]), now)
        return incidents
