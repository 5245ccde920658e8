"""Staff questions to one report's reporter, and the answers relayed under the card."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.records import Outgoing, ReportRow
from bot.store.core import StoreCore, _audit, _fetch, _first, _one
from bot.store.outbox import _enqueue
from bot.store.rows import _report


class QuestionsMixin(StoreCore):
    """Ask the reporter: the question's prompt, its relay, the answers."""

    async def open_question(
        self, incident_id: int, report_id: int, chat_id: int, message_id: int, now: datetime
    ) -> None:
        """Staff were asked to type a question for the reporter of one report (the prompt message)."""
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO questions (incident_id, report_id, prompt_chat_id, prompt_message_id, asked_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (incident_id, report_id, chat_id, message_id, now.isoformat()),
            )

    async def question_by_prompt(self, chat_id: int, message_id: int) -> int | None:
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT id FROM questions WHERE prompt_chat_id = ? AND prompt_message_id = ?"
                " AND report_id IS NOT NULL AND question IS NULL",
                (chat_id, message_id),
            )
        return row[0] if row else None

    async def relay_question(
        self,
        question_id: int,
        text: str,
        staff_id: int,
        staff_name: str,
        now: datetime,
        expires: datetime,
        compose: Callable[[ReportRow, str], Outgoing],
    ) -> ReportRow | None:
        """Queues the question to the one reporter it was meant for; returns their report, or None
        when they cannot be asked (anonymous, or asked already through this prompt)."""
        async with self.transaction() as conn:
            q = await _one(conn, "SELECT * FROM questions WHERE id = ?", (question_id,))
            if q["question"] is not None or q["report_id"] is None:
                return None
            report = await _report(conn, q["report_id"])
            if report.reporter_id is None or not report.notify_reporter:
                return None
            await conn.execute(
                "UPDATE questions SET question = ?, asked_by = ?, recipient_id = ?, expires_at = ?"
                " WHERE id = ?",
                (text, staff_id, report.reporter_id, expires.isoformat(), question_id),
            )
            detail = f"{report.ref_code}: {text[:480]}"
            await _audit(conn, now, staff_id, staff_name, q["incident_id"], "ask", detail)
            await _enqueue(conn, [compose(report, f"question:{question_id}:{report.id}")], now)
        return report

    async def open_questions(self, user_id: int, now: datetime) -> list[tuple[int, str]]:
        """(question id, reference code) of the questions this person may still answer, oldest first.
        Questions past their time are closed here, and forget whom they were for."""
        async with self.transaction(durable=False) as conn:
            await conn.execute(
                "UPDATE questions SET closed_at = ?, recipient_id = NULL"
                " WHERE recipient_id = ? AND closed_at IS NULL AND expires_at <= ?",
                (now.isoformat(), user_id, now.isoformat()),
            )
            rows = await _fetch(
                conn,
                "SELECT q.id, r.ref_code FROM questions q JOIN reports r ON r.id = q.report_id"
                " WHERE q.recipient_id = ? AND q.closed_at IS NULL ORDER BY q.id",
                (user_id,),
            )
        return [(r[0], r[1]) for r in rows]

    async def question_replied(self, user_id: int, replied_to: int) -> int | None:
        """The question a reply (Telegram's Reply gesture) answers: the one relayed as that message."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT purpose FROM outbox WHERE chat_id = ? AND purpose LIKE 'question:%' AND result = ?",
                (user_id, json.dumps([replied_to])),
            )
        return int(rows[0]["purpose"].split(":")[1]) if rows else None

    async def relay_answer(
        self,
        question_id: int,
        user_id: int,
        now: datetime,
        max_answers: int,
        settle: datetime,
        compose: Callable[[int, str, tuple[int, int] | None], Sequence[Outgoing]],
    ) -> bool:
        """One message of a reporter's answer, queued under the incident's card. After it the question
        stays open only until `settle` (a photo after the text), and closes at `max_answers`, so a
        flood of replies cannot fill the staff group's queue. False: not an open question of theirs."""
        stamp = now.isoformat()
        async with self.transaction() as conn:
            q = await _first(
                conn,
                "SELECT * FROM questions WHERE id = ? AND recipient_id = ? AND closed_at IS NULL"
                " AND expires_at > ? AND answers < ?",
                (question_id, user_id, stamp, max_answers),
            )
            if q is None:
                return False
            closing = q["answers"] + 1 >= max_answers
            await conn.execute(
                "UPDATE questions SET answers = answers + 1, expires_at = MIN(expires_at, ?),"
                " closed_at = CASE WHEN ? THEN ? END,"
                " recipient_id = CASE WHEN ? THEN NULL ELSE recipient_id END"
                " WHERE id = ?",
                (settle.isoformat(), closing, stamp, closing, question_id),
            )
            # The report's incident now (it may have been merged or split since the question).
            report = await _one(
                conn, "SELECT ref_code, incident_id FROM reports WHERE id = ?", (q["report_id"],)
            )
            card = await _first(
                conn, "SELECT chat_id, message_id FROM cards WHERE incident_id = ?", (report["incident_id"],)
            )
            await _enqueue(
                conn,
                compose(report["incident_id"], report["ref_code"], (card[0], card[1]) if card else None),
                now,
            )
        return True
