"""Backfills from the command line: choose partitions, register the files not yet registered, and
hand Dagster an asset backfill that its daemon runs (one queued run per partition, visible on the
UI's backfills page), exactly as if it had been launched from the UI."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from vcf_pipeline.defs.ingest.partitions import vcf_files
from vcf_pipeline.instance.dagster_internals import (
    BACKFILL_ID_TAG,
    BULK_ACTION_TERMINAL_STATUSES,
    FINISHED_STATUSES,
    BulkActionStatus,
    PartitionBackfill,
    make_new_backfill_id,
)
from vcf_pipeline.instance.run_files import files_of_run
from vcf_pipeline.lib.watch.object_source import SourceUnavailable
from vcf_pipeline.lib.watch.partition_keys import decode_key, encode_key
from vcf_pipeline.lib.watch.sources import Sources, UnknownSourceError

_DAEMON_FRESH_S = 120
INGEST_ASSETS = [dg.AssetKey(name) for name in ("parsed_variants", "variant_embeddings", "lancedb_variants", "kuzu_graph")]


class SelectionError(ValueError):
    """The partitions asked for do not exist (exit 2)."""


@dataclass
class Selection:
    keys: list[str]
    registered_now: list[str]


def _files_of(sources: Sources, name: str) -> list[str]:
    try:
        return [encode_key(name, relative) for relative in sorted(sources.listing(name).files)]
    except SourceUnavailable:
        return []


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
                exists = sources.exists(key)
            except (UnknownSourceError, ValueError) as exc:
                raise SelectionError(str(exc)) from exc
            if key not in registered and not exists:
                raise SelectionError(f"partition {key!r} is not registered and {sources.path_for(key)} does not exist")
    if missing:
        done = set.intersection(*(set(instance.get_materialized_partitions(key)) for key in INGEST_ASSETS))
        chosen = [k for k in chosen if k not in done]
    new = [k for k in chosen if k not in registered]
    if new:
        instance.add_dynamic_partitions(vcf_files.name, new)
    return Selection(chosen, new)


def launch_backfill(instance: dg.DagsterInstance, keys: list[str], title: str) -> str:
    """Queue an asset backfill of the ingest assets over `keys`; the daemon launches its runs."""
    return _add_backfill(instance, INGEST_ASSETS, keys, "vcf-pipeline backfill", title, f"{len(keys)} VCF files, launched from the command line")


BACKUP_ASSETS = [dg.AssetKey(name) for name in ("lancedb_backup", "kuzu_backup")]


def launch_backup_backfill(instance: dg.DagsterInstance, title: str) -> str:
    """Queue both backup assets as one backfill: the daemon of any machine sharing the instance runs
    them in one run (unpartitioned assets of one backfill go together), so one snapshot."""
    return _add_backfill(instance, BACKUP_ASSETS, None, title, title, "a snapshot of LanceDB and the graph, launched from the command line")


def _add_backfill(instance, assets: list[dg.AssetKey], keys: list[str] | None, launched_by: str, title: str, description: str) -> str:
    """An asset backfill of `assets` over partition `keys` (None: unpartitioned assets, each once)."""
    from vcf_pipeline.definitions import defs

    backfill_id = make_new_backfill_id()
    instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id,
            asset_graph=defs.resolve_asset_graph(),
            partition_names=keys,
            asset_selection=assets,
            backfill_timestamp=time.time(),
            tags={"vcf_pipeline/launched_by": launched_by},
            dynamic_partitions_store=instance,
            all_partitions=keys is None,
            title=title,
            description=description,
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
    runs: dict[str, str]  # partition key -> the status of its (last) run

    @property
    def succeeded(self) -> bool:
        return self.status == BulkActionStatus.COMPLETED_SUCCESS.value and all(s == "SUCCESS" for s in self.runs.values())


def wait_for_backfill(
    instance: dg.DagsterInstance,
    backfill_id: str,
    timeout_s: float,
    poll_s: float = 2.0,
    on_run_end: Callable[[str, str], None] = lambda key, status: None,
    on_progress: Callable[[str], None] = lambda line: None,
    progress_every_s: float = 15.0,
) -> BackfillOutcome:
    """Wait until the backfill and all its runs have finished (or `timeout_s` passed), telling
    `on_run_end(partition key, status)` of each run as it ends and `on_progress` a line of counts
    every `progress_every_s` seconds."""
    deadline = time.monotonic() + timeout_s
    next_progress = time.monotonic() + progress_every_s
    reported: set[str] = set()
    while True:
        backfill = instance.get_backfill(backfill_id)
        runs = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
        for run in reversed(runs):  # oldest first
            if run.status in FINISHED_STATUSES and run.run_id not in reported:
                reported.add(run.run_id)
                for key in files_of_run(instance, run) or [run.run_id]:
                    on_run_end(key, run.status.value)
        finished = all(r.status in FINISHED_STATUSES for r in runs)
        if time.monotonic() >= next_progress:
            counts = Counter(r.status.value.lower() for r in runs)
            on_progress(f"waiting: {len(runs)} runs ({', '.join(f'{n} {s}' for s, n in sorted(counts.items())) or 'none launched yet'}); backfill {backfill.status.value.lower()}")
            next_progress = time.monotonic() + progress_every_s
        if (backfill.status in BULK_ACTION_TERMINAL_STATUSES and finished) or time.monotonic() > deadline:
            # get_runs lists the newest first: a retried partition reports its last run.
            return BackfillOutcome(backfill.status.value, {k: r.status.value for r in reversed(runs) for k in files_of_run(instance, r) or [r.run_id]})
        time.sleep(poll_s)
