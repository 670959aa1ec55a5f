"""Backups of both stores to S3: incremental, consistent, verified.

Each backup run makes one snapshot: `lancedb_backup` under the `lancedb` pool and `kuzu_backup`
(checkpointed) under the `kuzu` pool, so no pipeline write runs while a store is copied. The S3
target (endpoint, bucket, prefix, credentials profile) is the home's configuration."""

import time
from pathlib import Path

import dagster as dg

from vcf_pipeline.defs.metadata import byte_count
from vcf_pipeline.defs.resources import PipelineSettings
from vcf_pipeline.lib.backup.s3_errors import S3SettingsError, describe_s3_error
from vcf_pipeline.lib.backup.snapshots import new_snapshot_id, scan_folder
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.stores.graph_copy import STAGING_PREFIX
from vcf_pipeline.lib.stores.graph_owner import MARKER as OWNER_MARKER

S3_RETRIES = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)


def _snapshot_id(context: dg.AssetExecutionContext) -> str:
    # The two assets of a run share it: one snapshot per backup run.
    record = context.instance.get_run_record_by_id(context.run_id)
    return new_snapshot_id(record.create_timestamp.timestamp(), context.run_id[:8])


def _back_up(context, home: Settings, store: str, root, files, tables, **extra) -> dg.MaterializeResult:
    started = time.perf_counter()
    try:
        snapshots = home.snapshot_bucket()
        manifest = snapshots.back_up(_snapshot_id(context), store, files, root, tables)
        # Retention: only complete snapshots count, so this run's (half-written until its other store
        # is done) is never pruned; nor are blobs of a backup still uploading (grace period).
        dropped, blobs = snapshots.prune(home["backup.keep"])
    except S3SettingsError as exc:
        raise dg.Failure(f"{store}_backup: {exc}", allow_retries=False) from exc
    except Exception as exc:
        message = describe_s3_error(exc, home["s3.endpoint"], home["s3.bucket"])
        if message is None:
            raise
        raise dg.Failure(f"{store}_backup: {message}") from exc
    return dg.MaterializeResult(
        metadata={
            "snapshot_id": manifest.snapshot_id,
            **byte_count("bytes_uploaded", manifest.uploaded_bytes),
            **byte_count("bytes_reused", manifest.reused_bytes),
            "files_uploaded": manifest.uploaded_files,
            "files": len(manifest.files),
            **byte_count("snapshot_bytes", manifest.size),
            "tables": dg.MetadataValue.json(manifest.tables),
            "snapshots_pruned": len(dropped),
            "blobs_pruned": blobs,
            "duration_seconds": round(time.perf_counter() - started, 3),
            **extra,
        }
    )


@dg.asset(group_name="backup", kinds={"s3", "lancedb"}, pool="lancedb", retry_policy=S3_RETRIES)
def lancedb_backup(context: dg.AssetExecutionContext, settings: PipelineSettings):
    """The LanceDB folder in S3: the files the bucket lacks, then the manifest with table versions
    and row counts. Under the `lancedb` pool no write runs meanwhile, so the copy is one version.
    A LanceDB already in object storage is not copied: its manifest records the table versions of the
    snapshot (LanceDB keeps old versions until they are cleaned up), and `restore` refuses it by name."""
    home = settings.current()
    store = home.variant_store()
    if "://" in store.uri:
        return _back_up(context, home, "lancedb", Path("."), [], store.table_stats(),
                        object_store=f"{store.uri}: table versions recorded, files left where they are")
    root = Path(store.uri)
    return _back_up(context, home, "lancedb", root, scan_folder(root), store.table_stats())


@dg.asset(group_name="backup", kinds={"s3", "kuzu"}, pool="kuzu", retry_policy=S3_RETRIES)
def kuzu_backup(context: dg.AssetExecutionContext, settings: PipelineSettings):
    """The Kuzu database in S3, checkpointed first if a write-ahead log was left (the file alone is
    then consistent); leftover staging folders of killed loads are not copied."""
    home = settings.current()
    graph = home.graph_store()
    graph.checkpoint()
    root = graph.path.parent
    files = scan_folder(root, skip=lambda path: path.startswith(STAGING_PREFIX) or path.endswith(".lock") or path == OWNER_MARKER)
    return _back_up(context, home, "kuzu", root, files, graph.counts() if graph.path.exists() else {})
