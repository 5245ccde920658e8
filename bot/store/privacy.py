"""Abuse and privacy: bans, report limits, /forgetme, the retention of original photos, media in use."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.records import Forgotten
from bot.store.core import _BY_CODE, StoreCore, _audit, _fetch, _first, _reporter_key


class PrivacyMixin(StoreCore):
    """Bans, limits, forgetting a person, retention, media in use."""

    @staticmethod
    def person_key(user_id: int) -> str:
        """The key a Telegram account's own (not anonymous) reports and bans carry."""
        key = _reporter_key(user_id)
        assert key is not None
        return key

    async def ban(
        self, key: str, staff_id: int, staff_name: str, reason: str | None, detail: str, now: datetime
    ) -> int | None:
        """Bans a person (a key from :meth:`person_key` or an anonymous tip's hash) and hides their reports
        from the staff queue; audited. Returns how many reports were hidden, None if already banned."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO bans (ban_key, banned_by, banned_at, reason) VALUES (?, ?, ?, ?)",
                (key, staff_id, now.isoformat(), reason),
            )
            if cursor.rowcount != 1:
                return None
            hidden = await conn.execute("UPDATE reports SET hidden = 1 WHERE reporter_key = ?", (key,))
            await _audit(conn, now, staff_id, staff_name, None, "ban", detail[:500])
        return hidden.rowcount

    async def unban(self, key: str, staff_id: int, staff_name: str, detail: str, now: datetime) -> bool:
        """Lifts a ban and shows the person's reports again; audited. False if they were not banned."""
        async with self.transaction() as conn:
            cursor = await conn.execute("DELETE FROM bans WHERE ban_key = ?", (key,))
            if cursor.rowcount != 1:
                return False
            await conn.execute("UPDATE reports SET hidden = 0 WHERE reporter_key = ?", (key,))
            await _audit(conn, now, staff_id, staff_name, None, "unban", detail[:500])
        return True

    async def is_banned(self, *keys: str) -> bool:
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT 1 FROM bans WHERE ban_key IN (SELECT value FROM json_each(?)) LIMIT 1",
                (json.dumps(keys),),
            )
        return row is not None

    async def banned_keys(self) -> set[str]:
        """Every banned key (a short list), for the gatekeeper's cache."""
        async with self.reading() as conn:
            rows = await _fetch(conn, "SELECT ban_key FROM bans")
        return {r[0] for r in rows}

    async def report_key(self, ref_code: str) -> str | None:
        """Whose report this is, as a ban key; None for an unknown code or a web report (no person)."""
        async with self.reading() as conn:
            row = await _first(
                conn, f"SELECT reporter_key FROM reports WHERE {_BY_CODE}", (ref_code, ref_code)
            )
        return row[0] if row else None

    async def recent_report_count(self, user_id: int, anonymous_key: str | None, since: datetime) -> int:
        """Reports a person submitted since `since`: under their id, and their anonymous tips by hash."""
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT COUNT(*) FROM reports WHERE (reporter_id = ? OR reporter_key = ?)"
                " AND julianday(submitted_at) >= julianday(?)",
                (user_id, anonymous_key, since.isoformat()),
            )
        assert row is not None
        return int(row[0])

    async def forget_person(
        self,
        user_id: int,
        anonymous_key: str | None,
        now: datetime,
        draft_files: Sequence[tuple[str, str]] = (),
        names: Sequence[str] = (),
    ) -> Forgotten:
        """/forgetme: removes a person's identity and keeps the scientific record.

        Their reports lose id, name, username, the owner's name and phone; the person's key becomes a
        random one (the reports still count as one person in their incidents, and stay hidden if banned);
        kind, place, time, answers, incidents and the photos' stripped copies stay. Original photos are
        personal data (EXIF can hold the device, its owner and the home position), so they are deleted
        unless another person's report has the same file; their rows then point at the stripped copy.
        Drafts, settings, the messages queued to them and their id in delivered staff posts go too.
        A ban is kept (its key names the account only so its messages stay ignored). `draft_files` are
        (sha256, path) of the files of a draft they had not sent: deleted too unless something else uses
        them. Returns the files to delete (after the commit) and how many reports were anonymised.

        Everything it can: the person's id, their names (`names`: what Telegram calls them
        now, plus every name and username their reports stored) and their phone numbers are also
        removed from their compensation cases (owner name, phone and Telegram id: the cases stay as
        anonymous records of a loss, with amounts and dates; the posted case card is re-rendered without
        them), from the free text of their reports, from messages still waiting in the outbox (a staff
        card not yet sent is sent without them) and from the copies of delivered ones, from staff
        questions and from audit details. A ban keeps its key (see above).
        """
        person = _reporter_key(user_id)
        keys = [k for k in (person, anonymous_key) if k]
        day = now.date().isoformat()  # only the day: a time could link the reports forgotten together
        async with self._writer() as conn:
            # Zeroes freed content, so what is removed does not linger in the file (Debian builds do
            # this by default; other builds may not).
            await conn.execute("PRAGMA secure_delete = ON")
        async with self.transaction() as conn:
            report_ids = [
                r[0]
                for r in await _fetch(
                    conn,
                    "SELECT id FROM reports WHERE reporter_id = ? OR reporter_key IN"
                    " (SELECT value FROM json_each(?))",
                    (user_id, json.dumps(keys)),
                )
            ]
            ids = json.dumps(report_ids)
            needles = await _person_needles(conn, user_id, ids, names)
            await _scrub_person(conn, user_id, ids, needles)
            # Two new random keys: their own reports and their anonymous tips must not become linked
            # (a livestock report's place could otherwise point at who sent a tip). No timestamp is
            # written for the same reason.
            await conn.execute(
                "UPDATE reports SET reporter_id = NULL, reporter_name = NULL, reporter_username = NULL,"
                " notify_reporter = 0, reporter_key = CASE WHEN reporter_key IS ? THEN ? ELSE ? END,"
                " details = json_remove(details, '$.phone', '$.owner_name')"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (anonymous_key, f"gone:{secrets.token_hex(8)}", f"gone:{secrets.token_hex(8)}", ids),
            )
            # Questions staff asked them: closed, and no longer saying whom they were for.
            await conn.execute(
                "UPDATE questions SET recipient_id = NULL, closed_at = COALESCE(closed_at, ?)"
                " WHERE recipient_id = ?",
                (day, user_id),
            )
            originals = [
                (r[0], r[1])
                for r in await _fetch(
                    conn,
                    "SELECT DISTINCT sha256, original_path FROM photos WHERE original_deleted_at IS NULL"
                    " AND report_id IN (SELECT value FROM json_each(?))",
                    (ids,),
                )
            ]
            await conn.execute(
                "UPDATE photos SET original_path = derived_path, original_deleted_at = ?"
                " WHERE original_deleted_at IS NULL AND report_id IN (SELECT value FROM json_each(?))",
                (day, ids),
            )
            await conn.execute("DELETE FROM user_data WHERE user_id = ?", (user_id,))
            # Messages to them: nothing more is sent, and nothing says they were sent.
            await conn.execute(
                "UPDATE outbox SET chat_id = 0, payload = '{}', result = NULL,"
                " status = CASE status WHEN 'pending' THEN 'failed' ELSE status END,"
                " last_error = CASE status WHEN 'pending' THEN 'forgotten' ELSE last_error END"
                " WHERE chat_id = ?",
                (user_id,),
            )
            # Staff posts already delivered (trusted routes) name them with a tg:// link: drop the copy.
            await conn.execute(
                "UPDATE outbox SET payload = '{}' WHERE status != 'pending' AND instr(payload, ?) > 0",
                (f'tg://user?id={user_id}\\"',),
            )
            await conn.execute(
                "UPDATE audit_log SET staff_id = NULL, staff_name = NULL"
                " WHERE staff_id = ? AND action = 'denied'",
                (user_id,),
            )
            # Delivered rows that named them otherwise (a card with their name, a case card with their
            # phone): the copy goes, as for the tg:// links above. Telegram's answer (`result`) too.
            for needle in needles:
                for form in _needle_forms(needle):
                    await conn.execute(
                        "UPDATE outbox SET payload = '{}', result = NULL"
                        " WHERE status != 'pending' AND (instr(payload, ?) > 0 OR instr(result, ?) > 0)",
                        (form, form),
                    )
            await _audit(conn, now, None, None, None, "forget", f"{len(report_ids)} reports anonymised")
            delete = await _unreferenced(conn, [*originals, *draft_files])
        # The write-ahead log still holds the old pages: fold them in and empty it now.
        await self.checkpoint()
        return Forgotten(len(report_ids), delete)

    async def expire_rejected_originals(self, before: datetime, now: datetime) -> list[str]:
        """The retention rule: original photos of reports staff rejected before `before` stop being kept.

        Their rows point at the stripped copy from now on; returns the files nothing references any more
        (another report, or a draft being written, may share a file: photos are stored by content).
        """
        async with self.transaction() as conn:
            rows = await _fetch(
                conn,
                "SELECT p.id, p.sha256, p.original_path FROM photos p JOIN reports r ON r.id = p.report_id"
                " LEFT JOIN incidents i ON i.id = r.incident_id"
                " WHERE r.status = 'rejected' AND p.original_deleted_at IS NULL"
                " AND julianday(COALESCE(i.reviewed_at, r.submitted_at)) < julianday(?)",
                (before.isoformat(),),
            )
            await conn.execute(
                "UPDATE photos SET original_path = derived_path, original_deleted_at = ?"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (now.isoformat(), json.dumps([r["id"] for r in rows])),
            )
            return await _unreferenced(conn, sorted({(r["sha256"], r["original_path"]) for r in rows}))

    async def media_in_use(self) -> set[str]:
        """The file names (not paths) of every photo file a report or a saved draft refers to."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT original_path AS path FROM photos UNION SELECT derived_path FROM photos"
                " UNION SELECT thumbnail_path FROM photos"
                " UNION SELECT value FROM user_data, json_tree(user_data.data)"
                " WHERE json_tree.key IN ('original_path', 'derived_path', 'thumbnail_path')",
            )
        return {Path(r["path"]).name for r in rows if r["path"]}

    async def unreferenced_files(self, files: Sequence[tuple[str, str]]) -> list[str]:
        """The paths of `files` ((sha256, path)) that no stored photo and no saved draft uses: what a
        cancelled draft may delete (photos are stored by content, so another report may share one)."""
        async with self.reading() as conn:
            return await _unreferenced(conn, files)


async def _unreferenced(conn: aiosqlite.Connection, files: Sequence[tuple[str, str]]) -> list[str]:
    """The paths of `files` ((sha256, path): files are named by content) that no photo row and no
    saved draft still uses."""
    unused = []
    for sha256, path in dict.fromkeys(files):
        used = await _first(
            conn,
            "SELECT 1 FROM photos WHERE sha256 = ? AND ? IN (original_path, derived_path, "
            "thumbnail_path)"
            " UNION ALL SELECT 1 FROM user_data WHERE instr(data, ?) > 0 LIMIT 1",
            (sha256, path, json.dumps(path, ensure_ascii=False)),
        )
        if used is None:
            unused.append(path)
    return unused


#: What a forgotten person's name, phone or id is replaced with inside a longer text.
FORGOTTEN_MARK = "—"


async def _person_needles(
    conn: aiosqlite.Connection, user_id: int, report_ids: str, names: Sequence[str]
) -> list[str]:
    """Every string that names the person: id, names and usernames, phone numbers (longest first)."""
    found: set[str] = {str(user_id), *names}
    for row in await _fetch(
        conn,
        "SELECT reporter_name, reporter_username, json_extract(details, '$.phone'),"
        " json_extract(details, '$.owner_name') FROM reports WHERE id IN (SELECT value FROM json_each(?))",
        (report_ids,),
    ):
        found.update(str(v) for v in row if v)
        if row[1]:
            found.add("@" + str(row[1]))
    for row in await _fetch(
        conn,
        "SELECT owner_name, phone FROM cases WHERE reporter_id = ?"
        " OR report_id IN (SELECT value FROM json_each(?))",
        (user_id, report_ids),
    ):
        found.update(str(v) for v in row if v)
    # A phone is found however it was spaced; very short names are left alone (they would match
    # inside other people's words).
    for text in list(found):
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= 7 and digits != text:
            found.add(digits)
    return sorted((n.strip() for n in found if len(n.strip()) >= 2), key=len, reverse=True)


def _needle_forms(needle: str) -> list[str]:
    """The needle as text and as it appears inside JSON written with ensure_ascii (Telegram results)."""
    escaped = json.dumps(needle)[1:-1]
    return [needle] if escaped == needle else [needle, escaped]


def _scrub_text(text: str, needles: Sequence[str]) -> str:
    for needle in needles:
        text = text.replace(needle, FORGOTTEN_MARK)
    return text


def _scrub_value(value: Any, needles: Sequence[str], user_id: int) -> Any:
    """A JSON value with every needle in its strings replaced and the person's id as a number zeroed."""
    if isinstance(value, str):
        return _scrub_text(value, needles)
    if isinstance(value, list):
        return [_scrub_value(v, needles, user_id) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_value(v, needles, user_id) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and value == user_id:
        return 0
    return value


def _mentions(column: str, needles: Sequence[str]) -> tuple[str, list[str]]:
    """SQL (and its parameters) true when `column` contains any form of any needle."""
    forms = [form for needle in needles for form in _needle_forms(needle)]
    return "(" + " OR ".join(f"instr({column}, ?) > 0" for _ in forms) + ")", forms


async def _scrub_person(
    conn: aiosqlite.Connection, user_id: int, report_ids: str, needles: Sequence[str]
) -> None:
    """Removes the person from their cases, their reports' texts, pending messages, questions, audit."""
    # Compensation cases: anonymised (see Store.forget_person), the card re-rendered without them.
    cases = await _fetch(
        conn,
        "SELECT id, findings, close_note, deny_reason FROM cases WHERE reporter_id = ?"
        " OR report_id IN (SELECT value FROM json_each(?))",
        (user_id, report_ids),
    )
    for case in cases:
        await conn.execute(
            "UPDATE cases SET owner_name = ?, phone = NULL, reporter_id = NULL, owner_key = ?,"
            " findings = ?, close_note = ?, deny_reason = ?, card_version = card_version + 1 WHERE id = ?",
            (
                FORGOTTEN_MARK,
                f"gone:{secrets.token_hex(8)}",
                *(_scrub_text(case[k], needles) if case[k] else case[k] for k in ("findings", "close_note",
                                                                                  "deny_reason")),
                case["id"],
            ),
        )
    # Their own words may name them ("call me on 139..."): the free text of their reports.
    for report in await _fetch(
        conn, "SELECT id, details, place_name FROM reports WHERE id IN (SELECT value FROM json_each(?))",
        (report_ids,),
    ):
        details = _scrub_value(json.loads(report["details"]), needles, user_id)
        place = _scrub_text(report["place_name"], needles) if report["place_name"] else report["place_name"]
        await conn.execute(
            "UPDATE reports SET details = ?, place_name = ? WHERE id = ?",
            (json.dumps(details, ensure_ascii=False), place, report["id"]),
        )
    if not needles:
        return
    # Messages not sent yet (to staff, a channel, the compensation chat): sent without them.
    where, params = _mentions("payload", needles)
    pending = await _fetch(
        conn, f"SELECT id, payload FROM outbox WHERE status = 'pending' AND {where}", params
    )
    for row in pending:
        payload = _scrub_value(json.loads(row["payload"]), needles, user_id)
        await conn.execute(
            "UPDATE outbox SET payload = ? WHERE id = ?", (json.dumps(payload, ensure_ascii=False), row["id"])
        )
    # Staff questions and audit details that name them (a ban's description, a question's text).
    where, params = _mentions("question", needles)
    for row in await _fetch(conn, f"SELECT id, question FROM questions WHERE {where}", params):
        question = _scrub_text(row["question"], needles)
        await conn.execute("UPDATE questions SET question = ? WHERE id = ?", (question, row["id"]))
    where, params = _mentions("detail", needles)
    for row in await _fetch(conn, f"SELECT id, detail FROM audit_log WHERE {where}", params):
        await conn.execute(
            "UPDATE audit_log SET detail = ? WHERE id = ?", (_scrub_text(row["detail"], needles), row["id"])
        )
