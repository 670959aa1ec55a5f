import dagster as dg

from vcf_pipeline.defs.backup import jobs
from vcf_pipeline.defs.resources import settings_at_load

_home = settings_at_load()

backup_schedule = dg.ScheduleDefinition(
    job=jobs.backup_job,
    cron_schedule=_home["backup.cron"],
    default_status=dg.DefaultScheduleStatus.RUNNING if _home["s3.bucket"] else dg.DefaultScheduleStatus.STOPPED,
    description="Snapshot of both stores (backup.cron; on when the home's configuration names an S3 bucket).",
)
