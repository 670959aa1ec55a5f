import json

import dagster as dg

from vcf_pipeline.defs.backup import jobs
from vcf_pipeline.defs.resources import settings_at_load

_home = settings_at_load()


@dg.sensor(
    job=jobs.backup_job,
    minimum_interval_seconds=_home["backup.after_change_s"],
    default_status=dg.DefaultSensorStatus.RUNNING if _home["s3.bucket"] else dg.DefaultSensorStatus.STOPPED,
    description="Requests a backup when an ingest or retraction changed the stores since it last checked.",
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
    requested = json.loads(context.cursor) if context.cursor else {}
    if latest == requested or not any(latest.values()):
        return dg.SkipReason("no store change since the last backup request")
    marker = "-".join(str(latest[k]) for k in sorted(latest))
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"after-{marker}")], cursor=json.dumps(latest))
