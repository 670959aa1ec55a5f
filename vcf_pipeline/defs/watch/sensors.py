"""The folder sensor: keeps the partitions (and so the stores) in step with the watched folders."""

import dagster as dg

# Modules, not their jobs: a job imported by name here would be loaded twice from the defs folder.
from vcf_pipeline.defs.ingest import jobs, retraction
from vcf_pipeline.defs.ingest.partitions import vcf_files
from vcf_pipeline.defs.resources import PipelineSettings, settings_at_load
from vcf_pipeline.instance.run_files import RANGE_END, RANGE_START, files_of_run
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.watch.changes import FileChange, WatchState, scan_for_changes
from vcf_pipeline.lib.watch.run_groups import run_groups


def _parsed_content(home: Settings):
    return lambda key: home.partition_files(key).parsed_content()


def _file_run(change: FileChange, kind: str) -> dg.RunRequest:
    return dg.RunRequest(
        job_name=jobs.ingest_job.name,
        partition_key=change.partition_key,
        run_key=change.run_key,
        tags={"vcf_pipeline/change": kind, "vcf_pipeline/sha256": change.sha256},
    )


def _group_run(group: list[FileChange]) -> dg.RunRequest:
    """One run over new files added one after another: a range of partition keys."""
    first, last = group[0], group[-1]
    return dg.RunRequest(
        job_name=jobs.ingest_job.name,
        run_key=f"group|{first.run_key}|{last.run_key}",
        tags={RANGE_START: first.partition_key, RANGE_END: last.partition_key, "vcf_pipeline/change": "new", "vcf_pipeline/files": str(len(group))},
    )


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
        parsed_content=_parsed_content(home),
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

    runs = [_file_run(change, "changed") for change in changes.changed]
    sizes = [(c.partition_key, changes.state.files[c.partition_key].size) for c in changes.new]
    by_key = {c.partition_key: c for c in changes.new}
    for group in run_groups(sizes, home["ingest.files_per_run"], int(home["ingest.group_mb"] * 2**20)):
        runs.append(_file_run(by_key[group[0]], "new") if len(group) == 1 else _group_run([by_key[k] for k in group]))
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


@dg.run_failure_sensor(
    request_job=jobs.ingest_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs each file of a failed group of files again on its own, so that only the bad file's partition fails.",
)
def split_failed_groups(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    if RANGE_START not in run.tags or run.tags.get("vcf_pipeline/split_from"):
        return
    group = files_of_run(context.instance, run)
    context.log.info(f"run {run.run_id[:8]} failed over {len(group)} files: running each again alone")
    for key in group:
        yield dg.RunRequest(
            partition_key=key,
            run_key=f"split|{run.run_id}|{key}",
            tags={"vcf_pipeline/change": "retried alone", "vcf_pipeline/split_from": run.run_id},
        )
