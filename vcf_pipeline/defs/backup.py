"""Backups of both stores to S3 (dagster-aws S3Resource): incremental, consistent, verified.

Each backup run makes one snapshot: `lancedb_backup` under the `lancedb` pool and `kuzu_backup`
(checkpointed) under the `kuzu` pool, so no pipeline write runs while a store is copied."""

import json
import os
import time
from pathlib import Path

import dagster as dg
from dagster_aws.s3 import S3Resource

from vcf_pipeline.defs.resources import PipelineSettings
from vcf_pipeline.lib.s3_errors import S3SettingsError, describe_s3_error
from vcf_pipeline.lib.s3_sync import SnapshotBucket, new_snapshot_id, scan_folder

BACKUP_TAG = "vcf_pipeline/backup"
S3_RETRIES = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)


class BackupTarget(dg.ConfigurableResource):
    """Where snapshots go (`VCF_PIPELINE_S3_BUCKET`, `VCF_PIPELINE_S3_PREFIX`) and how many stay."""

    bucket: str
    prefix: str = "vcf-pipeline"
    keep: int = 24

    def snapshots(self, s3: S3Resource) -> SnapshotBucket:
        return SnapshotBucket(s3.get_client(), self.bucket, self.prefix)


def _env(name: str, resolve: bool, default=None):
    """The variable's value (resolve, for the command line) or an EnvVar (for Dagster, which then
    shows where the value came from); `default` when it is unset."""
    if not os.environ.get(name):
        return default
    return os.environ[name] if resolve else dg.EnvVar(name)


def s3_from_env(resolve: bool = False) -> S3Resource:
    """S3 or any S3-compatible store: `VCF_PIPELINE_S3_ENDPOINT` (unset for AWS) and the standard
    AWS variables (unset: boto3's usual credential chain)."""
    return S3Resource(
        endpoint_url=_env("VCF_PIPELINE_S3_ENDPOINT", resolve),
        region_name=_env("AWS_REGION", resolve, "us-east-1"),
        aws_access_key_id=_env("AWS_ACCESS_KEY_ID", resolve),
        aws_secret_access_key=_env("AWS_SECRET_ACCESS_KEY", resolve),
        max_attempts=3,
    )


def backup_target_from_env(resolve: bool = False) -> BackupTarget:
    keep = os.environ.get("VCF_PIPELINE_BACKUP_KEEP")
    return BackupTarget(
        bucket=_env("VCF_PIPELINE_S3_BUCKET", resolve) or dg.EnvVar("VCF_PIPELINE_S3_BUCKET"),
        prefix=_env("VCF_PIPELINE_S3_PREFIX", resolve, "vcf-pipeline"),
        keep=int(keep) if keep else 24,
    )


def _snapshot_id(context: dg.AssetExecutionContext) -> str:
    # Both assets of a run share it: one snapshot per backup run.
    record = context.instance.get_run_record_by_id(context.run_id)
    return new_snapshot_id(record.create_timestamp.timestamp(), context.run_id[:8])


def _back_up(context, backup_target: BackupTarget, s3: S3Resource, store: str, root, files, tables) -> dg.MaterializeResult:
    started = time.perf_counter()
    try:
        snapshots = backup_target.snapshots(s3)
        manifest = snapshots.back_up(_snapshot_id(context), store, files, root, tables)
        # Retention: only complete snapshots count, so this run's (half-written until its other store
        # is done) is never pruned; nor are blobs of a backup still uploading (grace period).
        dropped, blobs = snapshots.prune(backup_target.keep)
    except S3SettingsError as exc:
        raise dg.Failure(f"{store}_backup: {exc}", allow_retries=False) from exc
    except Exception as exc:
        message = describe_s3_error(exc, s3.endpoint_url, backup_target.bucket)
        if message is None:
            raise
        raise dg.Failure(f"{store}_backup: {message}") from exc
    return dg.MaterializeResult(
        metadata={
            "snapshot_id": manifest.snapshot_id,
            "bytes_uploaded": manifest.uploaded_bytes,
            "bytes_reused": manifest.reused_bytes,
            "files_uploaded": manifest.uploaded_files,
            "files": len(manifest.files),
            "snapshot_bytes": manifest.size,
            "tables": dg.MetadataValue.json(manifest.tables),
            "snapshots_pruned": len(dropped),
            "blobs_pruned": blobs,
            "duration_seconds": round(time.perf_counter() - started, 3),
        }
    )


@dg.asset(group_name="backup", kinds={"s3", "lancedb"}, pool="lancedb", retry_policy=S3_RETRIES)
def lancedb_backup(context: dg.AssetExecutionContext, settings: PipelineSettings, backup_target: BackupTarget, s3: S3Resource):
    """The LanceDB folder in S3: the files the bucket lacks, then the manifest with table versions
    and row counts. Under the `lancedb` pool no write runs meanwhile, so the copy is one version."""
    store = settings.variant_store()
    if "://" in store.uri:
        raise dg.Failure(f"LanceDB lives in object storage ({store.uri}); back it up there, not from here")
    root = Path(store.uri)
    tables = store.table_stats()
    return _back_up(context, backup_target, s3, "lancedb", root, scan_folder(root), tables)


@dg.asset(group_name="backup", kinds={"s3", "kuzu"}, pool="kuzu", retry_policy=S3_RETRIES)
def kuzu_backup(context: dg.AssetExecutionContext, settings: PipelineSettings, backup_target: BackupTarget, s3: S3Resource):
    """The Kuzu database in S3, checkpointed first if a write-ahead log was left (the file alone is
    then consistent); leftover staging folders of killed loads are not copied."""
    graph = settings.graph_store()
    graph.checkpoint()
    root = graph.path.parent
    files = scan_folder(root, skip=lambda path: path.startswith("staging-") or path.endswith(".lock"))
    return _back_up(context, backup_target, s3, "kuzu", root, files, graph.counts() if graph.path.exists() else {})


def _latest_manifest_matches_bucket(store: str, backup_target: BackupTarget, s3: S3Resource) -> dg.AssetCheckResult:
    snapshots = backup_target.snapshots(s3)
    manifest = snapshots.latest_manifest(store)
    if manifest is None:
        return dg.AssetCheckResult(passed=False, metadata={"problem": "no manifest in the bucket"})
    missing = snapshots.missing_objects(manifest)
    return dg.AssetCheckResult(
        passed=not missing,
        metadata={"snapshot_id": manifest.snapshot_id, "files": len(manifest.files), "missing_or_wrong_size": ", ".join(missing[:20]) or "none"},
    )


@dg.asset_check(asset=lancedb_backup, description="Every file the latest LanceDB manifest lists is in the bucket, at its size.")
def lancedb_backup_objects_present(backup_target: BackupTarget, s3: S3Resource) -> dg.AssetCheckResult:
    return _latest_manifest_matches_bucket("lancedb", backup_target, s3)


@dg.asset_check(asset=kuzu_backup, description="Every file the latest Kuzu manifest lists is in the bucket, at its size.")
def kuzu_backup_objects_present(backup_target: BackupTarget, s3: S3Resource) -> dg.AssetCheckResult:
    return _latest_manifest_matches_bucket("kuzu", backup_target, s3)


backup_assets = [lancedb_backup, kuzu_backup]
backup_checks = [lancedb_backup_objects_present, kuzu_backup_objects_present]
backup_job = dg.define_asset_job("backup_stores", selection=backup_assets, tags={BACKUP_TAG: "snapshot"})

_s3_configured = bool(os.environ.get("VCF_PIPELINE_S3_BUCKET"))
_automatic = dg.DefaultScheduleStatus.RUNNING if _s3_configured else dg.DefaultScheduleStatus.STOPPED

backup_schedule = dg.ScheduleDefinition(
    job=backup_job,
    cron_schedule=os.environ.get("VCF_PIPELINE_BACKUP_CRON", "0 * * * *"),
    default_status=_automatic,
    description="Hourly snapshot of both stores (on when VCF_PIPELINE_S3_BUCKET is set).",
)


@dg.sensor(
    job=backup_job,
    minimum_interval_seconds=int(os.environ.get("VCF_PIPELINE_BACKUP_AFTER_S", "300")),
    default_status=dg.DefaultSensorStatus.RUNNING if _s3_configured else dg.DefaultSensorStatus.STOPPED,
    description="Requests a backup when an ingest or retraction changed the stores since the last look.",
)
def backup_after_changes(context: dg.SensorEvaluationContext):
    latest = {}
    for asset in ("lancedb_variants", "kuzu_graph"):
        records = context.instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
        latest[asset] = records[0].storage_id if records else 0
    retractions = context.instance.get_run_records(
        dg.RunsFilter(job_name="retract_vcf_files", statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1
    )
    latest["retract"] = retractions[0].storage_id if retractions else 0
    seen = json.loads(context.cursor) if context.cursor else {}
    if latest == seen or not any(latest.values()):
        return dg.SkipReason("no store change since the last backup request")
    marker = "-".join(str(latest[k]) for k in sorted(latest))
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"after-{marker}")], cursor=json.dumps(latest))

