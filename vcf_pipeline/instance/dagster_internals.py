"""The one place that imports Dagster's private modules (`dagster._core`), and why each is needed.

Dagster 1.13 has no public API for these; keeping them here means a Dagster upgrade that moves
them breaks one module, whose names say what was used:
- launching an asset backfill from code (the UI and `dagster asset backfill` use the same class)
  and reading its status: `PartitionBackfill`, `BulkActionStatus`, `make_new_backfill_id`;
- the run launcher's health check, which lets run monitoring fail a run whose process died:
  `CheckRunHealthResult`, `WorkerStatus`;
- the tags Dagster itself sets on runs: `BACKFILL_ID_TAG`, `GRPC_INFO_TAG`;
- sensor tick statuses (the tests read the daemon's ticks): `TickStatus`.
"""

from dagster._core.execution.backfill import (
    BULK_ACTION_TERMINAL_STATUSES,
    BulkActionStatus,
    PartitionBackfill,
)
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.dagster_run import FINISHED_STATUSES
from dagster._core.storage.tags import BACKFILL_ID_TAG, GRPC_INFO_TAG
from dagster._core.utils import make_new_backfill_id

__all__ = [
    "BACKFILL_ID_TAG",
    "BULK_ACTION_TERMINAL_STATUSES",
    "FINISHED_STATUSES",
    "GRPC_INFO_TAG",
    "BulkActionStatus",
    "CheckRunHealthResult",
    "PartitionBackfill",
    "TickStatus",
    "WorkerStatus",
    "make_new_backfill_id",
]
