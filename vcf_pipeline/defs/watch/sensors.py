"""The folder sensor: keeps the partitions (and so the stores) in step with the watched folders."""

import dagster as dg

# Modules, not their jobs: a job imported by name here would be loaded twice from the defs folder.
from vcf_pipeline.defs.ingest import jobs, retraction
from vcf_pipeline.defs.ingest.partitions import vcf_files
from vcf_pipeline.defs.resources import PipelineSettings, settings_at_load
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.watch.changes import WatchState, scan_for_changes


def _parsed_content(home: Settings):
    return lambda key: home.partition_files(key).parsed_content()


@dg.sensor(
    jobs=[jobs.ingest_job, retraction.retract_vcf_files],
    minimum_interval_seconds=settings_at_load()["watch.sensor_interval_s"],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Registers new VCF files in the watched folders, re-runs changed ones and retracts deleted ones.",
)
def vcf_folder_sensor(context: dg.SensorEvaluationContext, settings: PipelineSettings) -> dg.SensorResult:
    home = settings.current()
    sources = home.source_folders()
    registered = set(context.instance.get_dynamic_partitions(vcf_files.name))
    changes = scan_for_changes(
        sources,
        WatchState.loads(context.cursor),
        registered,
        parsed_sha256=_parsed_content(home),
        settle_s=home["watch.settle_s"],
        max_files=home["watch.max_files_per_tick"],
        max_hash_s=home["watch.max_hash_s_per_tick"],
    )
    for name, why in changes.missing_sources:
        context.log.warning(f"source {name!r}: {why}; skipped (nothing retracted)")
    for shown in changes.refused:
        context.log.warning(f"{shown}: symlink leads outside its source folder; not followed")
    if changes.adopted:
        context.log.info(f"{len(changes.adopted)} files already ingested with this content; no run: {', '.join(changes.adopted[:20])}")

    runs = [
        dg.RunRequest(
            job_name=jobs.ingest_job.name,
            partition_key=change.partition_key,
            run_key=change.run_key,
            tags={"vcf_pipeline/change": kind, "vcf_pipeline/sha256": change.sha256},
        )
        for kind, batch in (("new", changes.new), ("changed", changes.changed))
        for change in batch
    ]
    partition_requests = []
    if changes.new:
        partition_requests.append(vcf_files.build_add_request([c.partition_key for c in changes.new]))
    if changes.deleted:
        partition_requests.append(vcf_files.build_delete_request(changes.deleted))
        changes.state.revision += 1
        runs.append(
            dg.RunRequest(
                job_name=retraction.retract_vcf_files.name,
                run_key=f"retract|r{changes.state.revision}",
                run_config=retraction.retraction_run_config(changes.deleted),
                tags={"vcf_pipeline/change": "deleted", "vcf_pipeline/files": str(len(changes.deleted))},
            )
        )
    waiting = f"; {len(changes.settling)} still being written" if changes.settling else ""
    deferred = f"; {changes.deferred} left for the next tick" if changes.deferred else ""
    summary = f"{changes.listed} files listed: {len(changes.new)} new, {len(changes.changed)} changed, {len(changes.deleted)} deleted{waiting}{deferred}"
    if not changes.requests_nothing:
        context.log.info(summary)
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=partition_requests,
        cursor=changes.state.dumps(),
        skip_reason=summary if changes.requests_nothing else None,
    )
