"""The folder sensor: keeps the partitions (and so the stores) in step with the watched folders."""

import os

import dagster as dg

from vcf_pipeline.defs.ingest import ingest_job
from vcf_pipeline.defs.partitions import vcf_files
from vcf_pipeline.defs.resources import FolderWatch, PipelineSettings
from vcf_pipeline.defs.retract import retract_vcf_files, retraction_run_config
from vcf_pipeline.lib.folder_watch import WatchState, look

SENSOR_INTERVAL_S = int(os.environ.get("VCF_PIPELINE_SENSOR_INTERVAL", "15"))


def _parsed_sha256(settings: PipelineSettings):
    def sha(key: str) -> str | None:
        files = settings.files(key)
        return files.source_info()["sha256"] if files.source.exists() else None

    return sha


@dg.sensor(
    jobs=[ingest_job, retract_vcf_files],
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Registers new VCF files in the watched folders, re-runs changed ones and retracts deleted ones.",
)
def vcf_folder_sensor(context: dg.SensorEvaluationContext, settings: PipelineSettings, folder_watch: FolderWatch) -> dg.SensorResult:
    sources = settings.sources()
    registered = set(context.instance.get_dynamic_partitions(vcf_files.name))
    seen = look(
        sources,
        WatchState.loads(context.cursor),
        registered,
        parsed_sha256=_parsed_sha256(settings),
        settle_s=folder_watch.settle_seconds,
        max_files=folder_watch.max_files_per_tick,
        max_hash_s=folder_watch.max_hash_seconds_per_tick,
    )
    for name in seen.missing_sources:
        context.log.warning(f"source {name!r}: folder {sources.folders[name]} does not exist; skipped (nothing retracted)")
    for shown in seen.refused:
        context.log.warning(f"{shown}: symlink leads outside its source folder; not followed")
    if seen.adopted:
        context.log.info(f"{len(seen.adopted)} files already ingested with this content; no run: {', '.join(seen.adopted[:20])}")

    runs = [
        dg.RunRequest(
            job_name=ingest_job.name,
            partition_key=change.partition_key,
            run_key=change.run_key,
            tags={"vcf_pipeline/change": kind, "vcf_pipeline/sha256": change.sha256},
        )
        for kind, changes in (("new", seen.new), ("changed", seen.changed))
        for change in changes
    ]
    partition_requests = []
    if seen.new:
        partition_requests.append(vcf_files.build_add_request([c.partition_key for c in seen.new]))
    if seen.deleted:
        partition_requests.append(vcf_files.build_delete_request(seen.deleted))
        seen.state.revision += 1
        runs.append(
            dg.RunRequest(
                job_name=retract_vcf_files.name,
                run_key=f"retract|r{seen.state.revision}",
                run_config=retraction_run_config(seen.deleted),
                tags={"vcf_pipeline/change": "deleted", "vcf_pipeline/files": str(len(seen.deleted))},
            )
        )
    waiting = f"; {len(seen.settling)} still being written" if seen.settling else ""
    deferred = f"; {seen.deferred} left for the next tick" if seen.deferred else ""
    summary = f"{seen.listed} files listed: {len(seen.new)} new, {len(seen.changed)} changed, {len(seen.deleted)} deleted{waiting}{deferred}"
    if not seen.requests_nothing:
        context.log.info(summary)
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=partition_requests,
        cursor=seen.state.dumps(),
        skip_reason=summary if seen.requests_nothing else None,
    )
