"""Backfills from the command line: choose partitions, register the files not yet registered, and
hand Dagster an asset backfill that its daemon runs (one queued run per partition, visible on the
UI's backfills page), exactly as if it had been launched from the UI."""

from __future__ import annotations

import time
from dataclasses import dataclass

import dagster as dg
from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES, BulkActionStatus, PartitionBackfill
from dagster._core.storage.dagster_run import FINISHED_STATUSES
from dagster._core.storage.tags import BACKFILL_ID_TAG
from dagster._core.utils import make_new_backfill_id

from vcf_pipeline.defs.ingest import ingest_assets
from vcf_pipeline.defs.partitions import vcf_files
from vcf_pipeline.lib.folder_watch import list_folder
from vcf_pipeline.lib.partition_keys import decode_key, encode_key
from vcf_pipeline.lib.sources import Sources, UnknownSourceError

_DAEMON_FRESH_S = 120


class SelectionError(ValueError):
    """The partitions asked for do not exist (exit 2)."""


@dataclass
class Selection:
    keys: list[str]
    registered_now: list[str]


def _files_of(sources: Sources, name: str) -> list[str]:
    folder = sources.folders[name]
    return [encode_key(name, relative) for relative in sorted(list_folder(folder).files)] if folder.is_dir() else []


def select_partitions(
    instance: dg.DagsterInstance,
    sources: Sources,
    *,
    everything: bool = False,
    keys: list[str] | None = None,
    source: str | None = None,
    missing: bool = False,
) -> Selection:
    """The partitions a backfill should run, registering files that have no partition yet."""
    registered = set(instance.get_dynamic_partitions(vcf_files.name))
    if everything:
        chosen = sorted(registered | {k for name in sources.watched for k in _files_of(sources, name)})
    elif source is not None:
        if source not in sources.folders:
            raise SelectionError(f"unknown source {source!r}; known: {', '.join(sorted(sources.folders))}")
        chosen = sorted({k for k in registered if decode_key(k)[0] == source} | set(_files_of(sources, source)))
    else:
        chosen = list(dict.fromkeys(keys or []))
        for key in chosen:
            try:
                exists = sources.path_for(key).is_file()
            except (UnknownSourceError, ValueError) as exc:
                raise SelectionError(str(exc)) from exc
            if key not in registered and not exists:
                raise SelectionError(f"partition {key!r} is not registered and {sources.path_for(key)} does not exist")
    if missing:
        done = set.intersection(*(set(instance.get_materialized_partitions(a.key)) for a in ingest_assets))
        chosen = [k for k in chosen if k not in done]
    new = [k for k in chosen if k not in registered]
    if new:
        instance.add_dynamic_partitions(vcf_files.name, new)
    return Selection(chosen, new)


def launch_backfill(instance: dg.DagsterInstance, keys: list[str], title: str) -> str:
    """Queue an asset backfill of the ingest assets over `keys`; the daemon launches its runs."""
    from vcf_pipeline.definitions import defs

    backfill_id = make_new_backfill_id()
    instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id,
            asset_graph=defs.resolve_asset_graph(),
            partition_names=keys,
            asset_selection=[a.key for a in ingest_assets],
            backfill_timestamp=time.time(),
            tags={"vcf_pipeline/launched_by": "vcf-pipeline backfill"},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=title,
            description=f"{len(keys)} VCF files, launched from the command line",
            run_config=None,
        )
    )
    return backfill_id


def daemon_running(instance: dg.DagsterInstance) -> bool:
    """Whether a daemon (e.g. under `make dev`) has recently reported in to this instance."""
    beat = instance.get_daemon_heartbeats().get("BACKFILL")
    return beat is not None and time.time() - beat.timestamp < _DAEMON_FRESH_S


@dataclass
class BackfillOutcome:
    status: str
    runs: dict[str, str]  # partition key -> run status

    @property
    def succeeded(self) -> bool:
        return self.status == BulkActionStatus.COMPLETED_SUCCESS.value and all(s == "SUCCESS" for s in self.runs.values())


def wait_for_backfill(instance: dg.DagsterInstance, backfill_id: str, timeout_s: float, poll_s: float = 2.0) -> BackfillOutcome:
    """Wait until the backfill and all its runs have finished (or `timeout_s` passed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        backfill = instance.get_backfill(backfill_id)
        runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
        finished = all(r.status in FINISHED_STATUSES for r in runs)
        if (backfill.status in BULK_ACTION_TERMINAL_STATUSES and finished) or time.monotonic() > deadline:
            # get_runs lists the newest first: a retried partition reports its last run.
            return BackfillOutcome(backfill.status.value, {r.tags.get("dagster/partition", r.run_id): r.status.value for r in reversed(runs)})
        time.sleep(poll_s)
