"""Prometheus metrics: one registry per application, so tests (and two bots in one process) never mix.

Counters and the latency histogram are fed by the Telegram side (`handlers/web.py`); reports by kind,
outbox depth and outbox lag are read from the store when /metrics is scraped (the store is async,
so they are refreshed just before the exposition is generated rather than in a sync collector).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.report import Kind
from bot.store import Store

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


#: Kinds broken down in the metrics. Never the poaching tip: a counter that moves when a tip
#: arrives (and when) is exactly what someone who fears being reported wants to watch. Tips are
#: in no per-kind series and in no total.
COUNTED_KINDS = tuple(kind for kind in Kind if kind is not Kind.TIP)


@dataclass(frozen=True)
class OutboxState:
    depth: int  # pending messages
    lag_s: float  # how long the most overdue pending message has been due (0: nothing overdue)


async def outbox_state(store: Store, now: float | None = None) -> OutboxState:
    next_due = await store.outbox_next_due()
    now = time.time() if now is None else now
    return OutboxState(await store.outbox_depth(), max(0.0, now - next_due) if next_due is not None else 0.0)


class Metrics:
    """The bot's metrics in their own :class:`CollectorRegistry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates = Counter(
            "leopard_updates_handled", "Telegram updates handled, by update type", ["type"], registry=r
        )
        self.handler_latency = Histogram(
            "leopard_handler_latency_seconds",
            "Time from the first to the last handler group of an update",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.bot_api_errors = Counter(
            "leopard_bot_api_errors",
            "Bot API calls that failed, by HTTP status code ('network' or 'timeout' without one)",
            ["code"],
            registry=r,
        )
        self.web_reports = Counter(
            "leopard_web_reports",
            "Reports sent through the web tip line, by kind (tips not counted)",
            ["kind"],
            registry=r,
        )
        self.web_refusals = Counter(
            "leopard_web_refusals",
            "Web tip line posts refused, by reason (csrf, rate_limit, too_large, invalid)",
            ["reason"],
            registry=r,
        )
        self.reports = Gauge(
            "leopard_reports", "Stored reports, by kind (tips not counted)", ["kind"], registry=r
        )
        self.outbox_depth = Gauge("leopard_outbox_depth", "Messages waiting in the outbox", registry=r)
        self.outbox_lag = Gauge(
            "leopard_outbox_lag_seconds", "How long the most overdue outbox message has been due", registry=r
        )
        for kind in COUNTED_KINDS:  # every series exists from the start, so rate() and alerts see zeros
            self.reports.labels(kind.value)
            self.web_reports.labels(kind.value)

    def count_web_report(self, kind: Kind) -> None:
        """One more web report of `kind` (a tip leaves no trace here)."""
        if kind in COUNTED_KINDS:
            self.web_reports.labels(kind.value).inc()

    async def refresh(self, store: Store) -> None:
        """Reads the store-backed gauges (called right before an exposition)."""
        counts = await store.report_counts_by_kind()
        for kind in COUNTED_KINDS:
            self.reports.labels(kind.value).set(counts.get(kind.value, 0))
        state = await outbox_state(store)
        self.outbox_depth.set(state.depth)
        self.outbox_lag.set(state.lag_s)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
