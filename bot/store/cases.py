"""Livestock compensation cases: opened when staff verify a livestock incident, moved along by staff steps.

The rules, deadlines and texts are in bot/compensation.py; the store does not import it. What opening a
case and telling its owner needs comes in as a :class:`bot.records.CaseRules` argument (a
``bot.compensation.CasePlan``), the way moderation's composers come in."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

import aiosqlite

from bot.records import CardState, Case, CaseChange, CaseRules, Outgoing
from bot.store.core import _BY_CODE, StoreCore, _audit, _fetch, _first
from bot.store.outbox import _enqueue
from bot.store.rows import _case, _cases

# The columns a staff step (a bot.records.CaseChange) may set: change_case refuses any other.
CASE_COLUMNS = frozenset({
    "state", "survey_on", "officer", "surveyed_on", "surveyed_by", "findings", "predator_confirmed", "heads",
    "assessed_fen", "applied_on", "decided_on", "decided_by", "approved_fen", "deny_reason", "payment_due",
    "paid_on", "paid_fen", "closed_on", "close_note",
})


class CasesMixin(StoreCore):
    """Compensation cases and their cards."""

    async def case(self, case_id: int) -> Case | None:
        async with self.reading() as conn:
            return await _case(conn, case_id)

    async def case_by_report_code(self, code: str) -> Case | None:
        """The case a report belongs to: its incident's only case, or the owner's case it opened."""
        async with self.reading() as conn:
            report = await _first(conn, f"SELECT id, incident_id FROM reports WHERE {_BY_CODE}", (code, code))
            if report is None:
                return None
            cases = await _cases(
                conn, "SELECT id FROM cases WHERE incident_id = ? ORDER BY id", (report["incident_id"],)
            )
        if len(cases) == 1:
            return cases[0]
        return next((c for c in cases if c.report_id == report["id"]), None)

    async def case_by_card(self, chat_id: int, message_id: int) -> Case | None:
        async with self.reading() as conn:
            found = await _cases(
                conn,
                "SELECT id FROM cases WHERE card_chat_id = ? AND card_message_id = ?",
                (chat_id, message_id),
            )
        return found[0] if found else None

    async def open_cases(self) -> list[Case]:
        """Every case not closed yet, oldest first (/cases, reminders, the digest)."""
        async with self.reading() as conn:
            return await _cases(conn, "SELECT id FROM cases WHERE state != 'closed' ORDER BY id")

    async def cases_of(self, user_id: int, limit: int = 20) -> list[Case]:
        """The cases a person is told about (/myreports), newest first."""
        async with self.reading() as conn:
            return await _cases(
                conn, "SELECT id FROM cases WHERE reporter_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit)
            )

    async def cases_in_month(self, start: str, end: str) -> list[Case]:
        """Cases opened, or paid, on a day in [start, end) (ISO dates): the monthly report."""
        async with self.reading() as conn:
            return await _cases(
                conn,
                "SELECT id FROM cases WHERE reported_on >= :s AND reported_on < :e"
                " UNION SELECT id FROM cases WHERE paid_on >= :s AND paid_on < :e ORDER BY 1",
                {"s": start, "e": end},
            )

    async def change_case(
        self,
        case_id: int,
        staff_id: int | None,
        staff_name: str,
        now: datetime,
        step: Callable[[Case], CaseChange],
        *,
        cases: CaseRules,
    ) -> Case:
        """Applies one staff step in one transaction: `step(case)` returns a CaseChange
        (or raises IllegalTransition / CaseInputError, and nothing is written). The update only lands
        if the case is still in the state the step was decided on (of two staff, the first wins; the
        second's step is decided again on the new state). The card is marked for refresh, the step is
        audited and the owner's notice queued (`cases` words it). Returns the case after the step;
        LookupError if unknown."""
        async with self.transaction() as conn:
            case = await _case(conn, case_id)
            if case is None:
                raise LookupError(f"no case {case_id}")
            change = step(case)
            fields = dict(change.fields)
            if change.state is not None:
                fields["state"] = change.state.value
            unknown = set(fields) - CASE_COLUMNS
            assert not unknown, unknown
            sets = "".join(f"{name} = :{name}, " for name in fields)
            cursor = await conn.execute(
                f"UPDATE cases SET {sets}updated_at = :updated_at, card_version = card_version + 1"
                " WHERE id = :id AND state = :old",
                {**fields, "updated_at": now.isoformat(), "id": case_id, "old": case.state.value},
            )
            assert cursor.rowcount == 1  # the state was read in this transaction
            after = await _case(conn, case_id)
            assert after is not None
            await _audit(
                conn,
                now,
                staff_id,
                staff_name,
                case.incident_id,
                f"case_{change.action}",
                f"{case.code} {case.state.value}->{after.state.value} {change.detail}".strip()[:500],
            )
            await _enqueue(conn, cases.owner_messages(after, change.notice), now)
        return after

    async def add_case_photo(
        self,
        case_id: int,
        file_id: str,
        file_unique_id: str,
        staff_id: int | None,
        staff_name: str,
        now: datetime,
    ) -> bool:
        """A survey photo (kept as Telegram's file id); False when the same photo was already added."""
        async with self.transaction() as conn:
            case = await _case(conn, case_id)
            if case is None:
                raise LookupError(f"no case {case_id}")
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO case_photos (case_id, file_id, file_unique_id, added_by, added_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (case_id, file_id, file_unique_id, staff_id, now.isoformat()),
            )
            if cursor.rowcount != 1:
                return False
            await conn.execute(
                "UPDATE cases SET card_version = card_version + 1, updated_at = ? WHERE id = ?",
                (now.isoformat(), case_id),
            )
            await _audit(
                conn,
                now,
                staff_id,
                staff_name,
                case.incident_id,
                "case_photo",
                f"{case.code} {file_unique_id}",
            )
        return True

    async def case_photo_ids(self, case_id: int) -> list[str]:
        async with self.reading() as conn:
            rows = await _fetch(
                conn, "SELECT file_id FROM case_photos WHERE case_id = ? ORDER BY id", (case_id,)
            )
        return [r[0] for r in rows]

    async def case_tokens(self, case_id: int, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """An opaque token per (action, arg) of a case card's buttons, made once and reused."""
        async with self.transaction() as conn:
            await conn.executemany(
                "INSERT OR IGNORE INTO case_actions (token, case_id, action, arg) VALUES (?, ?, ?, ?)",
                [(secrets.token_urlsafe(9), case_id, a, arg) for a, arg in pairs],
            )
            rows = await _fetch(
                conn, "SELECT action, arg, token FROM case_actions WHERE case_id = ?", (case_id,)
            )
        by_key = {(r["action"], r["arg"]): r["token"] for r in rows}
        return {pair: by_key[pair] for pair in pairs}

    async def case_action(self, token: str) -> tuple[int, str, str] | None:
        """(case_id, action, arg) behind a case button's token, or None for a forged one."""
        async with self.reading() as conn:
            row = await _first(
                conn, "SELECT case_id, action, arg FROM case_actions WHERE token = ?", (token,)
            )
        return (row[0], row[1], row[2]) if row else None

    async def case_cards_due(self, limit: int = 20) -> list[tuple[int, int]]:
        """(case_id, card_version) of the case cards to post or refresh."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT id, card_version FROM cases WHERE card_version > card_sent_version"
                " ORDER BY id LIMIT ?",
                (limit,),
            )
        return [(r[0], r[1]) for r in rows]

    async def case_card_sent(self, case_id: int, version: int, chat_id: int, message_id: int) -> None:
        """The card shows `version` now (a change made while it was sent leaves it due again)."""
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE cases SET card_chat_id = ?, card_message_id = ?,"
                " card_sent_version = MAX(card_sent_version, ?) WHERE id = ?",
                (chat_id, message_id, version, case_id),
            )

    async def repost_case_card(self, case_id: int) -> bool:
        """Posts the card again as a new message (the old one is left as it is)."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE cases SET card_message_id = NULL, card_version = card_version + 1 WHERE id = ?",
                (case_id,),
            )
        return cursor.rowcount == 1

    async def remind_cases(
        self,
        keys: dict[int, list[str]],
        messages: Sequence[Outgoing],
        now: datetime,
        refresh_cards: bool = False,
    ) -> None:
        """Records the reminders sent per case (each key once) and queues the messages, in one
        transaction; `refresh_cards` marks every open case's card for refresh (its countdowns)."""
        async with self.transaction() as conn:
            if refresh_cards:
                await conn.execute("UPDATE cases SET card_version = card_version + 1 WHERE state != 'closed'")
            for case_id, new in keys.items():
                row = await _first(conn, "SELECT incident_id, reminded FROM cases WHERE id = ?", (case_id,))
                if row is None:
                    continue
                known = [k for k in (row["reminded"] or "").split(",") if k]
                await conn.execute(
                    "UPDATE cases SET reminded = ? WHERE id = ?",
                    (",".join(known + [k for k in new if k not in known]), case_id),
                )
                await _audit(
                    conn,
                    now,
                    None,
                    None,
                    row["incident_id"],
                    "case_remind",
                    f"C{case_id} {' '.join(new)}"[:500],
                )
            await _enqueue(conn, messages, now)


async def _open_cases(
    conn: aiosqlite.Connection,
    state: CardState,
    staff_id: int | None,
    staff_name: str | None,
    now: datetime,
    cases: CaseRules,
) -> list[int]:
    """Inside review_incident's transaction: a case per owner of the incident's livestock reports
    (none for other kinds), each owner told through the outbox. A case that exists stays as it is."""
    opened = []
    for values in cases.new_cases(state.reports, now):
        columns = ", ".join(values)
        cursor = await conn.execute(
            f"INSERT OR IGNORE INTO cases ({columns}) VALUES ({', '.join('?' * len(values))})",
            tuple(values.values()),
        )
        if cursor.rowcount != 1 or cursor.lastrowid is None:
            continue
        case = await _case(conn, cursor.lastrowid)
        assert case is not None
        opened.append(case.id)
        await _audit(
            conn,
            now,
            staff_id,
            staff_name,
            state.incident_id,
            "case_open",
            f"{case.code} {case.owner_name}",
        )
        await _enqueue(conn, cases.owner_messages(case, "opened"), now)
    return opened
