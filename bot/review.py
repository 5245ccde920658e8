"""The review state of an incident and what its staff card shows (plain records, no logic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.store import ReportRow


class Review(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


@dataclass(frozen=True)
class CardState:
    """Everything an incident's card shows."""

    incident_id: int
    kind: str
    status: str  # 'open' or 'merged'
    merged_into: int | None
    review: Review
    reviewer: str | None
    reviewed_at: datetime | None
    reject_reason: str | None
    assignee: str | None
    reports: tuple[ReportRow, ...]  # oldest first; the first is the anchor
    merge_suggestions: tuple[int, ...]
