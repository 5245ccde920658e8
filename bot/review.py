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
    # The reports the decision covers: those on the card when staff decided. A report that joined
    # later stays 'new' and is shown apart as new work (issue 21 §1).
    decided: frozenset[int] = frozenset()
    # While the decision can still be undone: when its messages (reporters, channels) go out.
    effects_due: datetime | None = None

    @property
    def decided_reports(self) -> tuple[ReportRow, ...]:
        """The reports the decision applies to (all of them while the incident is undecided)."""
        if self.review is Review.PENDING:
            return self.reports
        return tuple(r for r in self.reports if r.id in self.decided) or self.reports

    @property
    def later_reports(self) -> tuple[ReportRow, ...]:
        """Reports that joined a decided incident afterwards and still wait for staff."""
        if self.review is Review.PENDING or self.status != "open":
            return ()
        return tuple(r for r in self.reports if r.id not in self.decided and r.status == "new")
