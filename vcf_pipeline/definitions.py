"""Everything Dagster loads: assets (with their checks), jobs, the folder sensor and resources."""

import os
import warnings

import dagster as dg

from vcf_pipeline.defs.backup import (
    backup_after_changes,
    backup_assets,
    backup_checks,
    backup_job,
    backup_schedule,
    backup_target_from_env,
    s3_from_env,
)
from vcf_pipeline.defs.ingest import ingest_assets, ingest_job
from vcf_pipeline.defs.resources import default_resources
from vcf_pipeline.defs.retract import retract_vcf_files
from vcf_pipeline.defs.sensors import vcf_folder_sensor

# The code server and run workers write the stores and the warehouse: owner-only, like the home
# itself (genotypes are personal data), whichever way Dagster was started.
os.umask(0o077)

# Dagster itself passes the beta `owners` parameter when it binds resources to a sensor's jobs.
warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition", category=dg.BetaWarning)

defs = dg.Definitions(
    assets=[*ingest_assets, *backup_assets],
    asset_checks=backup_checks,
    jobs=[ingest_job, retract_vcf_files, backup_job],
    schedules=[backup_schedule],
    sensors=[vcf_folder_sensor, backup_after_changes],
    resources={**default_resources(), "s3": s3_from_env(), "backup_target": backup_target_from_env()},
    # One process per run: on 2 cores, runs in parallel (max_concurrent_runs) keep the cores busy,
    # and a subprocess per step would re-import torch and reload the model for every step.
    executor=dg.in_process_executor,
)
