"""The latest snapshot of each store is whole in the bucket."""

import dagster as dg

from vcf_pipeline.defs.resources import PipelineSettings


def _latest_manifest_matches_bucket(store: str, settings: PipelineSettings) -> dg.AssetCheckResult:
    snapshots = settings.current().snapshot_bucket()
    manifest = snapshots.latest_manifest(store)
    if manifest is None:
        return dg.AssetCheckResult(passed=False, metadata={"problem": "no manifest in the bucket"})
    missing = snapshots.missing_objects(manifest)
    return dg.AssetCheckResult(
        passed=not missing,
        metadata={"snapshot_id": manifest.snapshot_id, "files": len(manifest.files), "missing_or_wrong_size": ", ".join(missing[:20]) or "none"},
    )


@dg.asset_check(asset="lancedb_backup", description="Every file the latest LanceDB manifest lists is in the bucket, at its size.")
def lancedb_backup_objects_present(settings: PipelineSettings) -> dg.AssetCheckResult:
    return _latest_manifest_matches_bucket("lancedb", settings)


@dg.asset_check(asset="kuzu_backup", description="Every file the latest Kuzu manifest lists is in the bucket, at its size.")
def kuzu_backup_objects_present(settings: PipelineSettings) -> dg.AssetCheckResult:
    return _latest_manifest_matches_bucket("kuzu", settings)
