"""All SQL lives in this package: the schema's migrations, reports, photos, incidents, the outbox, …

:class:`Store` is the database: its core (core.py: opening, transactions, reads, migrations, backups)
with one mixin per capability, each in its own module. The records it reads and writes are in
bot/records.py; the schema the migrations make is in schema.sql.
"""

from bot.store.cases import CasesMixin
from bot.store.core import MIGRATIONS
from bot.store.export import ExportMixin
from bot.store.moderation import ModerationMixin
from bot.store.outbox import OutboxMixin
from bot.store.persistence import PersistenceMixin
from bot.store.places import PlacesMixin
from bot.store.privacy import PrivacyMixin
from bot.store.questions import QuestionsMixin
from bot.store.reports import ReportsMixin

__all__ = ["MIGRATIONS", "Store"]


class Store(
    ReportsMixin,
    OutboxMixin,
    PersistenceMixin,
    ModerationMixin,  # and IncidentsMixin, which it builds on
    QuestionsMixin,
    PlacesMixin,
    PrivacyMixin,
    CasesMixin,
    ExportMixin,
):
    """The database; create with :meth:`open`, close with :meth:`close`."""
