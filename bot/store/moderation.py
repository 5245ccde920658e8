"""Staff moderation of incidents: cards, decisions (with their undo window), merges, splits, the audit."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import aiosqlite

from bot.dedupe import DedupeRules
from bot.geo import haversine_m
from bot.records import CardState, CaseRules, OutboxItem, Outgoing, ReportRow, Review
from bot.store.cases import _open_cases
from bot.store.core import _audit, _fetch, _first, _one
from bot.store.incidents import IncidentsMixin
from bot.store.outbox import _enqueue
from bot.store.rows import _card_state, _report


class ModerationMixin(IncidentsMixin):
    """Cards, decisions, staff merges and splits, the audit log."""

    async def card_state(self, incident_id: int) -> CardState | None:
        """What the incident's card shows now (a merged incident shows where it went)."""
        async with self.reading() as conn:
            return await _card_state(conn, incident_id)

    async def card_message(self, incident_id: int) -> tuple[int, int] | None:
        """(chat_id, message_id) of the incident's card, once it has been posted."""
        async with self.reading() as conn:
            row = await _first(
                conn, "SELECT chat_id, message_id FROM cards WHERE incident_id = ?", (incident_id,)
            )
        return (row[0], row[1]) if row else None

    async def incident_of_card(self, chat_id: int, message_id: int) -> int | None:
        """The incident whose card is this message (a staff reply to a card names it)."""
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT incident_id FROM cards WHERE chat_id = ? AND message_id = ?",
                (chat_id, message_id),
            )
        return int(row[0]) if row else None

    async def card_sent(
        self, incident_id: int, chat_id: int, message_id: int, shown: Sequence[int] = ()
    ) -> None:
        """The card's message, and the reports it shows now (a decision covers those)."""
        # Not fsynced (like the outbox's bookkeeping): a power cut that loses it sends the card again.
        async with self.transaction(durable=False) as conn:
            await conn.execute(
                "INSERT INTO cards (incident_id, chat_id, message_id, shown) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (incident_id) DO UPDATE SET chat_id = excluded.chat_id, message_id = "
                "excluded.message_id, shown = excluded.shown, repost = 0",
                (incident_id, chat_id, message_id, json.dumps(list(shown))),
            )

    async def card_repost(self, incident_id: int) -> bool:
        """Whether the card is to be posted again at the bottom of the group (new work on a decided
        incident)."""
        async with self.reading() as conn:
            row = await _first(conn, "SELECT repost FROM cards WHERE incident_id = ?", (incident_id,))
        return bool(row and row["repost"])

    async def action_tokens(
        self, incident_id: int, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[Any, str], str]:
        """An opaque token per (action, arg) of an incident, made once and reused.

        Not fsynced: tokens are made just before their card is sent, and a power cut loses the
        newest commits only, so losing them also loses the card's `card_sent` (it is sent again,
        with new tokens)."""
        async with self.transaction(durable=False) as conn:
            await conn.executemany(
                "INSERT OR IGNORE INTO card_actions (token, incident_id, action, arg) VALUES (?, ?, ?, ?)",
                [(secrets.token_urlsafe(9), incident_id, str(a), arg) for a, arg in pairs],
            )
            rows = await _fetch(
                conn, "SELECT action, arg, token FROM card_actions WHERE incident_id = ?", (incident_id,)
            )
        by_key = {(r["action"], r["arg"]): r["token"] for r in rows}
        return {(a, arg): by_key[(str(a), arg)] for a, arg in pairs}

    async def card_action(self, token: str) -> tuple[int, str, str] | None:
        """(incident_id, action, arg) behind a button's token, or None for a forged one."""
        async with self.reading() as conn:
            row = await _first(
                conn, "SELECT incident_id, action, arg FROM card_actions WHERE token = ?", (token,)
            )
        return (row[0], row[1], row[2]) if row else None

    async def superseded(self, item: OutboxItem) -> bool:
        """Whether a later refresh of the same card is already queued."""
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT 1 FROM outbox WHERE status = 'pending' AND method = 'card' AND purpose = "
                "? AND id > ?"
                " AND EXISTS (SELECT 1 FROM cards WHERE incident_id = ?) LIMIT 1",
                (item.purpose, item.id, item.payload["incident_id"]),
            )
        return row is not None

    async def review_incident(
        self,
        incident_id: int,
        review: Review,
        staff_id: int,
        staff_name: str,
        reason: str | None,
        now: datetime,
        compose: Callable[[CardState], Sequence[Outgoing]],
        *,
        cases: CaseRules,
        undo_s: float = 0.0,
        refresh: Sequence[Outgoing] = (),
    ) -> bool:
        """Verifies or rejects a pending incident; False when someone already decided it (first wins).

        The decision covers the reports on the card when staff decided (a report that joined since
        is new work). With `undo_s` its messages (reporters, channels) and compensation cases wait
        that long: :meth:`finalize_due` sends them, :meth:`undo_decision` takes the decision back;
        only `refresh` (the card) goes out now. Without, everything happens in this transaction."""
        async with self.transaction() as conn:
            card = await _first(conn, "SELECT shown FROM cards WHERE incident_id = ?", (incident_id,))
            current = [r["id"] for r in await _fetch(
                conn, "SELECT id FROM reports WHERE incident_id = ? AND status = 'new'", (incident_id,)
            )]
            shown = set(json.loads(card["shown"])) if card and card["shown"] else None
            decided = [i for i in current if shown is None or i in shown] or current
            cursor = await conn.execute(
                "UPDATE incidents SET review = ?, reviewed_by = ?, reviewer_name = ?, reviewed_at = ?,"
                " reject_reason = ?, decided_reports = ?, effects_due = ?"
                " WHERE id = ? AND review = 'pending' AND status = 'open'",
                (
                    review.value,
                    staff_id,
                    staff_name,
                    now.isoformat(),
                    reason,
                    json.dumps(decided),
                    time.time() + undo_s if undo_s > 0 else None,
                    incident_id,
                ),
            )
            changed = cursor.rowcount == 1
            if changed:
                await _audit(conn, now, staff_id, staff_name, incident_id, review.value, reason)
                if undo_s > 0:
                    await _enqueue(conn, refresh, now)
                else:
                    await _finalize(conn, incident_id, now, compose, cases)
        return changed

    async def finalize_due(
        self, now: datetime, compose: Callable[[CardState], Sequence[Outgoing]], *, cases: CaseRules
    ) -> list[int]:
        """Decisions whose undo window has passed take effect; returns their incidents."""
        async with self.reading() as conn:
            due = [r[0] for r in await _fetch(
                conn, "SELECT id FROM incidents WHERE effects_due IS NOT NULL AND effects_due <= ?",
                (time.time(),),
            )]
        done = []
        for incident_id in due:
            async with self.transaction() as conn:
                still = await _first(
                    conn, "SELECT 1 FROM incidents WHERE id = ? AND effects_due IS NOT NULL", (incident_id,)
                )
                if still:  # not undone meanwhile
                    await _finalize(conn, incident_id, now, compose, cases)
                    done.append(incident_id)
        return done

    async def next_effects_due(self) -> float | None:
        """When the next decision takes effect (epoch seconds), if one is waiting."""
        async with self.reading() as conn:
            row = await _one(conn, "SELECT MIN(effects_due) FROM incidents WHERE effects_due IS NOT NULL")
        return None if row[0] is None else float(row[0])

    async def undo_decision(
        self, incident_id: int, staff_id: int, staff_name: str, now: datetime, refresh: Sequence[Outgoing]
    ) -> bool:
        """Takes back a decision inside its undo window; False once it has taken effect."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE incidents SET review = 'pending', reviewed_by = NULL, reviewer_name = NULL,"
                " reviewed_at = NULL, reject_reason = NULL, decided_reports = NULL, effects_due = NULL"
                " WHERE id = ? AND effects_due IS NOT NULL AND effects_due > ?",
                (incident_id, time.time()),
            )
            if cursor.rowcount != 1:
                return False
            await _audit(conn, now, staff_id, staff_name, incident_id, "undo", None)
            await _enqueue(conn, refresh, now)
        return True

    async def review_later_report(
        self,
        report_id: int,
        incident_id: int,
        accept: bool,
        staff_id: int,
        staff_name: str,
        reason: str | None,
        now: datetime,
        refresh: Sequence[Outgoing],
        notice: Callable[[CardState, ReportRow], Sequence[Outgoing]],
        *,
        cases: CaseRules,
    ) -> bool:
        """A report that joined a decided incident afterwards: accepted into the incident's decision
        (its reporter told, a livestock owner's case opened) or rejected on its own. False when it
        is no longer waiting (someone else was first, or it moved)."""
        async with self.transaction() as conn:
            incident = await _first(
                conn,
                "SELECT review, decided_reports, effects_due FROM incidents WHERE id = ? AND status = 'open'"
                " AND review != 'pending'",
                (incident_id,),
            )
            decided = json.loads(incident["decided_reports"] or "[]") if incident else []
            waiting = await _first(
                conn, "SELECT 1 FROM reports WHERE id = ? AND incident_id = ? AND status = 'new'",
                (report_id, incident_id),
            )
            if incident is None or report_id in decided or waiting is None:
                return False
            await _audit(
                conn, now, staff_id, staff_name, incident_id, "accept" if accept else "reject_report",
                f"report {report_id}" + (f" {reason}" if reason else ""),
            )
            await _enqueue(conn, refresh, now)
            if accept:
                await conn.execute(
                    "UPDATE incidents SET decided_reports = ? WHERE id = ?",
                    (json.dumps([*decided, report_id]), incident_id),
                )
                if incident["effects_due"] is not None:
                    return True  # inside the undo window: it takes effect with the others
            status = incident["review"] if accept else Review.REJECTED.value
            await conn.execute("UPDATE reports SET status = ? WHERE id = ?", (status, report_id))
            state = await _card_state(conn, incident_id)
            report = await _report(conn, report_id)
            assert state is not None
            await _enqueue(conn, notice(state, report), now)
            if accept and state.review is Review.VERIFIED:
                await _open_cases(conn, replace(state, reports=(report,)), staff_id, staff_name, now, cases)
        return True

    async def assign(
        self, incident_id: int, staff_id: int, staff_name: str, now: datetime, refresh: Sequence[Outgoing]
    ) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE incidents SET assignee_id = ?, assignee_name = ? WHERE id = ?",
                (staff_id, staff_name, incident_id),
            )
            await _audit(conn, now, staff_id, staff_name, incident_id, "assign", None)
            await _enqueue(conn, refresh, now)

    async def record(
        self,
        incident_id: int | None,
        staff_id: int | None,
        staff_name: str,
        action: str,
        detail: str | None,
        now: datetime,
        messages: Sequence[Outgoing] = (),
    ) -> None:
        """An audit entry, and the messages that action sends, in one transaction."""
        async with self.transaction() as conn:
            await _audit(conn, now, staff_id, staff_name, incident_id, action, detail)
            await _enqueue(conn, messages, now)

    async def audit_entries(self, incident_id: int | None = None) -> list[dict[str, Any]]:
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT * FROM audit_log WHERE ? IS NULL OR incident_id = ? ORDER BY id",
                (incident_id, incident_id),
            )
        return [dict(r) for r in rows]

    async def merge_candidates(self, incident_id: int, limit: int = 6) -> list[int]:
        """Open, undecided incidents of a compatible kind within 10 km of this one, nearest first."""
        async with self.reading() as conn:
            me = await _first(
                conn,
                "SELECT anchor_kind, anchor_latitude, anchor_longitude FROM incidents WHERE id = ?",
                (incident_id,),
            )
            if me is None or me["anchor_latitude"] is None:
                return []
            kinds = DedupeRules().group_kinds(me["anchor_kind"])
            rows = await _fetch(
                conn,
                f"SELECT id, anchor_latitude, anchor_longitude FROM incidents WHERE id != ?"
                f" AND anchor_kind IN ({', '.join('?' * len(kinds))}) AND status = 'open' AND "
                "review = 'pending'"
                " AND anchor_latitude BETWEEN ? AND ? AND anchor_longitude BETWEEN ? AND ?",
                (
                    incident_id,
                    *kinds,
                    me["anchor_latitude"] - 0.1,
                    me["anchor_latitude"] + 0.1,
                    me["anchor_longitude"] - 0.12,
                    me["anchor_longitude"] + 0.12,
                ),
            )
        here = (me["anchor_latitude"], me["anchor_longitude"])
        rows = sorted(rows, key=lambda r: haversine_m(here, (r["anchor_latitude"], r["anchor_longitude"])))
        return [r["id"] for r in rows[:limit]]

    async def merge_into(
        self,
        source: int,
        target: int,
        staff_id: int,
        staff_name: str,
        now: datetime,
        refresh: Callable[[int], Sequence[Outgoing]],
    ) -> bool:
        """Staff merge; False when it can no longer be made (already merged, decided, or incompatible)."""
        try:
            await self.merge_incidents(source, target, staff_id, now)
        except (LookupError, ValueError):
            return False
        await self.record(
            source, staff_id, staff_name, "merge", f"into {target}", now, [*refresh(source), *refresh(target)]
        )
        return True

    async def split_out(
        self,
        report_id: int,
        staff_id: int,
        staff_name: str,
        now: datetime,
        refresh: Callable[[int], Sequence[Outgoing]],
    ) -> bool:
        """Staff split a report into its own incident; False when it cannot be (already alone)."""
        async with self.reading() as conn:
            row = await _first(conn, "SELECT incident_id FROM reports WHERE id = ?", (report_id,))
        if row is None:
            return False
        old = row["incident_id"]
        try:
            new = await self.split_report(report_id, staff_id, now)
        except (LookupError, ValueError):
            return False
        if new == old:
            return False
        await self.record(
            old,
            staff_id,
            staff_name,
            "split",
            f"report {report_id} to {new}",
            now,
            [*refresh(old), *refresh(new)],
        )
        return True

    async def already_done(self, incident_id: int, action: str) -> bool:
        """Whether the audit log already has this action for the incident (one warning per incident)."""
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT 1 FROM audit_log WHERE incident_id = ? AND action = ? LIMIT 1",
                (incident_id, action),
            )
        return row is not None

    async def pending_incidents(self, limit: int = 30) -> list[CardState]:
        """Open incidents waiting for a decision, oldest first."""
        async with self.reading() as conn:
            # Undecided incidents, and decided ones with reports that joined after the decision.
            rows = await _fetch(
                conn,
                "SELECT id FROM incidents i WHERE status = 'open' AND review = 'pending'"
                " AND EXISTS (SELECT 1 FROM reports r WHERE r.incident_id = i.id AND r.hidden = 0)"
                " UNION SELECT i.id FROM reports r JOIN incidents i ON i.id = r.incident_id"
                " WHERE r.status = 'new' AND r.hidden = 0 AND i.status = 'open' AND i.review != 'pending'"
                " AND r.id NOT IN (SELECT value FROM json_each(COALESCE(i.decided_reports, '[]')))"
                " ORDER BY 1 LIMIT ?",
                (limit,),
            )
            states = [await _card_state(conn, r["id"]) for r in rows]
        return [s for s in states if s is not None]


async def _finalize(
    conn: aiosqlite.Connection,
    incident_id: int,
    now: datetime,
    compose: Callable[[CardState], Sequence[Outgoing]],
    cases: CaseRules,
) -> None:
    """A decision takes effect: its reports get its status, reporters and channels are told, and
    a verified livestock incident opens its compensation cases."""
    row = await _one(conn, "SELECT review, decided_reports FROM incidents WHERE id = ?", (incident_id,))
    await conn.execute(
        "UPDATE reports SET status = ? WHERE incident_id = ? AND status = 'new'"
        " AND id IN (SELECT value FROM json_each(?))",
        (row["review"], incident_id, row["decided_reports"] or "[]"),
    )
    await conn.execute("UPDATE incidents SET effects_due = NULL WHERE id = ?", (incident_id,))
    state = await _card_state(conn, incident_id)
    assert state is not None
    await _enqueue(conn, compose(state), now)
    if state.review is Review.VERIFIED:  # a compensation case per livestock owner
        await _open_cases(conn, replace(state, reports=state.decided_reports), None, None, now, cases)
