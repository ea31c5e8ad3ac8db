"""``SyncStore``: every repository of the sync table over one client and one table name."""

from __future__ import annotations

from crmsync.store.account_managers import AccountManagersRepo
from crmsync.store.budget import BudgetRepo
from crmsync.store.checkpoints import CheckpointsRepo
from crmsync.store.config import ConfigRepo, TokensRepo
from crmsync.store.conflicts import ConflictsRepo
from crmsync.store.connection_states import ConnectionStatesRepo
from crmsync.store.deletes import DeletesRepo
from crmsync.store.drift import DriftRepo
from crmsync.store.facts import FactsRepo
from crmsync.store.health_reads import HealthReadsRepo
from crmsync.store.jobs import JobsRepo
from crmsync.store.parking import ParkingRepo
from crmsync.store.records import RecordsRepo
from crmsync.store.timeline import TimelineRepo
from crmsync.store.tokens_cache import TokenCacheRepo


class SyncStore(
    RecordsRepo,
    TimelineRepo,
    ConfigRepo,
    TokensRepo,
    ConflictsRepo,
    ParkingRepo,
    DeletesRepo,
    JobsRepo,
    BudgetRepo,
    CheckpointsRepo,
    ConnectionStatesRepo,
    TokenCacheRepo,
    FactsRepo,
    DriftRepo,
    AccountManagersRepo,
    HealthReadsRepo,
):
    """The data-access layer over the sync table. ``client`` is a boto3 DynamoDB client.

    Built as ``SyncStore(client, table_name)`` (``Table.__init__``); each base is one item family's
    repository (its module documents the items' keys), all sharing the client, ``table`` and ``ops``.
    """
